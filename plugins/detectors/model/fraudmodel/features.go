package fraudmodel

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Checkpoints are the checkpoints the model knows by name; any other
// checkpoint sets none of the checkpoint features.
var Checkpoints = []string{
	"signup", "login", "profile_update", "identity_verification",
	"payout_method_change", "proposal_submit", "contract_start", "withdrawal",
}

// FeatureNames are the model's inputs, in the order of a Vector. A model file
// must list exactly these names in this order.
var FeatureNames = func() []string {
	names := []string{
		"email_missing",           // no address, or not an address
		"email_free",              // a free-mail provider
		"email_disposable_like",   // a known disposable domain or a disposable-sounding one
		"email_tld_cheap",         // a top-level domain favoured by throwaway registrations
		"local_length",            // characters in the local part
		"local_entropy",           // Shannon entropy of the local part, bits per character
		"local_digit_ratio",       // share of digits in the local part
		"name_present",            // a given or family name was claimed
		"name_in_email",           // a claimed name (3+ letters) appears in the local part
		"phone_present",           // a phone number was claimed
		"phone_country_mismatch",  // the phone's calling code is not the claimed country's
		"account_age_log_days",    // ln(1 + account age in days); Unknown without created_at
		"new_account_at_money",    // younger than 7 days at payout_method_change or withdrawal (0 when the age is unknown)
		"device_present",          // the request carries a device id
		"ip_present",              // the request carries an IP address
		"ip_v6",                   // the IP address is IPv6
		"payout_high_risk",        // attributes.payout.method is crypto, prepaid card or gift card
		"payout_country_mismatch", // attributes.payout.country differs from the claimed country
		"document_present",        // attributes.document is present
	}
	for _, cp := range Checkpoints {
		names = append(names, "checkpoint_"+cp)
	}
	return names
}()

// NumFeatures is the length of a Vector.
var NumFeatures = len(FeatureNames)

// moneyCheckpoints are where a brand-new account is most suspicious.
var moneyCheckpoints = []string{"payout_method_change", "withdrawal"}

var highRiskPayout = map[string]bool{
	"crypto": true, "crypto_wallet": true, "prepaid_card": true, "gift_card": true,
}

// Unknown marks a feature the request does not tell (an account age without
// created_at, local-part measures without an address). The model scores it
// as the training mean: it moves the score neither way.
var Unknown = math.NaN()

// Extract computes the feature vector of a request. It reads only the
// request, so training (on generated requests) and serving see the same
// features. now is the decision's time, used when the request has none.
func Extract(req *detectorv1.DetectRequest, now time.Time) []float64 {
	x := make([]float64, NumFeatures)
	p := req.GetSubject().GetProfile()
	if t := req.GetNow(); t != nil && t.IsValid() {
		now = t.AsTime()
	}

	local, domain, ok := splitEmail(p.GetEmail())
	if !ok {
		x[0] = 1
		x[4], x[5], x[6] = Unknown, Unknown, Unknown
	} else {
		x[1] = b(freeDomains[domain])
		x[2] = b(disposableLike(domain))
		x[3] = b(cheapTLD(domain))
		x[4] = float64(len([]rune(local)))
		x[5] = entropy(local)
		x[6] = digitRatio(local)
	}
	given, family := strings.ToLower(p.GetGivenName()), strings.ToLower(p.GetFamilyName())
	x[7] = b(strings.TrimSpace(given+family) != "")
	x[8] = b(ok && (nameIn(local, given) || nameIn(local, family)))
	phone := p.GetPhone()
	x[9] = b(strings.TrimSpace(phone) != "")
	x[10] = b(phoneCountryMismatch(phone, p.GetCountry()))

	if c := req.GetSubject().GetCreatedAt(); c != nil && c.IsValid() {
		days := now.Sub(c.AsTime()).Hours() / 24
		x[11] = math.Log1p(max(days, 0))
		x[12] = b(days < 7 && slices.Contains(moneyCheckpoints, req.GetCheckpoint()))
	} else {
		x[11] = Unknown
	}

	ctx := req.GetContext()
	x[13] = b(strings.TrimSpace(ctx.GetDeviceId()) != "")
	if ip := strings.TrimSpace(ctx.GetIp()); ip != "" {
		x[14] = 1
		if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
			x[15] = 1
		}
	}
	attrs := req.GetAttributes().GetFields()
	if payout := attrs["payout"].GetStructValue().GetFields(); payout != nil {
		x[16] = b(highRiskPayout[strings.ToLower(payout["method"].GetStringValue())])
		pc := strings.ToUpper(payout["country"].GetStringValue())
		x[17] = b(pc != "" && p.GetCountry() != "" && pc != strings.ToUpper(p.GetCountry()))
	}
	x[18] = b(attrs["document"] != nil)

	// No time-of-day feature: the marketplace is worldwide, so an hour of
	// UTC says nothing about a person's night, and such a feature made the
	// same honest request score differently depending on when it came.
	if i := slices.Index(Checkpoints, req.GetCheckpoint()); i >= 0 {
		x[19+i] = 1
	}
	return x
}

func b(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// splitEmail returns the lower-case local part and domain of a plausible
// address. Syntax is the email detector's business; this only needs the parts.
func splitEmail(s string) (local, domain string, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	local, domain, ok = strings.Cut(s, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.Contains(domain, "@") {
		return "", "", false
	}
	local, _, _ = strings.Cut(local, "+")
	return local, strings.TrimSuffix(domain, "."), true
}

// entropy is the Shannon entropy of s in bits per character.
func entropy(s string) float64 {
	counts := map[rune]int{}
	n := 0
	for _, r := range s {
		counts[r]++
		n++
	}
	if n == 0 {
		return 0
	}
	var h float64
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h
}

func digitRatio(s string) float64 {
	var d, n int
	for _, r := range s {
		n++
		if unicode.IsDigit(r) {
			d++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(d) / float64(n)
}

// nameIn reports whether a claimed name of at least 3 letters appears in the
// local part.
func nameIn(local, name string) bool {
	name = strings.TrimSpace(name)
	return len([]rune(name)) >= 3 && strings.Contains(local, name)
}
