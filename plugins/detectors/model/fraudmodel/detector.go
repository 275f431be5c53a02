package fraudmodel

import (
	"context"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// SignalFraudScore is the model's signal; the policy bands its score.
const SignalFraudScore = "model.fraud_score"

// topFeatures is how many contributions a signal's evidence carries.
const topFeatures = 5

// confidence is what the model claims about its own scores: calibrated on
// synthetic data, so less than a rule that looked something up.
const confidence = 0.6

// Detector scores every request with a model. It is safe for concurrent use.
type Detector struct {
	m   *Model
	now func() time.Time
}

// NewDetector returns a detector scoring with m.
func NewDetector(m *Model) *Detector { return &Detector{m: m, now: time.Now} }

// Describe implements sdk.Detector: one signal, at every checkpoint.
func (d *Detector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	return &detectorv1.DescribeResponse{
		Name:          "model",
		Version:       d.m.Version,
		Signals:       []string{SignalFraudScore},
		LatencyBudget: durationpb.New(20 * time.Millisecond),
	}, nil
}

// Detect implements sdk.Detector.
func (d *Detector) Detect(_ context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	return &detectorv1.DetectResponse{Signals: []*detectorv1.Signal{d.Signal(req)}}, nil
}

// Signal scores one request: the score is the calibrated probability, the
// value the model version, the evidence the top contributions.
func (d *Detector) Signal(req *detectorv1.DetectRequest) *detectorv1.Signal {
	x := Extract(req, d.now())
	top := d.m.Explain(x, topFeatures)
	feats := make([]any, len(top))
	for i, c := range top {
		var value any = round(c.Value, 4)
		if math.IsNaN(c.Value) {
			value = "unknown"
		}
		feats[i] = map[string]any{
			"feature":      c.Feature,
			"value":        value,
			"contribution": round(c.Contribution, 4),
		}
	}
	return sdk.NewSignal(SignalFraudScore, round(d.m.Score(x), 4), d.m.Version, map[string]any{
		"top_features": feats,
		"model":        d.m.Version,
		"logit":        round(d.m.Logit(x), 4),
	}, confidence)
}

func round(f float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(f*p) / p
}
