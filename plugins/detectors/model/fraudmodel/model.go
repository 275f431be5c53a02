// Package fraudmodel is gavel's identity-fraud model: a logistic regression
// over features read from a DetectRequest (email shape, claimed identity,
// account age, checkpoint, request context, payout attributes). The
// model file is JSON written by the trainer in ../train; Load validates it
// against the features this package computes, and Score explains each score
// with the features that moved it most. The detector main package embeds
// the shipped model and serves it.
package fraudmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Kind is the only model kind this package scores.
const Kind = "logistic_regression"

// Model is a logistic regression over standardised features:
// p = σ(intercept + Σ coef_i · (x_i − mean_i) / scale_i).
type Model struct {
	Version      string    `json:"version"`
	Kind         string    `json:"kind"`
	Features     []string  `json:"features"`
	Means        []float64 `json:"means"`
	Scales       []float64 `json:"scales"`
	Coefficients []float64 `json:"coefficients"`
	Intercept    float64   `json:"intercept"`
	// Threshold is the operating point the evaluation reports precision and
	// recall at; the policy draws its own bands on the score.
	Threshold float64  `json:"threshold"`
	Training  Training `json:"training"`
}

// Training records how a model was made, so it can be made again.
type Training struct {
	Generator  string  `json:"generator"`
	Seed       uint64  `json:"seed"`
	Accounts   int     `json:"accounts"`
	Train      int     `json:"train"`
	Test       int     `json:"test"`
	FraudRate  float64 `json:"fraud_rate"`
	LabelNoise float64 `json:"label_noise"`
	L2         float64 `json:"l2"`
	Iterations int     `json:"iterations"`
	TestAUC    float64 `json:"test_auc"`
	// Outcomes are labelled decisions exported from a ledger (gavel
	// outcomes export) added to the synthetic training set, each counted
	// OutcomeWeight times; OutcomesTest were held out to evaluate on.
	Outcomes      int `json:"outcomes,omitempty"`
	OutcomesTest  int `json:"outcomes_test,omitempty"`
	OutcomeWeight int `json:"outcome_weight,omitempty"`
}

// Load parses and validates a model file. Every problem is reported at once.
func Load(data []byte) (*Model, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Model
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parse model: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks that the model can score the features Extract computes.
func (m *Model) Validate() error {
	var errs []error
	if m.Version == "" {
		errs = append(errs, errors.New("version is empty"))
	}
	if m.Kind != Kind {
		errs = append(errs, fmt.Errorf("kind is %q, want %q", m.Kind, Kind))
	}
	if !slices.Equal(m.Features, FeatureNames) {
		errs = append(errs, fmt.Errorf("features %v do not match the %d this detector computes %v (retrain with make model)",
			m.Features, NumFeatures, FeatureNames))
	}
	for name, v := range map[string][]float64{"means": m.Means, "scales": m.Scales, "coefficients": m.Coefficients} {
		if len(v) != NumFeatures {
			errs = append(errs, fmt.Errorf("%s has %d values, want %d", name, len(v), NumFeatures))
		}
		for i, f := range v {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				errs = append(errs, fmt.Errorf("%s[%d] is not finite", name, i))
			}
		}
	}
	for i, s := range m.Scales {
		if s <= 0 {
			errs = append(errs, fmt.Errorf("scales[%d] is %v, want > 0", i, s))
		}
	}
	if math.IsNaN(m.Intercept) || math.IsInf(m.Intercept, 0) {
		errs = append(errs, errors.New("intercept is not finite"))
	}
	if !(m.Threshold > 0 && m.Threshold < 1) {
		errs = append(errs, fmt.Errorf("threshold is %v, want 0 < threshold < 1", m.Threshold))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid model: %w", errors.Join(errs...))
	}
	return nil
}

// Contribution is one feature's share of a score's log-odds.
type Contribution struct {
	Feature string
	Value   float64 // the raw feature value; NaN when Unknown
	// Contribution is coef × standardised value: how far this feature moved
	// the log-odds away from the average account's.
	Contribution float64
}

// Logit returns the log-odds of x. An Unknown (NaN) feature contributes 0.
func (m *Model) Logit(x []float64) float64 {
	z := m.Intercept
	for i := range x {
		z += m.contribution(x, i)
	}
	return z
}

func (m *Model) contribution(x []float64, i int) float64 {
	if math.IsNaN(x[i]) {
		return 0
	}
	return m.Coefficients[i] * (x[i] - m.Means[i]) / m.Scales[i]
}

// Score returns the fraud probability of x.
func (m *Model) Score(x []float64) float64 { return Sigmoid(m.Logit(x)) }

// Explain returns the top n contributions to x's score by magnitude,
// largest first (ties by feature order, so the result is stable).
func (m *Model) Explain(x []float64, n int) []Contribution {
	cs := make([]Contribution, len(x))
	for i, v := range x {
		cs[i] = Contribution{Feature: m.Features[i], Value: v, Contribution: m.contribution(x, i)}
	}
	slices.SortStableFunc(cs, func(a, b Contribution) int {
		return -cmpFloat(math.Abs(a.Contribution), math.Abs(b.Contribution))
	})
	return cs[:min(n, len(cs))]
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Sigmoid is the logistic function, stable for large |z|.
func Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}
