package fraudmodel

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Labels of an outcome.
const (
	LabelFraud  = "fraud"
	LabelHonest = "honest"
)

// Outcome is one labelled decision, one JSON line of the file `gavel
// outcomes export` writes and the trainer reads (make model
// OUTCOMES=file): the feature vector of a decision a reviewer confirmed
// (fraud) or overturned (honest) on appeal, without personal data.
type Outcome struct {
	DecisionID string    `json:"decision_id"`
	DecidedAt  time.Time `json:"decided_at"`
	Checkpoint string    `json:"checkpoint"`
	Label      string    `json:"label"`
	Source     string    `json:"source"`
	// Features are by FeatureNames; null is Unknown.
	Features map[string]*float64 `json:"features"`
}

// Vector returns the features in FeatureNames order. A name the outcome
// lacks is an error: it was exported for another feature set.
func (o Outcome) Vector() ([]float64, error) {
	x := make([]float64, NumFeatures)
	for i, n := range FeatureNames {
		v, ok := o.Features[n]
		switch {
		case !ok:
			return nil, fmt.Errorf("outcome %s has no feature %q: export again with this gavel", o.DecisionID, n)
		case v == nil:
			x[i] = Unknown
		default:
			x[i] = *v
		}
	}
	return x, nil
}

// IsFraud reports whether the outcome is labelled fraud.
func (o Outcome) IsFraud() bool { return o.Label == LabelFraud }

// ReadOutcomes reads an export.
func ReadOutcomes(r io.Reader) ([]Outcome, error) {
	var out []Outcome
	dec := json.NewDecoder(r)
	for line := 1; ; line++ {
		var o Outcome
		if err := dec.Decode(&o); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("outcome %d: %w", line, err)
		}
		if o.Label != LabelFraud && o.Label != LabelHonest {
			return nil, fmt.Errorf("outcome %d (%s): label %q is neither %q nor %q", line, o.DecisionID, o.Label, LabelFraud, LabelHonest)
		}
		out = append(out, o)
	}
}
