package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gavel/gavel/plugins/detectors/model/fraudmodel"
)

func TestTrainSmallSetSeparatesFraud(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.N = 4000
	_, _, e, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e.AUC <= 0.75 {
		t.Errorf("test AUC = %.4f, want > 0.75", e.AUC)
	}
	if e.Positives == 0 || e.Negatives == 0 {
		t.Errorf("test set has %d fraud and %d honest accounts, want both", e.Positives, e.Negatives)
	}
}

func TestTrainIsDeterministic(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.N = 2000
	m1, r1, _, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m2, r2, _, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m1, m2) || r1 != r2 {
		t.Error("two runs with the same seed wrote different files")
	}
	cfg.Seed++
	m3, _, _, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(m1, m3) {
		t.Error("a different seed wrote the same model")
	}
}

// TestShippedModelIsReproducible re-runs `make model` in memory and compares
// with the committed files: whoever changes the features, the generator or
// the trainer must retrain.
func TestShippedModelIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the full data set")
	}
	t.Parallel()
	modelJSON, report, _, err := train(defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"fraudmodel/model.json": modelJSON, "EVALUATION.md": []byte(report)} {
		got, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the trainer writes with the default seed: run make model", name)
		}
	}
}

func TestAUC(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ps   []float64
		ys   []float64
		want float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []float64{0, 1, 0, 1}, 0.5},
		{"one swap", []float64{0.1, 0.3, 0.2, 0.9}, []float64{0, 0, 1, 1}, 0.75},
	} {
		if got := evaluate(tc.ps, tc.ys, 0.5, nil).AUC; got != tc.want {
			t.Errorf("%s: AUC = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// outcomesFrom turns generated examples into exported outcomes, as gavel
// outcomes export writes them.
func outcomesFrom(exs []Example) []fraudmodel.Outcome {
	var out []fraudmodel.Outcome
	for i, ex := range exs {
		o := fraudmodel.Outcome{DecisionID: fmt.Sprintf("d-%05d", i), Label: fraudmodel.LabelHonest, Features: map[string]*float64{}}
		if ex.Fraud {
			o.Label = fraudmodel.LabelFraud
		}
		for j, v := range fraudmodel.Extract(ex.Req, time.Time{}) {
			if math.IsNaN(v) {
				o.Features[fraudmodel.FeatureNames[j]] = nil
				continue
			}
			o.Features[fraudmodel.FeatureNames[j]] = &v
		}
		if i%3 == 0 { // stored without created_at: the account's age unknown
			o.Features["account_age_log_days"] = nil
		}
		out = append(out, o)
	}
	return out
}

// TestTrainWithOutcomes: labelled outcomes train beside the synthetic set,
// a quarter is held out and evaluated in EVALUATION.md, and the result does
// not depend on the export's order.
func TestTrainWithOutcomes(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.N = 2000
	gen := cfg.GenConfig
	gen.Seed, gen.N = 99, 800
	cfg.Outcomes, cfg.OutcomesFile = outcomesFrom(Generate(gen)), "outcomes.jsonl"
	m1, r1, _, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Labelled outcomes from the ledger", "| outcomes | 800 ", "| held-out outcomes | AUC |"} {
		if !strings.Contains(r1, want) {
			t.Errorf("EVALUATION.md lacks %q:\n%s", want, r1[strings.Index(r1, "## Labelled"):])
		}
	}
	m, err := fraudmodel.Load(m1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Training.Outcomes+m.Training.OutcomesTest != 800 || m.Training.OutcomesTest < 150 || m.Training.OutcomeWeight != 5 {
		t.Errorf("model training = %+v, want 800 outcomes, about a quarter held out, weight 5", m.Training)
	}
	slices.Reverse(cfg.Outcomes)
	m2, r2, _, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m1, m2) || r1 != r2 {
		t.Error("the same outcomes in another order trained another model")
	}
	base := defaultConfig()
	base.N = 2000
	m3, r3, _, err := train(base)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(m1, m3) || !strings.Contains(r3, "None: this model learnt from the synthetic generator alone") {
		t.Error("outcomes changed nothing, or the report without them does not say so")
	}
}
