package iddoc

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestSimilarity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		docGiven, docFam   string
		profGiven, profFam string
		min, max           float64 // similarity bounds
	}{
		{"umlaut spelt out", "Anna", "Müller", "Anna", "Mueller", 1, 1},
		{"umlaut dropped", "Anna", "Müller", "Anna", "Muller", 1, 1},
		{"Cyrillic document", "Иван", "Иванов", "Ivan", "Ivanov", 1, 1},
		{"Cyrillic family name only", "Ivan", "Иванов", "Ivan", "Ivanov", 1, 1},
		{"Cyrillic kh", "Александр", "Харитонов", "Aleksandr", "Kharitonov", 1, 1},
		{"other romanisation", "Aleksandr", "Kharitonov", "Alexander", "Haritonov", 0.95, 1},
		{"Greek", "Γιώργος", "Παπαδόπουλος", "Giorgos", "Papadopoulos", 1, 1},
		{"accents", "José", "García", "Jose", "Garcia", 1, 1},
		{"swapped given and family", "Smith", "John", "John", "Smith", 1, 1},
		{"case and hyphen", "JEAN-PIERRE", "DUPONT", "Jean Pierre", "Dupont", 1, 1},
		{"typo", "Jon", "Smith", "John", "Smith", 0.9, 0.99},
		{"middle name", "Anna Maria", "Schmidt", "Anna", "Schmidt", 0.75, 0.9},
		{"other family name", "Ivan", "Petrov", "Ivan", "Ivanov", 0.45, 0.55},
		{"unrelated", "John", "Smith", "Maria", "Garcia", 0, 0},
		{"unrelated short", "Li", "Wei", "Wang", "Fang", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Similarity(ParseName(tt.docGiven, tt.docFam), ParseName(tt.profGiven, tt.profFam))
			if got < tt.min || got > tt.max {
				t.Errorf("Similarity(%s %s, %s %s) = %v, want %v..%v", tt.docGiven, tt.docFam, tt.profGiven, tt.profFam, got, tt.min, tt.max)
			}
		})
	}
}

func TestJaroWinkler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want float64
	}{
		{"martha", "marhta", 0.961}, {"dwayne", "duane", 0.84}, {"dixon", "dicksonx", 0.813},
		{"", "", 1}, {"a", "", 0}, {"abc", "xyz", 0}, {"same", "same", 1},
	}
	for _, tt := range tests {
		if got := JaroWinkler(tt.a, tt.b); got < tt.want-0.001 || got > tt.want+0.001 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.3f", tt.a, tt.b, got, tt.want)
		}
	}
}

type profile struct{ given, family, country, dob string }

func detect(t *testing.T, doc map[string]any, p profile) map[string]*detectorv1.Signal {
	t.Helper()
	req := &detectorv1.DetectRequest{
		Checkpoint: "identity_verification",
		Subject: &detectorv1.Subject{Id: "acct-1", Profile: &detectorv1.Profile{
			GivenName: p.given, FamilyName: p.family, Country: p.country, DateOfBirth: p.dob}},
		Now: timestamppb.New(now),
	}
	if doc != nil {
		attrs, err := structpb.NewStruct(map[string]any{"document": doc})
		if err != nil {
			t.Fatal(err)
		}
		req.Attributes = attrs
	}
	resp, err := Detector{}.Detect(context.Background(), req)
	if err != nil {
		t.Fatalf("Detect(%v) = %v", doc, err)
	}
	out := map[string]*detectorv1.Signal{}
	for _, s := range resp.GetSignals() {
		if _, dup := out[s.GetName()]; dup {
			t.Errorf("Detect(%v) emitted %s twice", doc, s.GetName())
		}
		out[s.GetName()] = s
	}
	return out
}

// want is a signal's expected score and value; value "*" is not compared.
type want struct {
	score float64
	value string
}

func TestDetect(t *testing.T) {
	t.Parallel()
	ivan := profile{given: "Ivan", family: "Ivanov", country: "RU", dob: "1990-05-17"}
	tests := []struct {
		name string
		doc  map[string]any
		p    profile
		want map[string]want
	}{
		{"no document", nil, ivan, map[string]want{}},
		{"clean Cyrillic document", map[string]any{
			"given_name": "Иван", "family_name": "Иванов", "date_of_birth": "1990-05-17",
			"expires": "2030-01-01", "country": "RUS", "vendor_verdict": "approved", "number": "4509 123456",
		}, ivan, map[string]want{
			SignalNameMismatch: {0, "0.000"}, SignalDOBMismatch: {0, ""}, SignalExpired: {0, "2030-01-01"},
			SignalCountry: {0, "RU"}, SignalCountryMismatch: {0, "RU"}, SignalVendorRejected: {0, "approved"},
		}},
		{"swapped names", map[string]any{"given_name": "Ivanov", "family_name": "Ivan"}, ivan,
			map[string]want{SignalNameMismatch: {0, "0.000"}}},
		{"unrelated name", map[string]any{"given_name": "Maria", "family_name": "Garcia"}, ivan,
			map[string]want{SignalNameMismatch: {1, "1.000"}}},
		{"expired yesterday", map[string]any{"expires": "2026-02-28"}, ivan,
			map[string]want{SignalExpired: {1, "2026-02-28"}}},
		{"expires today: still valid", map[string]any{"expires": "2026-03-01T00:00:00Z"}, ivan,
			map[string]want{SignalExpired: {0, "2026-03-01"}}},
		{"unparseable expiry", map[string]any{"expires": "01/02/30"}, ivan,
			map[string]want{SignalExpired: {0.5, "unparseable"}}},
		{"dob differs", map[string]any{"date_of_birth": "1991-05-17"}, ivan,
			map[string]want{SignalDOBMismatch: {1, "differs_from_profile"}}},
		{"too young", map[string]any{"date_of_birth": "2010-03-02"}, profile{},
			map[string]want{SignalDOBMismatch: {1, "implausible_age"}}},
		{"sixteen today", map[string]any{"date_of_birth": "2010-03-01"}, profile{},
			map[string]want{SignalDOBMismatch: {0, ""}}},
		{"too old and differs", map[string]any{"date_of_birth": "1900-01-01"}, ivan,
			map[string]want{SignalDOBMismatch: {1, "implausible_age,differs_from_profile"}}},
		{"country mismatch alpha-2", map[string]any{"country": "ua"}, ivan,
			map[string]want{SignalCountry: {0, "UA"}, SignalCountryMismatch: {1, "UA"}}},
		{"no claimed country", map[string]any{"country": "DEU"}, profile{},
			map[string]want{SignalCountry: {0, "DE"}}},
		{"unknown country", map[string]any{"country": "Atlantis"}, ivan,
			map[string]want{SignalCountry: {0, ""}}},
		{"vendor rejected", map[string]any{"vendor_verdict": "Rejected"}, ivan,
			map[string]want{SignalVendorRejected: {1, "rejected"}}},
		{"vendor fraud", map[string]any{"vendor_verdict": "fraud"}, ivan,
			map[string]want{SignalVendorRejected: {1, "fraud"}}},
		{"vendor tampered", map[string]any{"vendor_verdict": "TAMPERED"}, ivan,
			map[string]want{SignalVendorRejected: {1, "tampered"}}},
		{"vendor review", map[string]any{"vendor_verdict": "manual review"}, ivan,
			map[string]want{SignalVendorRejected: {0.5, "manual_review"}}},
		{"vendor unknown word", map[string]any{"vendor_verdict": "maybe"}, ivan,
			map[string]want{SignalVendorRejected: {0.5, "maybe"}}},
		{"wrong types are ignored", map[string]any{"given_name": 12, "expires": true, "country": []any{"FR"}}, ivan,
			map[string]want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := detect(t, tt.doc, tt.p)
			for name, w := range tt.want {
				s, ok := got[name]
				switch {
				case !ok:
					t.Errorf("Detect(%v): no %s, want score %v value %q", tt.doc, name, w.score, w.value)
				case s.GetScore() != w.score || (w.value != "*" && s.GetValue() != w.value):
					t.Errorf("Detect(%v): %s = score %v value %q, want score %v value %q (evidence %v)",
						tt.doc, name, s.GetScore(), s.GetValue(), w.score, w.value, s.GetEvidence())
				}
			}
			for name, s := range got {
				if _, ok := tt.want[name]; !ok {
					t.Errorf("Detect(%v): unexpected %s = %v", tt.doc, name, s)
				}
			}
		})
	}
}

func TestNameMismatchEvidence(t *testing.T) {
	t.Parallel()
	s := detect(t, map[string]any{"given_name": "Anna", "family_name": "Müller"},
		profile{given: "Anna", family: "Mueller"})[SignalNameMismatch]
	ev := s.GetEvidence().GetFields()
	if ev["document_name"].GetStringValue() != "anna muller" || ev["profile_name"].GetStringValue() != "anna mueller" ||
		ev["similarity"].GetNumberValue() != 1 || s.GetScore() != 0 {
		t.Errorf("name_mismatch(Anna Müller vs Anna Mueller) = score %v evidence %v, want 0 with both normalised names and similarity 1",
			s.GetScore(), ev)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	d, err := Detector{}.Describe(context.Background())
	if err != nil || len(d.GetSignals()) != 6 || len(d.GetCheckpoints()) != 3 || d.GetObserves() {
		t.Errorf("Describe() = %v, %v; want 6 signals at 3 checkpoints, not observing", d, err)
	}
}

func BenchmarkSimilarity(b *testing.B) {
	a, c := ParseName("Александр Сергеевич", "Харитонов"), ParseName("Alexander", "Kharitonov")
	for b.Loop() {
		Similarity(a, c)
	}
}
