// Package iddoc is gavel's document detector: it checks the identity document
// a verification vendor returned (request attributes.document) against what
// the account holder claims: the name (across scripts and diacritics, in any
// order), the date of birth and its plausibility, expiry, the issuing country,
// and the vendor's own verdict (mapped to gavel's vocabulary per vendor, see
// verdicts.go). Where money moves it also compares the payout account's
// holder name (attributes.payout.holder_name) with the profile and document
// names, or takes the vendor's name-match result (attributes.payout.name_match).
// It keeps no state; the main package beside it serves it over the detector
// protocol.
package iddoc

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"golang.org/x/text/language"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gavel/gavel/plugins/personname"
	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Signals the detector emits.
const (
	SignalNameMismatch    = "document.name_mismatch"
	SignalExpired         = "document.expired"
	SignalCountry         = "document.country"
	SignalCountryMismatch = "document.country_mismatch"
	SignalVendorRejected  = "document.vendor_rejected"
	SignalDOBMismatch     = "document.dob_mismatch"
	// SignalHolderMismatch is 1 - the similarity of the payout holder's name
	// to the closest of the profile and document names.
	SignalHolderMismatch = "payout.holder_mismatch"
)

// Plausible ages on an identity document used on the marketplace.
const (
	MinAge = 16
	MaxAge = 110
)

// Checkpoints the detector runs at: where a document is shown or money moves.
var Checkpoints = []string{"identity_verification", "payout_method_change", "withdrawal"}

// Detector is the document detector. It is stateless and safe for
// concurrent use. The zero value maps vendor verdicts with DefaultVerdicts.
type Detector struct {
	verdicts Verdicts
}

// New returns a detector mapping vendor verdicts with cfg.Verdicts.
func New(cfg Config) Detector { return Detector{verdicts: cfg.Verdicts} }

var _ sdk.Detector = Detector{}

// Describe implements sdk.Detector.
func (Detector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	return &detectorv1.DescribeResponse{
		Name:    "document",
		Version: "1.1.0",
		Signals: []string{SignalNameMismatch, SignalExpired, SignalCountry, SignalCountryMismatch,
			SignalVendorRejected, SignalDOBMismatch, SignalHolderMismatch},
		Checkpoints:   Checkpoints,
		LatencyBudget: durationpb.New(20 * time.Millisecond),
	}, nil
}

// Detect implements sdk.Detector. A request without attributes.document gets
// no signals; each check runs only when the fields it needs are present.
func (d Detector) Detect(_ context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	profile := req.GetSubject().GetProfile()
	attrs := req.GetAttributes().GetFields()
	doc := attrs["document"].GetStructValue().GetFields()
	field := func(k string) string { return strings.TrimSpace(stringOf(doc[k])) }
	var out []*detectorv1.Signal
	if payout := attrs["payout"].GetStructValue().GetFields(); payout != nil {
		if s := holderCheck(payout, field("given_name"), field("family_name"), profile); s != nil {
			out = append(out, s)
		}
	}
	if doc == nil {
		return &detectorv1.DetectResponse{Signals: out}, nil
	}
	now := time.Now().UTC()
	if req.GetNow().IsValid() && req.GetNow().AsTime().Unix() > 0 {
		now = req.GetNow().AsTime().UTC()
	}

	if s := nameCheck(field("given_name"), field("family_name"), profile); s != nil {
		out = append(out, s)
	}
	if s := dobCheck(field("date_of_birth"), profile.GetDateOfBirth(), now); s != nil {
		out = append(out, s)
	}
	if s := expiryCheck(field("expires"), now); s != nil {
		out = append(out, s)
	}
	out = append(out, countryCheck(field("country"), profile.GetCountry())...)
	if s := d.verdictCheck(field("vendor"), field("vendor_verdict")); s != nil {
		out = append(out, s)
	}
	return &detectorv1.DetectResponse{Signals: out}, nil
}

// stringOf is a string field's value; numbers (a vendor's numeric date or
// verdict code) are formatted, anything else is empty.
func stringOf(v *structpb.Value) string {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_NumberValue:
		return fmt.Sprint(k.NumberValue)
	}
	return ""
}

func nameCheck(given, family string, p *detectorv1.Profile) *detectorv1.Signal {
	onDoc := personname.Parse(given, family)
	claimed := claimedName(p)
	if onDoc.Empty() || claimed.Empty() {
		return nil
	}
	sim := personname.Similarity(onDoc, claimed)
	score := math.Round((1-sim)*1000) / 1000
	return sdk.NewSignal(SignalNameMismatch, score, fmt.Sprintf("%.3f", score), map[string]any{
		"document_name": onDoc.Display,
		"profile_name":  claimed.Display,
		"similarity":    sim,
	}, 0.9)
}

// parseDate reads YYYY-MM-DD, or an RFC 3339 time (its date is used).
func parseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true
	}
	return time.Time{}, false
}

// age is the number of whole years from born to now.
func age(born, now time.Time) int {
	y := now.Year() - born.Year()
	if now.Month() < born.Month() || (now.Month() == born.Month() && now.Day() < born.Day()) {
		y--
	}
	return y
}

func dobCheck(onDoc, claimed string, now time.Time) *detectorv1.Signal {
	if onDoc == "" {
		return nil
	}
	born, ok := parseDate(onDoc)
	if !ok {
		return sdk.NewSignal(SignalDOBMismatch, 0.5, "unparseable", map[string]any{
			"reason": "unparseable", "document_date_of_birth": onDoc}, 0.5)
	}
	ev := map[string]any{"document_date_of_birth": born.Format(time.DateOnly)}
	var reasons []string
	if a := age(born, now); a < MinAge || a > MaxAge {
		reasons = append(reasons, "implausible_age")
		ev["age"] = a
	}
	if claimed = strings.TrimSpace(claimed); claimed != "" {
		ev["profile_date_of_birth"] = claimed
		if c, ok := parseDate(claimed); !ok || !c.Equal(born) {
			reasons = append(reasons, "differs_from_profile")
		}
	}
	if len(reasons) == 0 {
		return sdk.NewSignal(SignalDOBMismatch, 0, "", ev, 1)
	}
	ev["reasons"] = reasons
	return sdk.NewSignal(SignalDOBMismatch, 1, strings.Join(reasons, ","), ev, 1)
}

func expiryCheck(expires string, now time.Time) *detectorv1.Signal {
	if expires == "" {
		return nil
	}
	t, ok := parseDate(expires)
	if !ok {
		return sdk.NewSignal(SignalExpired, 0.5, "unparseable", map[string]any{
			"reason": "unparseable", "expires": expires}, 0.5)
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	ev := map[string]any{"expires": t.Format(time.DateOnly)}
	if !t.Before(today) { // valid through its expiry day
		ev["days_left"] = int(t.Sub(today).Hours() / 24)
		return sdk.NewSignal(SignalExpired, 0, t.Format(time.DateOnly), ev, 1)
	}
	ev["days_expired"] = int(today.Sub(t).Hours() / 24)
	return sdk.NewSignal(SignalExpired, 1, t.Format(time.DateOnly), ev, 1)
}

// countryCheck reports the issuing country as ISO 3166-1 alpha-2 (vendors
// send alpha-2 or alpha-3) and whether it differs from the claimed country.
func countryCheck(country, claimed string) []*detectorv1.Signal {
	if country == "" {
		return nil
	}
	r, err := language.ParseRegion(country)
	if err != nil || !r.IsCountry() {
		return []*detectorv1.Signal{sdk.NewSignal(SignalCountry, 0, "", map[string]any{
			"reason": "unknown_country", "document_country": country}, 0.5)}
	}
	code := r.String()
	out := []*detectorv1.Signal{sdk.NewSignal(SignalCountry, 0, code, map[string]any{"document_country": code}, 1)}
	if claimed = strings.ToUpper(strings.TrimSpace(claimed)); claimed != "" {
		score := 0.0
		if claimed != code {
			score = 1
		}
		out = append(out, sdk.NewSignal(SignalCountryMismatch, score, code, map[string]any{
			"document_country": code, "claimed_country": claimed}, 1))
	}
	return out
}

// verdictCheck scores the vendor's verdict: approved 0, a request to
// resubmit 0.3, a manual review 0.5, a rejection 1; a word the vendor's
// table (or the generic one) does not know 0.5, with known false.
func (d Detector) verdictCheck(vendor, verdict string) *detectorv1.Signal {
	if verdict == "" {
		return nil
	}
	v, mapped, known := d.verdicts.Map(vendor, verdict)
	score, confidence := verdictScores[mapped], 1.0
	if !known {
		score, confidence = unknownVerdict, 0.5
	}
	ev := map[string]any{"vendor_verdict": v, "known": known}
	if known {
		ev["verdict"] = mapped
	}
	if vendor != "" {
		ev["vendor"] = normaliseWord(vendor)
	}
	return sdk.NewSignal(SignalVendorRejected, score, v, ev, confidence)
}
