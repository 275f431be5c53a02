// Package phonerisk is gavel's phone detector: it parses the subject's phone
// number against the numbering plans of libphonenumber (via
// github.com/nyaruka/phonenumbers), with the claimed country as the default
// region, and reports invalid numbers, virtual and VoIP line types, the
// number's region and whether it disagrees with the claimed country. The main
// package beside it serves it over the detector protocol.
package phonerisk

import (
	"context"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Signal names; the Rego policies match on them.
const (
	SignalInvalid         = "phone.invalid"
	SignalVoIP            = "phone.voip"
	SignalCountry         = "phone.country"
	SignalCountryMismatch = "phone.country_mismatch"
)

// maxInput bounds the text handed to the parser (E.164 has at most 15
// digits; generous room for spaces, punctuation and an extension).
const maxInput = 64

// virtualScores are the line types that do not tie a number to a person's
// SIM or line, and how strongly each counts as phone.voip.
var virtualScores = map[phonenumbers.PhoneNumberType]float64{
	phonenumbers.VOIP:            1,
	phonenumbers.PERSONAL_NUMBER: 0.8, // follow-me / virtual numbers
	phonenumbers.PREMIUM_RATE:    0.7,
	phonenumbers.SHARED_COST:     0.6,
}

var lineTypes = map[phonenumbers.PhoneNumberType]string{
	phonenumbers.FIXED_LINE:           "fixed_line",
	phonenumbers.MOBILE:               "mobile",
	phonenumbers.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
	phonenumbers.TOLL_FREE:            "toll_free",
	phonenumbers.PREMIUM_RATE:         "premium_rate",
	phonenumbers.SHARED_COST:          "shared_cost",
	phonenumbers.VOIP:                 "voip",
	phonenumbers.PERSONAL_NUMBER:      "personal_number",
	phonenumbers.PAGER:                "pager",
	phonenumbers.UAN:                  "uan",
	phonenumbers.VOICEMAIL:            "voicemail",
	phonenumbers.UNKNOWN:              "unknown",
}

// LineType names a phonenumbers line type as the evidence shows it.
func LineType(t phonenumbers.PhoneNumberType) string {
	if s, ok := lineTypes[t]; ok {
		return s
	}
	return "unknown"
}

// Detector is the phone detector. It is safe for concurrent use.
type Detector struct{}

// New returns a detector. It parses one number so the library's metadata is
// loaded before the first request, not during it.
func New() *Detector {
	if n, err := phonenumbers.Parse("+33 1 23 45 67 89", ""); err == nil {
		phonenumbers.GetNumberType(n)
	}
	return &Detector{}
}

// Describe implements sdk.Detector.
func (d *Detector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	return &detectorv1.DescribeResponse{
		Name:    "phone",
		Version: "1.0.0",
		Signals: []string{SignalInvalid, SignalVoIP, SignalCountry, SignalCountryMismatch},
		Checkpoints: []string{
			"signup", "profile_update", "payout_method_change", "withdrawal", "identity_verification",
		},
		LatencyBudget: durationpb.New(10 * time.Millisecond),
	}, nil
}

// Detect implements sdk.Detector. A request without a phone number gets no signal.
func (d *Detector) Detect(_ context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	p := req.GetSubject().GetProfile()
	phone := strings.TrimSpace(p.GetPhone())
	if phone == "" {
		return &detectorv1.DetectResponse{}, nil
	}
	return &detectorv1.DetectResponse{Signals: d.Signals(phone, p.GetCountry())}, nil
}

// Signals returns the signals for one number and the claimed country (ISO
// 3166-1 alpha-2, may be empty).
func (d *Detector) Signals(phone, claimed string) []*detectorv1.Signal {
	claimed = strings.ToUpper(strings.TrimSpace(claimed))
	invalid := func(score float64, reason string, ev map[string]any) []*detectorv1.Signal {
		if ev == nil {
			ev = map[string]any{}
		}
		ev["reason"] = reason
		if claimed != "" {
			ev["default_region"] = claimed
		}
		return []*detectorv1.Signal{sdk.NewSignal(SignalInvalid, score, reason, ev, 1)}
	}
	if len(phone) > maxInput {
		return invalid(1, "too_long", map[string]any{"length": len(phone)})
	}
	num, err := phonenumbers.Parse(phone, claimed)
	switch {
	case err == phonenumbers.ErrInvalidCountryCode && claimed == "" && !strings.HasPrefix(phone, "+"):
		// A national number with no country to read it in is ambiguous,
		// not proof of a bad number: below the policies' firing threshold.
		return invalid(0.3, "no_country_code", nil)
	case err != nil:
		return invalid(1, parseReason(err), nil)
	}
	if !phonenumbers.IsValidNumber(num) {
		reason := "invalid_number"
		switch phonenumbers.IsPossibleNumberWithReason(num) {
		case phonenumbers.TOO_SHORT, phonenumbers.INVALID_LENGTH:
			reason = "invalid_length"
		case phonenumbers.TOO_LONG:
			reason = "too_long"
		case phonenumbers.INVALID_COUNTRY_CODE:
			reason = "invalid_country_code"
		}
		return invalid(1, reason, map[string]any{"country_code": int(num.GetCountryCode())})
	}

	e164 := phonenumbers.Format(num, phonenumbers.E164)
	region := phonenumbers.GetRegionCodeForNumber(num)
	typ := phonenumbers.GetNumberType(num)
	line := LineType(typ)
	var out []*detectorv1.Signal
	if score, ok := virtualScores[typ]; ok {
		out = append(out, sdk.NewSignal(SignalVoIP, score, line, map[string]any{
			"line_type": line, "region": region, "country_code": int(num.GetCountryCode()),
		}, 0.9))
	}
	// Non-geographic numbers (+800, +882, …) belong to no country: region "001".
	if len(region) != 2 {
		return append(out, sdk.NewSignal(SignalCountry, 0, "", map[string]any{
			"non_geographic": true, "country_code": int(num.GetCountryCode()), "line_type": line,
		}, 0))
	}
	out = append(out, sdk.NewSignal(SignalCountry, 0, region, map[string]any{
		"line_type": line, "country_code": int(num.GetCountryCode()), "e164_prefix": prefix(e164),
	}, 1))
	if claimed != "" && claimed != region {
		ev := map[string]any{"claimed": claimed, "observed": region, "line_type": line}
		// Countries sharing a calling code (+1 NANP, +7, +44 …) are a softer
		// mismatch: one plan, several countries.
		score, conf := 1.0, 0.9
		if phonenumbers.GetCountryCodeForRegion(claimed) == int(num.GetCountryCode()) {
			ev["shared_country_code"] = true
			conf = 0.6
		}
		out = append(out, sdk.NewSignal(SignalCountryMismatch, score, region, ev, conf))
	}
	return out
}

// prefix keeps the country code and the first digits of an E.164 number:
// enough for a reviewer to see the operator range, not the whole number.
func prefix(e164 string) string {
	if len(e164) <= 6 {
		return e164
	}
	return e164[:6] + strings.Repeat("•", len(e164)-6)
}

func parseReason(err error) string {
	switch err {
	case phonenumbers.ErrInvalidCountryCode:
		return "invalid_country_code"
	case phonenumbers.ErrNotANumber:
		return "not_a_number"
	case phonenumbers.ErrTooShortNSN, phonenumbers.ErrTooShortAfterIDD:
		return "too_short"
	case phonenumbers.ErrNumTooLong:
		return "too_long"
	}
	return "unparsable"
}
