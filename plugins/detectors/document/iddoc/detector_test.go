package iddoc

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type profile struct{ given, family, country, dob string }

func detect(t *testing.T, doc map[string]any, p profile) map[string]*detectorv1.Signal {
	t.Helper()
	if doc == nil {
		return detectAttrs(t, nil, p)
	}
	return detectAttrs(t, map[string]any{"document": doc}, p)
}

func detectAttrs(t *testing.T, attrs map[string]any, p profile) map[string]*detectorv1.Signal {
	t.Helper()
	doc := attrs
	req := &detectorv1.DetectRequest{
		Checkpoint: "identity_verification",
		Subject: &detectorv1.Subject{Id: "acct-1", Profile: &detectorv1.Profile{
			GivenName: p.given, FamilyName: p.family, Country: p.country, DateOfBirth: p.dob}},
		Now: timestamppb.New(now),
	}
	if attrs != nil {
		a, err := structpb.NewStruct(attrs)
		if err != nil {
			t.Fatal(err)
		}
		req.Attributes = a
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
		{"generic resubmit", map[string]any{"vendor_verdict": "resubmit"}, ivan,
			map[string]want{SignalVendorRejected: {0.3, "resubmit"}}},
		{"jumio approved", map[string]any{"vendor": "Jumio", "vendor_verdict": "APPROVED_VERIFIED"}, ivan,
			map[string]want{SignalVendorRejected: {0, "approved_verified"}}},
		{"jumio fraud", map[string]any{"vendor": "jumio", "vendor_verdict": "DENIED_FRAUD"}, ivan,
			map[string]want{SignalVendorRejected: {1, "denied_fraud"}}},
		{"jumio unreadable: a retry", map[string]any{"vendor": "jumio", "vendor_verdict": "ERROR_NOT_READABLE_ID"}, ivan,
			map[string]want{SignalVendorRejected: {0.3, "error_not_readable_id"}}},
		{"sumsub green", map[string]any{"vendor": "sumsub", "vendor_verdict": "GREEN"}, ivan,
			map[string]want{SignalVendorRejected: {0, "green"}}},
		{"sumsub red", map[string]any{"vendor": "sumsub", "vendor_verdict": "RED"}, ivan,
			map[string]want{SignalVendorRejected: {1, "red"}}},
		{"persona fraud_suspected", map[string]any{"vendor": "persona", "vendor_verdict": "fraud_suspected"}, ivan,
			map[string]want{SignalVendorRejected: {1, "fraud_suspected"}}},
		{"onfido consider", map[string]any{"vendor": "onfido", "vendor_verdict": "consider"}, ivan,
			map[string]want{SignalVendorRejected: {0.5, "consider"}}},
		{"green without a vendor is unknown", map[string]any{"vendor_verdict": "GREEN"}, ivan,
			map[string]want{SignalVendorRejected: {0.5, "green"}}},
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
	if err != nil || len(d.GetSignals()) != 7 || len(d.GetCheckpoints()) != 3 || d.GetObserves() {
		t.Errorf("Describe() = %v, %v; want 7 signals at 3 checkpoints, not observing", d, err)
	}
}

func TestHolder(t *testing.T) {
	t.Parallel()
	ivan := profile{given: "Ivan", family: "Ivanov", country: "RU"}
	cyrDoc := map[string]any{"given_name": "Александр", "family_name": "Харитонов"}
	sasha := profile{given: "Aleksandr", family: "Kharitonov", country: "RU"}
	tests := []struct {
		name     string
		attrs    map[string]any
		p        profile
		min, max float64 // payout.holder_mismatch score; -1: no signal
		closest  string
	}{
		{"no payout", map[string]any{"document": cyrDoc}, sasha, -1, -1, ""},
		{"no holder", map[string]any{"payout": map[string]any{"account_hash": "h"}}, ivan, -1, -1, ""},
		{"same name", map[string]any{"payout": map[string]any{"holder_name": "IVAN IVANOV"}}, ivan, 0, 0, "profile"},
		{"Cyrillic holder", map[string]any{"payout": map[string]any{"holder_name": "Иван Иванов"}}, ivan, 0, 0, "profile"},
		{"nickname, order", map[string]any{"document": cyrDoc, "payout": map[string]any{"holder_name": "KHARITONOV SASHA"}}, sasha, 0.02, 0.03, "profile"},
		{"Greek document, Latin holder, no profile name",
			map[string]any{"document": map[string]any{"given_name": "Γιώργος", "family_name": "Παπαδόπουλος"},
				"payout": map[string]any{"holder_name": "Giorgos Papadopoulos"}}, profile{}, 0, 0, "document"},
		{"initial", map[string]any{"payout": map[string]any{"holder_name": "I. Ivanov"}}, ivan, 0.04, 0.06, "profile"},
		{"relative", map[string]any{"payout": map[string]any{"holder_name": "Olga Ivanova"}}, ivan, 0.4, 0.6, "profile"},
		{"someone else", map[string]any{"payout": map[string]any{"holder_name": "Chinedu Okafor"}}, ivan, 1, 1, "profile"},
		{"vendor says no match", map[string]any{"payout": map[string]any{"holder_name": "Ivan Ivanov", "name_match": "NO_MATCH"}}, ivan, 1, 1, "profile"},
		{"vendor says match", map[string]any{"payout": map[string]any{"holder_name": "Chinedu Okafor", "name_match": "match"}}, ivan, 0, 0, "profile"},
		{"vendor close match", map[string]any{"payout": map[string]any{"name_match": "close match"}}, ivan, 0.3, 0.3, ""},
		{"vendor score", map[string]any{"payout": map[string]any{"name_match": 0.2}}, ivan, 0.8, 0.8, ""},
		{"vendor unavailable, no holder", map[string]any{"payout": map[string]any{"name_match": "unavailable"}}, ivan, -1, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ok := detectAttrs(t, tt.attrs, tt.p)[SignalHolderMismatch]
			switch {
			case tt.min < 0 && ok:
				t.Errorf("Detect(%v): %s = %v, want none", tt.attrs, SignalHolderMismatch, s)
			case tt.min < 0:
			case !ok:
				t.Errorf("Detect(%v): no %s, want score %v..%v", tt.attrs, SignalHolderMismatch, tt.min, tt.max)
			case s.GetScore() < tt.min || s.GetScore() > tt.max ||
				s.GetEvidence().GetFields()["closest"].GetStringValue() != tt.closest:
				t.Errorf("Detect(%v): %s = %v (evidence %v), want score %v..%v closest %q",
					tt.attrs, SignalHolderMismatch, s.GetScore(), s.GetEvidence(), tt.min, tt.max, tt.closest)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string, string) string {
		return func(k, def string) string {
			if k == "VERDICTS" {
				return v
			}
			return def
		}
	}
	cfg, err := LoadConfig(env(`{"Acme ID": {"GOOD": "approved", "bad-doc": "rejected"}, "jumio": {"APPROVED_VERIFIED": "review"}}`))
	if err != nil {
		t.Fatalf("LoadConfig(valid) = %v", err)
	}
	for _, c := range []struct{ vendor, word, want string }{
		{"acme id", "good", VerdictApproved}, {"ACME ID", "Bad Doc", VerdictRejected},
		{"jumio", "approved_verified", VerdictReview}, {"jumio", "denied_fraud", VerdictRejected},
		{"acme id", "declined", VerdictRejected}, // the generic table still applies
	} {
		if _, got, ok := cfg.Verdicts.Map(c.vendor, c.word); !ok || got != c.want {
			t.Errorf("Map(%q, %q) = %q, %v; want %q", c.vendor, c.word, got, ok, c.want)
		}
	}
	if _, err := LoadConfig(env(`{"acme": {"x": "maybe"}, "": {"y": "approved"}}`)); err == nil ||
		!strings.Contains(err.Error(), "VERDICTS.acme.x") || !strings.Contains(err.Error(), "empty vendor") {
		t.Errorf("LoadConfig(bad verdict, empty vendor) = %v, want both named", err)
	}
	if _, err := LoadConfig(env(`[1]`)); err == nil {
		t.Errorf("LoadConfig(not an object) = nil, want an error")
	}
	if cfg, err := LoadConfig(env("")); err != nil || cfg.Verdicts["jumio"]["approved_verified"] != VerdictApproved {
		t.Errorf("LoadConfig(unset) = %v, %v; want the defaults", cfg, err)
	}
}
