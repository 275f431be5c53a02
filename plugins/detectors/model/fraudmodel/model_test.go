package fraudmodel

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

func validModel() *Model {
	n := NumFeatures
	m := &Model{Version: "test", Kind: Kind, Features: FeatureNames, Threshold: 0.5,
		Means: make([]float64, n), Scales: make([]float64, n), Coefficients: make([]float64, n)}
	for i := range n {
		m.Scales[i] = 1
	}
	return m
}

func TestLoadRejectsBadModels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"no version", func(m map[string]any) { m["version"] = "" }, "version is empty"},
		{"other kind", func(m map[string]any) { m["kind"] = "gbdt" }, `kind is "gbdt"`},
		{"features renamed", func(m map[string]any) { m["features"].([]any)[0] = "x" }, "do not match"},
		{"short coefficients", func(m map[string]any) { m["coefficients"] = []any{1.0} }, "coefficients has 1 values"},
		{"zero scale", func(m map[string]any) { m["scales"].([]any)[2] = 0.0 }, "scales[2] is 0"},
		{"threshold", func(m map[string]any) { m["threshold"] = 1.5 }, "threshold is 1.5"},
		{"unknown field", func(m map[string]any) { m["trees"] = 3 }, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := json.Marshal(validModel())
			var raw map[string]any
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			tc.change(raw)
			data, _ = json.Marshal(raw)
			_, err := Load(data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Load([]byte("{")); err == nil {
		t.Error("Load(truncated JSON) succeeded")
	}
	data, _ := json.Marshal(validModel())
	if _, err := Load(data); err != nil {
		t.Errorf("Load(valid) = %v", err)
	}
}

func TestExtract(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 5, 1, 3, 0, 0, 0, time.UTC)
	attrs, _ := structpb.NewStruct(map[string]any{"payout": map[string]any{"method": "crypto", "country": "NG"}})
	req := &detectorv1.DetectRequest{
		Checkpoint: "withdrawal",
		Subject: &detectorv1.Subject{
			CreatedAt: timestamppb.New(now.Add(-48 * time.Hour)),
			Profile: &detectorv1.Profile{Email: "x9k2q7@mailinator.com", Country: "US", Phone: "+234 801 234 5678",
				GivenName: "Amelia"},
		},
		Context:    &detectorv1.Context{Ip: "2001:db8::1"},
		Attributes: attrs,
		Now:        timestamppb.New(now),
	}
	x := Extract(req, time.Time{})
	got := map[string]float64{}
	for i, name := range FeatureNames {
		got[name] = x[i]
	}
	want := map[string]float64{
		"email_missing": 0, "email_free": 0, "email_disposable_like": 1, "local_length": 6,
		"local_digit_ratio": 0.5, "name_present": 1, "name_in_email": 0, "phone_present": 1,
		"phone_country_mismatch": 1, "account_age_log_days": math.Log1p(2), "new_account_at_money": 1,
		"device_present": 0, "ip_present": 1, "ip_v6": 1, "payout_high_risk": 1, "payout_country_mismatch": 1,
		"document_present": 0, "checkpoint_withdrawal": 1, "checkpoint_signup": 0,
	}
	for name, w := range want {
		if math.Abs(got[name]-w) > 1e-9 {
			t.Errorf("Extract()[%s] = %v, want %v", name, got[name], w)
		}
	}
}

func TestPhoneCountryMismatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		phone, country string
		want           bool
	}{
		{"+14155550100", "CA", false},
		{"+14155550100", "FR", true},
		{"+33612345678", "FR", false},
		{"+2348012345678", "NG", false},
		{"+2348012345678", "US", true},
		{"0612345678", "FR", false}, // not E.164: unknown
		{"+99912345", "FR", false},  // unknown calling code
		{"+33612345678", "", false},
	} {
		if got := phoneCountryMismatch(tc.phone, tc.country); got != tc.want {
			t.Errorf("phoneCountryMismatch(%q, %q) = %v, want %v", tc.phone, tc.country, got, tc.want)
		}
	}
}

func TestExplainOrdersByMagnitude(t *testing.T) {
	t.Parallel()
	m := validModel()
	m.Coefficients[0], m.Coefficients[1], m.Coefficients[2] = 0.5, -2, 1
	x := make([]float64, NumFeatures)
	x[0], x[1], x[2] = 1, 1, 1
	top := m.Explain(x, 2)
	if len(top) != 2 || top[0].Feature != FeatureNames[1] || top[1].Feature != FeatureNames[2] {
		t.Errorf("Explain() = %+v, want %s then %s", top, FeatureNames[1], FeatureNames[2])
	}
	if got, want := m.Score(x), Sigmoid(-0.5); math.Abs(got-want) > 1e-12 {
		t.Errorf("Score() = %v, want %v", got, want)
	}
}

// A request that does not tell a feature is scored as the average account
// on it: no created_at and no email move nothing.
func TestUnknownFeaturesContributeNothing(t *testing.T) {
	t.Parallel()
	m := validModel()
	for i := range m.Coefficients {
		m.Coefficients[i] = 1
	}
	x := Extract(&detectorv1.DetectRequest{Checkpoint: "login"}, time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	for _, c := range m.Explain(x, NumFeatures) {
		switch c.Feature {
		case "account_age_log_days", "local_length", "local_entropy", "local_digit_ratio":
			if !math.IsNaN(c.Value) || c.Contribution != 0 {
				t.Errorf("%s = %v contributing %v, want unknown contributing 0", c.Feature, c.Value, c.Contribution)
			}
		}
	}
	if s := m.Score(x); math.IsNaN(s) {
		t.Errorf("Score() = NaN")
	}
}
