package decision

import (
	"math"
	"strings"
	"testing"
	"time"
)

var testCheckpoints = map[string]bool{"signup": true, "login": true}

func validRequest() *Request {
	return &Request{
		RequestID:  "req-1",
		Checkpoint: "signup",
		Subject:    Subject{ID: "acct-1", Profile: Profile{Country: "fr", Email: "a@example.org"}},
		Context:    Context{IP: "2001:db8::1"},
	}
}

func TestValidateAcceptsAndNormalises(t *testing.T) {
	t.Parallel()
	r := validRequest()
	r.Signals = []Signal{{Name: "geo.hosting_asn", Score: 1, Confidence: 0.5, Source: "forged"}}
	if err := Validate(r, testCheckpoints, Limits{}); err != nil {
		t.Fatalf("Validate(valid) = %v, want nil", err)
	}
	if r.Subject.Profile.Country != "FR" {
		t.Errorf("country = %q, want upper-cased FR", r.Subject.Profile.Country)
	}
	if r.Signals[0].Source != SourceCaller {
		t.Errorf("caller signal source = %q, want %q (a caller cannot claim to be a detector)", r.Signals[0].Source, SourceCaller)
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	t.Parallel()
	deep := map[string]any{}
	cur := deep
	for range 12 {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	tests := []struct {
		name   string
		mutate func(*Request)
		fields []string
	}{
		{"missing ids", func(r *Request) { r.RequestID, r.Subject.ID = "", "" }, []string{"request_id", "subject.id"}},
		{"bad id characters", func(r *Request) { r.RequestID = "a b/c" }, []string{"request_id"}},
		{"unknown checkpoint", func(r *Request) { r.Checkpoint = "teleport" }, []string{"checkpoint"}},
		{"missing checkpoint", func(r *Request) { r.Checkpoint = "" }, []string{"checkpoint"}},
		{"bad ip and country", func(r *Request) { r.Context.IP = "1.2.3"; r.Subject.Profile.Country = "FRA" }, []string{"context.ip", "subject.profile.country"}},
		{"bad email", func(r *Request) { r.Subject.Profile.Email = "no-at-sign" }, []string{"subject.profile.email"}},
		{"bad date of birth", func(r *Request) { r.Subject.Profile.DateOfBirth = "12/01/1990" }, []string{"subject.profile.date_of_birth"}},
		{"invalid utf8", func(r *Request) { r.Subject.Profile.GivenName = "\xff\xfe" }, []string{"subject.profile.given_name"}},
		{"attributes too deep", func(r *Request) { r.Attributes = deep }, []string{"attributes"}},
		{"signal NaN", func(r *Request) { r.Signals = []Signal{{Name: "geo.hosting_asn", Score: math.NaN()}} }, []string{"signals[0]"}},
		{"signal name", func(r *Request) { r.Signals = []Signal{{Name: "Hosting", Score: 0.5}} }, []string{"signals[0]"}},
		{"signal confidence", func(r *Request) { r.Signals = []Signal{{Name: "a.b", Score: 0.5, Confidence: 2}} }, []string{"signals[0]"}},
		{"signal infinite score", func(r *Request) { r.Signals = []Signal{{Name: "a.b", Score: math.Inf(1)}} }, []string{"signals[0]"}},
		{"created_at 2^62 seconds", func(r *Request) { r.Subject.CreatedAt = time.Unix(1<<62, 0) }, []string{"subject.created_at"}},
		{"created_at in 2999", func(r *Request) { r.Subject.CreatedAt = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC) }, []string{"subject.created_at"}},
		{"created_at before 2000", func(r *Request) { r.Subject.CreatedAt = time.Unix(0, 0) }, []string{"subject.created_at"}},
		{"created_at two days ahead", func(r *Request) { r.Subject.CreatedAt = time.Now().Add(48 * time.Hour) }, []string{"subject.created_at"}},
		{"date of birth in 2999", func(r *Request) { r.Subject.Profile.DateOfBirth = "2999-01-01" }, []string{"subject.profile.date_of_birth"}},
		{"date of birth not a date", func(r *Request) { r.Subject.Profile.DateOfBirth = "1990-02-30" }, []string{"subject.profile.date_of_birth"}},
		{"NaN in attributes", func(r *Request) { r.Attributes = map[string]any{"doc": map[string]any{"score": math.NaN()}} }, []string{"attributes"}},
		{"Inf in attributes", func(r *Request) { r.Attributes = map[string]any{"list": []any{math.Inf(-1)}} }, []string{"attributes"}},
		{"NaN in evidence", func(r *Request) {
			r.Signals = []Signal{{Name: "a.b", Score: 0.5, Evidence: map[string]any{"x": math.NaN()}}}
		}, []string{"signals[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validRequest()
			tt.mutate(r)
			err := Validate(r, testCheckpoints, Limits{})
			verr, ok := err.(ValidationError)
			if !ok {
				t.Fatalf("Validate(%s) = %v, want a ValidationError", tt.name, err)
			}
			for _, f := range tt.fields {
				found := false
				for _, e := range verr {
					found = found || e.Field == f
				}
				if !found {
					t.Errorf("Validate(%s) = %v, want field %q named", tt.name, verr, f)
				}
			}
		})
	}
}

func TestValidateAcceptsSaneTimestamps(t *testing.T) {
	t.Parallel()
	for _, at := range []time.Time{
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Now().AddDate(-3, 0, 0),
		time.Now().Add(time.Hour), // clocks differ a little
	} {
		r := validRequest()
		r.Subject.CreatedAt = at
		r.Subject.Profile.DateOfBirth = "1990-02-28"
		if err := Validate(r, testCheckpoints, Limits{}); err != nil {
			t.Errorf("Validate(created_at %v) = %v, want nil", at, err)
		}
	}
	// The window follows the engine's clock, not the wall clock.
	r := validRequest()
	r.Subject.CreatedAt = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	lim := Limits{Now: func() time.Time { return time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC) }}
	if err := Validate(r, testCheckpoints, lim); err != nil {
		t.Errorf("Validate(created_at = the engine's today) = %v, want nil", err)
	}
}

func TestValidateLimits(t *testing.T) {
	t.Parallel()
	r := validRequest()
	r.Subject.Profile.DisplayName = strings.Repeat("x", 5000)
	r.Signals = make([]Signal, 70)
	err := Validate(r, testCheckpoints, Limits{})
	if err == nil || !strings.Contains(err.Error(), "subject.profile.display_name") || !strings.Contains(err.Error(), "signals") {
		t.Errorf("Validate(oversized) = %v, want display_name and signals named", err)
	}
}

func TestValidateAttributeVocabulary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		attrs  map[string]any
		fields map[string]string // field → a word its reason must contain
	}{
		{"every known key", map[string]any{
			"document": map[string]any{"type": "passport", "number": "X1", "country": "FR", "given_name": "A", "family_name": "B",
				"date_of_birth": "1990-01-01", "expires": "2030-01-01", "vendor": "onfido", "vendor_verdict": "clear",
				"extra": map[string]any{"report_id": "r-1"}},
			"payout": map[string]any{"method": "bank_transfer", "account_hash": "h", "country": "FR", "holder_name": "A B",
				"name_match": 0.9, "extra": map[string]any{}},
			"campaign": map[string]any{"anything": true}, // other objects are free-form
		}, nil},
		{"misnamed document fields", map[string]any{"document": map[string]any{"expiry": "2030-01-01", "issuing_country": "FR"}},
			map[string]string{"attributes.document.expiry": `did you mean "expires"`, "attributes.document.issuing_country": `did you mean "country"`}},
		{"unknown payout field", map[string]any{"payout": map[string]any{"iban": "FR76..."}},
			map[string]string{"attributes.payout.iban": "attributes.payout.extra"}},
		{"document not an object", map[string]any{"document": "passport"}, map[string]string{"attributes.document": "object"}},
		{"extra not an object", map[string]any{"payout": map[string]any{"extra": "x"}}, map[string]string{"attributes.payout.extra": "object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validRequest()
			r.Attributes = tt.attrs
			err := Validate(r, testCheckpoints, Limits{})
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate(%v) = %v, want nil", tt.attrs, err)
				}
				return
			}
			verr, ok := err.(ValidationError)
			if !ok || len(verr) != len(tt.fields) {
				t.Fatalf("Validate(%v) = %v, want exactly %d fields named", tt.attrs, err, len(tt.fields))
			}
			for _, e := range verr {
				if w, ok := tt.fields[e.Field]; !ok || !strings.Contains(e.Reason, w) {
					t.Errorf("Validate(%v): %s: %s, want one of %v mentioning %q", tt.attrs, e.Field, e.Reason, tt.fields, w)
				}
			}
		})
	}
}
