package phonerisk

import (
	"context"
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

type got struct {
	score    float64
	value    string
	evidence map[string]any
}

func detect(t testing.TB, phone, country string) map[string]got {
	t.Helper()
	req := &detectorv1.DetectRequest{
		Checkpoint: "signup",
		Subject:    &detectorv1.Subject{Id: "acct-1", Profile: &detectorv1.Profile{Phone: phone, Country: country}},
	}
	resp, err := New().Detect(context.Background(), req)
	if err != nil {
		t.Fatalf("Detect(%q) error: %v", phone, err)
	}
	out := map[string]got{}
	for _, s := range resp.GetSignals() {
		if s.GetScore() < 0 || s.GetScore() > 1 || s.GetConfidence() < 0 || s.GetConfidence() > 1 {
			t.Errorf("Detect(%q): %s score %v confidence %v out of 0..1", phone, s.GetName(), s.GetScore(), s.GetConfidence())
		}
		out[s.GetName()] = got{s.GetScore(), s.GetValue(), s.GetEvidence().AsMap()}
	}
	return out
}

// example returns libphonenumber's own example number of a type, in E.164.
func example(t testing.TB, region string, typ phonenumbers.PhoneNumberType) string {
	t.Helper()
	n := phonenumbers.GetExampleNumberForType(region, typ)
	if n == nil {
		t.Fatalf("no example %s number for %s", LineType(typ), region)
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

func TestDetect(t *testing.T) {
	t.Parallel()
	type want struct {
		name  string
		score float64
		value string
	}
	tests := []struct {
		phone, country string
		want           []want
	}{
		{"+33 6 12 34 56 78", "FR", []want{{SignalCountry, 0, "FR"}}},
		{"06 12 34 56 78", "FR", []want{{SignalCountry, 0, "FR"}}}, // national format, claimed country as region
		{"06 12 34 56 78", "fr", []want{{SignalCountry, 0, "FR"}}},
		{"+33 6 12 34 56 78", "DE", []want{{SignalCountry, 0, "FR"}, {SignalCountryMismatch, 1, "FR"}}},
		{"+1 650-253-0000", "US", []want{{SignalCountry, 0, "US"}}},
		{"+1 650-253-0000", "CA", []want{{SignalCountry, 0, "US"}, {SignalCountryMismatch, 1, "US"}}}, // shared +1
		{"+44 20 7946 0000", "", []want{{SignalCountry, 0, "GB"}}},
		{example(t, "GB", phonenumbers.VOIP), "GB", []want{{SignalVoIP, 1, "voip"}, {SignalCountry, 0, "GB"}}},
		{example(t, "GB", phonenumbers.PERSONAL_NUMBER), "GB", []want{{SignalVoIP, 0.8, "personal_number"}, {SignalCountry, 0, "GB"}}},
		{example(t, "FR", phonenumbers.PREMIUM_RATE), "FR", []want{{SignalVoIP, 0.7, "premium_rate"}, {SignalCountry, 0, "FR"}}},
		{example(t, "FR", phonenumbers.SHARED_COST), "FR", []want{{SignalVoIP, 0.6, "shared_cost"}, {SignalCountry, 0, "FR"}}},
		{"+800 1234 5678", "FR", []want{{SignalCountry, 0, ""}}}, // non-geographic: no country, no mismatch
		{"+33 6 12", "FR", []want{{SignalInvalid, 1, "invalid_length"}}},
		{"+33 0 00 00 00 00", "FR", []want{{SignalInvalid, 1, "invalid_number"}}},
		{"hello", "FR", []want{{SignalInvalid, 1, "not_a_number"}}},
		{"+999 123 456 789", "", []want{{SignalInvalid, 1, "invalid_country_code"}}},
		{"06 12 34 56 78", "", []want{{SignalInvalid, 0.3, "no_country_code"}}}, // ambiguous, below the firing threshold
		{"+33 6 12 34 56 78 90 12 34 56 78 90 12 34 56 78 90 12 34 56 78 90 12 34 56 78 90 12", "FR", []want{{SignalInvalid, 1, "too_long"}}},
		{"", "FR", nil},
		{"   ", "FR", nil},
	}
	for _, tt := range tests {
		sigs := detect(t, tt.phone, tt.country)
		var names, wantNames []string
		for n := range sigs {
			names = append(names, n)
		}
		for _, w := range tt.want {
			wantNames = append(wantNames, w.name)
			if g, ok := sigs[w.name]; !ok || g.score != w.score || g.value != w.value {
				t.Errorf("Detect(%q, %q): %s = %+v, want score %v value %q", tt.phone, tt.country, w.name, g, w.score, w.value)
			}
		}
		slices.Sort(names)
		slices.Sort(wantNames)
		if !slices.Equal(names, wantNames) {
			t.Errorf("Detect(%q, %q) signals = %v, want %v", tt.phone, tt.country, names, wantNames)
		}
	}
}

func TestDetectEvidence(t *testing.T) {
	t.Parallel()
	sigs := detect(t, example(t, "GB", phonenumbers.VOIP), "FR")
	if ev := sigs[SignalVoIP].evidence; ev["line_type"] != "voip" || ev["region"] != "GB" {
		t.Errorf("voip evidence = %v, want line_type voip, region GB", ev)
	}
	ev := sigs[SignalCountryMismatch].evidence
	if ev["claimed"] != "FR" || ev["observed"] != "GB" {
		t.Errorf("country_mismatch evidence = %v, want claimed FR, observed GB", ev)
	}
	if _, shared := ev["shared_country_code"]; shared {
		t.Errorf("country_mismatch evidence = %v: FR and GB share no calling code", ev)
	}
	if ev := detect(t, "+1 650-253-0000", "CA")[SignalCountryMismatch].evidence; ev["shared_country_code"] != true {
		t.Errorf("US number claimed CA: evidence = %v, want shared_country_code", ev)
	}
	// The reviewer sees the operator range, not the whole number.
	if p := detect(t, "+33 6 12 34 56 78", "FR")[SignalCountry].evidence["e164_prefix"]; p != "+33612••••••" {
		t.Errorf("e164_prefix = %v, want +33612••••••", p)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"signup", "profile_update", "payout_method_change", "withdrawal", "identity_verification"}
	if !slices.Equal(d.GetCheckpoints(), want) {
		t.Errorf("checkpoints = %v, want %v", d.GetCheckpoints(), want)
	}
}

func BenchmarkSignals(b *testing.B) {
	d := New()
	for b.Loop() {
		d.Signals("+33 6 12 34 56 78", "DE")
	}
}
