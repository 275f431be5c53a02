package geoip

import (
	"context"
	"os"
	"slices"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

const testHosting = `
# test list
AS15169 Google
org hosting
`

func testDetector(t testing.TB) *Detector {
	t.Helper()
	h, err := ParseHosting(testHosting)
	if err != nil {
		t.Fatal(err)
	}
	return New(fixtureDB(t), h, "test")
}

type got struct {
	score    float64
	value    string
	evidence map[string]any
}

func detect(t testing.TB, d *Detector, ip, country, docCountry string) map[string]got {
	t.Helper()
	req := &detectorv1.DetectRequest{
		Checkpoint: "signup",
		Subject:    &detectorv1.Subject{Id: "acct-1", Profile: &detectorv1.Profile{Country: country}},
		Context:    &detectorv1.Context{Ip: ip},
	}
	if docCountry != "" {
		attrs, err := structpb.NewStruct(map[string]any{"document": map[string]any{"country": docCountry, "kind": "passport"}})
		if err != nil {
			t.Fatal(err)
		}
		req.Attributes = attrs
	}
	resp, err := d.Detect(context.Background(), req)
	if err != nil {
		t.Fatalf("Detect(%s) error: %v", ip, err)
	}
	out := map[string]got{}
	for _, s := range resp.GetSignals() {
		if s.GetScore() < 0 || s.GetScore() > 1 || s.GetConfidence() < 0 || s.GetConfidence() > 1 {
			t.Errorf("Detect(%s): %s score %v confidence %v out of 0..1", ip, s.GetName(), s.GetScore(), s.GetConfidence())
		}
		out[s.GetName()] = got{s.GetScore(), s.GetValue(), s.GetEvidence().AsMap()}
	}
	return out
}

func TestDetect(t *testing.T) {
	t.Parallel()
	d := testDetector(t)
	type want struct {
		name  string
		score float64
		value string
	}
	tests := []struct {
		ip, country, doc string
		want             []want
	}{
		{"8.8.8.8", "US", "", []want{{SignalIPCountry, 0, "US"}, {SignalHostingASN, 1, "AS15169"}}},
		{"8.8.8.8", "FR", "", []want{{SignalIPCountry, 0, "US"}, {SignalHostingASN, 1, "AS15169"}, {SignalCountryMismatch, 1, "US"}}},
		{"1.0.0.1", "au", "", []want{{SignalIPCountry, 0, "AU"}}}, // claimed country is case-insensitive
		{"1.0.0.1", "", "", []want{{SignalIPCountry, 0, "AU"}}},   // nothing claimed, nothing to mismatch
		{"1.0.0.1", "AU", "NZ", []want{{SignalIPCountry, 0, "AU"}, {SignalCountryMismatch, 1, "AU"}}},
		{"1.0.0.1", "", "nz", []want{{SignalIPCountry, 0, "AU"}, {SignalCountryMismatch, 1, "AU"}}},
		{"11.20.1.1", "DE", "", []want{{SignalIPCountry, 0, "DE"}, {SignalHostingASN, 1, "AS64500"}}}, // org pattern
		{"2a01:4f8::1", "DE", "", []want{{SignalIPCountry, 0, "DE"}}},                                 // not on the test list
		{"192.0.2.10", "FR", "", []want{{SignalIPCountry, 0, ""}}},                                    // documentation: unknown, no mismatch
		{"10.1.2.3", "FR", "", []want{{SignalIPCountry, 0, ""}}},                                      // private
		{"::1", "FR", "", []want{{SignalIPCountry, 0, ""}}},
		{"", "FR", "", nil},
		{"not-an-ip", "FR", "", nil},
	}
	for _, tt := range tests {
		sigs := detect(t, d, tt.ip, tt.country, tt.doc)
		var names []string
		for n := range sigs {
			names = append(names, n)
		}
		slices.Sort(names)
		var wantNames []string
		for _, w := range tt.want {
			wantNames = append(wantNames, w.name)
			if g, ok := sigs[w.name]; !ok || g.score != w.score || g.value != w.value {
				t.Errorf("Detect(%s, claimed %q, document %q): %s = %+v, want score %v value %q", tt.ip, tt.country, tt.doc, w.name, g, w.score, w.value)
			}
		}
		slices.Sort(wantNames)
		if !slices.Equal(names, wantNames) {
			t.Errorf("Detect(%s, claimed %q, document %q) signals = %v, want %v", tt.ip, tt.country, tt.doc, names, wantNames)
		}
	}
}

func TestDetectEvidence(t *testing.T) {
	t.Parallel()
	d := testDetector(t)
	sigs := detect(t, d, "8.8.8.8", "FR", "DE")
	if ev := sigs[SignalIPCountry].evidence; ev["asn"] != "AS15169" || ev["as_org"] != "Google LLC" {
		t.Errorf("ip_country evidence = %v, want asn AS15169, as_org Google LLC", ev)
	}
	if ev := sigs[SignalHostingASN].evidence; ev["match"] != "asn" || ev["provider"] != "Google" {
		t.Errorf("hosting_asn evidence = %v, want an ASN match on Google", ev)
	}
	ev := sigs[SignalCountryMismatch].evidence
	if ev["claimed"] != "FR" || ev["observed"] != "US" || ev["document_country"] != "DE" {
		t.Errorf("country_mismatch evidence = %v, want claimed FR, observed US, document_country DE", ev)
	}
	if m, _ := ev["mismatched"].([]any); len(m) != 2 {
		t.Errorf("country_mismatch mismatched = %v, want profile and document", ev["mismatched"])
	}
	if ev := detect(t, d, "192.0.2.1", "", "")[SignalIPCountry].evidence; ev["unknown"] != "not_in_database" {
		t.Errorf("documentation address evidence = %v, want unknown: not_in_database", ev)
	}
	if ev := detect(t, d, "10.0.0.1", "", "")[SignalIPCountry].evidence; ev["unknown"] != "private" {
		t.Errorf("private address evidence = %v, want unknown: private", ev)
	}
}

func TestParseHosting(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "# only comments\n", "AS0 Nobody\n", "ASx Cloud\n", "AS123\n", "org\n", "16509 Amazon\n"} {
		if _, err := ParseHosting(bad); err == nil {
			t.Errorf("ParseHosting(%q) succeeded, want an error", bad)
		}
	}
	h, err := ParseHosting("AS16509 Amazon Web Services\norg Hosting\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		asn  uint32
		org  string
		want bool
	}{
		{16509, "", true}, {1, "Acme Web HOSTING Ltd", true}, {1, "Deutsche Telekom AG", false}, {0, "", false},
	} {
		if _, ok := h.Match(tt.asn, tt.org); ok != tt.want {
			t.Errorf("Match(%d, %q) = %v, want %v", tt.asn, tt.org, ok, tt.want)
		}
	}
}

// TestShippedHostingList parses the curated list and checks its ASNs against
// the shipped database's organisation names.
func TestShippedHostingList(t *testing.T) {
	t.Parallel()
	h := shippedHosting(t)
	if len(h.asns) < 30 {
		t.Errorf("hosting list has %d ASNs, want the major providers", len(h.asns))
	}
	for _, want := range []uint32{16509, 396982, 8075, 16276, 24940, 14061, 63949, 20473} {
		if _, ok := h.asns[want]; !ok {
			t.Errorf("hosting list lacks AS%d", want)
		}
	}
	f, err := os.Open("../data/geo.db.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	db, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	for asn, provider := range h.asns {
		if db.org(asn) == "" {
			t.Errorf("hosting list: AS%d (%s) has no organisation in the shipped database", asn, provider)
		}
	}
}
