package iddoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// gavel's verdict vocabulary for an identity document.
const (
	VerdictApproved = "approved" // the vendor verified the document
	VerdictResubmit = "resubmit" // unreadable, unsupported or expired session: try again
	VerdictReview   = "review"   // the vendor wants a person to look
	VerdictRejected = "rejected" // the vendor believes it forged, tampered or fraudulent
)

// verdictScores are document.vendor_rejected's score per gavel verdict. A
// resubmit stays below the policies' firing threshold (0.5): it asks for a
// retry, it accuses nobody.
var verdictScores = map[string]float64{
	VerdictApproved: 0, VerdictResubmit: 0.3, VerdictReview: 0.5, VerdictRejected: 1,
}

// unknownVerdict scores a verdict no table knows: not trusted, not
// condemned.
const unknownVerdict = 0.5

// AnyVendor is the table consulted for every vendor after the vendor's own.
const AnyVendor = "*"

// Verdicts maps a vendor's verdict words to gavel's verdicts: vendor (lower
// case; AnyVendor for all) → verdict word (lower case, spaces and hyphens as
// underscores) → approved, resubmit, review or rejected.
type Verdicts map[string]map[string]string

// DefaultVerdicts is the mapping before configuration: the result words of
// common identity vendors (Onfido, Veriff, Jumio, Sumsub, Persona, Stripe
// Identity), and generic words for any vendor.
func DefaultVerdicts() Verdicts {
	return Verdicts{
		AnyVendor: {
			"approved": VerdictApproved, "accepted": VerdictApproved, "clear": VerdictApproved, "verified": VerdictApproved,
			"passed": VerdictApproved, "pass": VerdictApproved, "ok": VerdictApproved,
			"resubmit": VerdictResubmit, "retry": VerdictResubmit, "resubmission_requested": VerdictResubmit,
			"review": VerdictReview, "manual_review": VerdictReview, "consider": VerdictReview, "suspected": VerdictReview,
			"needs_review": VerdictReview,
			"rejected":     VerdictRejected, "declined": VerdictRejected, "denied": VerdictRejected, "fraud": VerdictRejected,
			"fraudulent": VerdictRejected, "fraud_suspected": VerdictRejected, "suspected_fraud": VerdictRejected,
			"tampered": VerdictRejected, "forged": VerdictRejected, "counterfeit": VerdictRejected, "fake": VerdictRejected,
		},
		"onfido": {
			"clear": VerdictApproved, "consider": VerdictReview, "caution": VerdictReview, "unidentified": VerdictReview,
			"suspected": VerdictRejected, "rejected": VerdictRejected,
		},
		"veriff": {
			"approved": VerdictApproved, "declined": VerdictRejected, "resubmission_requested": VerdictResubmit,
			"expired": VerdictResubmit, "abandoned": VerdictResubmit, "review": VerdictReview,
		},
		"jumio": {
			"approved_verified": VerdictApproved, "denied_fraud": VerdictRejected,
			"denied_unsupported_id_type": VerdictResubmit, "denied_unsupported_id_country": VerdictResubmit,
			"error_not_readable_id": VerdictResubmit, "no_id_uploaded": VerdictResubmit,
		},
		"sumsub": {
			"green": VerdictApproved, "red": VerdictRejected, "red_final": VerdictRejected, "red_retry": VerdictResubmit,
			"yellow": VerdictReview,
		},
		"persona": {
			"approved": VerdictApproved, "completed": VerdictApproved, "declined": VerdictRejected,
			"needs_review": VerdictReview, "failed": VerdictResubmit, "expired": VerdictResubmit,
		},
		"stripe": {
			"verified": VerdictApproved, "requires_input": VerdictResubmit, "canceled": VerdictResubmit,
		},
	}
}

// Map returns verdict normalised, the gavel verdict it maps to for vendor,
// and whether any table knew it. The vendor's own table wins over AnyVendor.
func (v Verdicts) Map(vendor, verdict string) (word, mapped string, known bool) {
	if v == nil {
		v = DefaultVerdicts()
	}
	word = normaliseWord(verdict)
	if t, ok := v[normaliseWord(vendor)]; ok && vendor != "" {
		if m, ok := t[word]; ok {
			return word, m, true
		}
	}
	m, ok := v[AnyVendor][word]
	return word, m, ok
}

func normaliseWord(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
}

// Config is the document detector's configuration.
type Config struct {
	Verdicts Verdicts
}

// LoadConfig reads the configuration through env (sdk.Env in production):
// VERDICTS is a JSON object {vendor: {word: verdict}} merged over
// DefaultVerdicts, a vendor's words replacing or adding to its defaults
// ("*" for every vendor). Every problem is reported at once.
func LoadConfig(env func(key, def string) string) (Config, error) {
	cfg := Config{Verdicts: DefaultVerdicts()}
	raw := strings.TrimSpace(env("VERDICTS", ""))
	if raw == "" {
		return cfg, nil
	}
	var extra map[string]map[string]string
	if err := json.Unmarshal([]byte(raw), &extra); err != nil {
		return Config{}, fmt.Errorf("document configuration: VERDICTS: not a JSON object of vendor → {verdict word → verdict}: %v", err)
	}
	var errs []error
	for _, vendor := range slices.Sorted(maps.Keys(extra)) {
		vk := normaliseWord(vendor)
		if vk == "" {
			errs = append(errs, errors.New("document configuration: VERDICTS: empty vendor name"))
			continue
		}
		if cfg.Verdicts[vk] == nil {
			cfg.Verdicts[vk] = map[string]string{}
		}
		for _, word := range slices.Sorted(maps.Keys(extra[vendor])) {
			m := extra[vendor][word]
			if _, ok := verdictScores[m]; !ok {
				errs = append(errs, fmt.Errorf("document configuration: VERDICTS.%s.%s: %q is not approved, resubmit, review or rejected", vendor, word, m))
				continue
			}
			cfg.Verdicts[vk][normaliseWord(word)] = m
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}
