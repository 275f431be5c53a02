package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// The synthetic marketplace. Honest users and fraud rings are drawn from the
// distributions below; every distribution overlaps the other population's on
// purpose (honest people use disposable mail, travel and sign up at night;
// some rings use real-looking names on Gmail), and a share of labels is
// flipped, so the classes are not separable. Rings share a style (their mail
// domain kind, their local-part generator, their claimed country, their
// hours, a pool of device ids): shared devices are invisible to a stateless
// model (the linkage detector's business), but the style is not.

// Example is one labelled decision request.
type Example struct {
	Req   *detectorv1.DetectRequest
	Fraud bool
}

// GenConfig parameterises the generator.
type GenConfig struct {
	Seed       uint64
	N          int
	FraudRate  float64 // share of requests made by ring accounts (before noise)
	LabelNoise float64 // share of labels flipped at random
}

// epoch anchors generated times, so a seed gives the same data forever.
var epoch = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

var (
	givenNames = strings.Fields(`amelia lucas sofia mateo olivia noah emma liam chloe hugo aisha omar
	priya arjun mei wei yuki kenji fatima yusuf ana joao maria jose elena ivan olga dmitri chinedu
	ngozi kwame amara lena jonas sara david leila karim tomasz zofia`)
	familyNames = strings.Fields(`laurent martin garcia silva rossi muller schmidt novak kowalski
	nguyen tran chen wang tanaka sato kumar sharma patel khan ahmed okafor mensah adeyemi costa
	santos ferreira ivanov petrov smith jones brown taylor wilson dubois moreau fischer weber`)
	// Honest users' countries, weighted by how many of them there are.
	honestCountries = weighted[string]{
		{"US", 20}, {"IN", 14}, {"GB", 8}, {"PH", 8}, {"PK", 6}, {"UA", 5}, {"FR", 5}, {"DE", 5},
		{"NG", 4}, {"BR", 4}, {"CA", 4}, {"BD", 3}, {"KE", 3}, {"ES", 3}, {"PL", 3}, {"EG", 2},
		{"VN", 2}, {"ID", 2}, {"MX", 2}, {"AU", 2}, {"RO", 1}, {"IT", 1}, {"NL", 1}, {"TR", 1},
	}
	// Countries rings claim: where clients pay most.
	ringCountries = weighted[string]{{"US", 40}, {"GB", 20}, {"CA", 10}, {"DE", 10}, {"AU", 10}, {"FR", 5}, {"NL", 5}}
	callingCode   = map[string]string{
		"US": "1", "CA": "1", "RU": "7", "EG": "20", "NL": "31", "FR": "33", "ES": "34", "IT": "39",
		"RO": "40", "GB": "44", "PL": "48", "DE": "49", "MX": "52", "BR": "55", "AU": "61", "ID": "62",
		"PH": "63", "VN": "84", "CN": "86", "TR": "90", "IN": "91", "PK": "92", "NG": "234", "KE": "254",
		"UA": "380", "BD": "880",
	}
	allCountries = func() []string {
		var cs []string
		for _, c := range honestCountries {
			cs = append(cs, c.v)
		}
		return cs
	}()
	freeMail      = strings.Fields(`gmail.com gmail.com gmail.com gmail.com outlook.com hotmail.com yahoo.com icloud.com proton.me gmx.de yahoo.fr mail.ru`)
	knownTempMail = strings.Fields(`mailinator.com guerrillamail.com yopmail.com 10minutemail.com temp-mail.org sharklasers.com maildrop.cc`)
	// Throwaway domains the model's list has never seen; half sound like one.
	unseenTempMail = strings.Fields(`tempinbox.net quicktrash.org mailnesia.com inboxkitten.com burnermail.io emailfake.com spambox.xyz mail7.top`)
	companyWords   = strings.Fields(`acme north studio labs digital works atlas pixel nova craft bright river cloud media data green`)
	companyTLDs    = weighted[string]{{"com", 60}, {"io", 10}, {"co", 8}, {"fr", 4}, {"de", 4}, {"co.uk", 4}, {"in", 4}, {"dev", 3}, {"xyz", 2}, {"online", 1}}
	shadyTLDs      = weighted[string]{{"top", 30}, {"xyz", 25}, {"online", 10}, {"site", 10}, {"com", 20}, {"icu", 5}}

	honestCheckpoints = weighted[string]{
		{"login", 38}, {"signup", 14}, {"profile_update", 10}, {"proposal_submit", 16}, {"contract_start", 8},
		{"payout_method_change", 5}, {"withdrawal", 6}, {"identity_verification", 3},
	}
	ringCheckpoints = weighted[string]{
		{"signup", 28}, {"login", 14}, {"profile_update", 6}, {"proposal_submit", 12}, {"contract_start", 3},
		{"payout_method_change", 17}, {"withdrawal", 15}, {"identity_verification", 5},
	}
	honestPayout = weighted[string]{{"bank_transfer", 55}, {"wallet", 30}, {"card", 13}, {"crypto", 2}}
	ringPayout   = weighted[string]{{"bank_transfer", 30}, {"wallet", 25}, {"card", 10}, {"crypto", 20}, {"prepaid_card", 10}, {"gift_card", 5}}
)

// ring is a fraud ring's shared style.
type ring struct {
	size       int
	mail       string // "known_temp", "unseen_temp", "free", "shady"
	domain     string // the ring's own domain for "shady", else ""
	randomMail float64
	country    string  // what members claim
	home       string  // where the phones really are
	phoneShare float64 // share of members that give a phone
	nightShare float64 // share of activity between 00 and 06 UTC
	devices    []string
	nameShare  float64
}

// Generate returns cfg.N labelled requests.
func Generate(cfg GenConfig) []Example {
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	out := make([]Example, 0, cfg.N)
	var rg *ring
	left := 0
	for range cfg.N {
		var ex Example
		if r.Float64() < cfg.FraudRate {
			if left == 0 {
				rg = newRing(r)
				left = rg.size
			}
			left--
			ex = Example{Req: ringRequest(r, rg), Fraud: true}
		} else {
			ex = Example{Req: honestRequest(r), Fraud: false}
		}
		if r.Float64() < cfg.LabelNoise {
			ex.Fraud = !ex.Fraud
		}
		ex.Req.RequestId = fmt.Sprintf("synthetic-%d", len(out))
		out = append(out, ex)
	}
	return out
}

func newRing(r *rand.Rand) *ring {
	rg := &ring{
		size:       5 + r.IntN(36),
		mail:       weighted[string]{{"known_temp", 25}, {"unseen_temp", 20}, {"free", 45}, {"shady", 10}}.pick(r),
		randomMail: []float64{0.1, 0.5, 0.9}[r.IntN(3)],
		country:    ringCountries.pick(r),
		home:       weighted[string]{{"NG", 20}, {"PK", 15}, {"BD", 15}, {"VN", 10}, {"UA", 10}, {"RO", 10}, {"ID", 10}, {"US", 10}}.pick(r),
		phoneShare: 0.4 + 0.5*r.Float64(),
		nightShare: []float64{0.1, 0.35, 0.6}[r.IntN(3)],
		nameShare:  0.5 + 0.5*r.Float64(),
	}
	if rg.mail == "shady" {
		rg.domain = pick(r, companyWords) + fmt.Sprint(r.IntN(100)) + "." + shadyTLDs.pick(r)
	}
	for range 1 + r.IntN(4) {
		rg.devices = append(rg.devices, fmt.Sprintf("dev-%016x", r.Uint64()))
	}
	return rg
}

func honestRequest(r *rand.Rand) *detectorv1.DetectRequest {
	given, family := pick(r, givenNames), pick(r, familyNames)
	country := honestCountries.pick(r)
	var domain string
	switch u := r.Float64(); {
	case u < 0.60:
		domain = pick(r, freeMail)
	case u < 0.97:
		domain = pick(r, companyWords) + pick(r, []string{"", "-" + pick(r, companyWords)}) + "." + companyTLDs.pick(r)
	case u < 0.99:
		domain = pick(r, knownTempMail) // privacy-minded, not fraudulent
	default:
		domain = pick(r, unseenTempMail)
	}
	local := nameLocal(r, given, family)
	if r.Float64() < 0.08 {
		local = randomLocal(r) // old handles, gamer tags
	}
	p := &detectorv1.Profile{Country: country, Email: local + "@" + domain}
	if r.Float64() < 0.96 {
		p.GivenName, p.FamilyName = title(given), title(family)
	}
	if r.Float64() < 0.8 {
		phoneCountry := country
		if r.Float64() < 0.07 { // expats, travellers, second SIMs
			phoneCountry = pick(r, allCountries)
		}
		p.Phone = phone(r, phoneCountry)
	}
	cp := honestCheckpoints.pick(r)
	age := 0.0
	if cp != "signup" {
		age = math.Exp(5 + 1.4*r.NormFloat64()) // median ≈ 150 days, long tail
		if r.Float64() < 0.06 {
			age = 7 * r.Float64() // genuinely new accounts get paid too
		}
	}
	// Honest activity follows the sun over several time zones: a broad day
	// peak in UTC, with real night-time traffic.
	hour := int(math.Mod(14+4.5*r.NormFloat64()+48, 24))
	ctx := &detectorv1.Context{UserAgent: "Mozilla/5.0"}
	if r.Float64() < 0.92 {
		ctx.DeviceId = fmt.Sprintf("dev-%016x", r.Uint64())
	}
	if r.Float64() < 0.97 {
		ctx.Ip = ip(r, r.Float64() < 0.3)
	}
	return request(r, cp, p, age, hour, ctx, honestPayout, 0.03, 0.9)
}

func ringRequest(r *rand.Rand, rg *ring) *detectorv1.DetectRequest {
	given, family := pick(r, givenNames), pick(r, familyNames)
	var domain string
	switch rg.mail {
	case "known_temp":
		domain = pick(r, knownTempMail)
	case "unseen_temp":
		domain = pick(r, unseenTempMail)
	case "free":
		domain = pick(r, freeMail)
	default:
		domain = rg.domain
	}
	local := nameLocal(r, given, family)
	if r.Float64() < rg.randomMail {
		local = randomLocal(r)
	}
	p := &detectorv1.Profile{Country: rg.country, Email: local + "@" + domain}
	if r.Float64() < rg.nameShare {
		// Stolen or invented names, not always the ones in the address.
		p.GivenName, p.FamilyName = title(pick(r, givenNames)), title(pick(r, familyNames))
		if r.Float64() < 0.4 {
			p.GivenName, p.FamilyName = title(given), title(family)
		}
	}
	if r.Float64() < rg.phoneShare {
		phoneCountry := rg.country
		if r.Float64() < 0.6 { // VoIP or home SIMs
			phoneCountry = rg.home
		}
		p.Phone = phone(r, phoneCountry)
	}
	cp := ringCheckpoints.pick(r)
	age := 0.0
	if cp != "signup" {
		age = math.Exp(1 + 1.5*r.NormFloat64()) // median ≈ 3 days
		if r.Float64() < 0.2 {
			age = math.Exp(4.5 + 1.2*r.NormFloat64()) // aged or taken-over accounts
		}
	}
	hour := int(math.Mod(15+5*r.NormFloat64()+48, 24))
	if r.Float64() < rg.nightShare {
		hour = r.IntN(6)
	}
	ctx := &detectorv1.Context{UserAgent: "Mozilla/5.0"}
	if r.Float64() < 0.75 { // emulators and privacy browsers strip it
		ctx.DeviceId = pick(r, rg.devices)
	}
	if r.Float64() < 0.9 {
		ctx.Ip = ip(r, r.Float64() < 0.15)
	}
	return request(r, cp, p, age, hour, ctx, ringPayout, 0.25, 0.6)
}

// request assembles a DetectRequest: payout attributes at the money
// checkpoints (paid abroad with probability abroad), a document at identity
// verification (with probability doc).
func request(r *rand.Rand, cp string, p *detectorv1.Profile, ageDays float64, hour int,
	ctx *detectorv1.Context, payouts weighted[string], abroad, doc float64) *detectorv1.DetectRequest {
	now := epoch.Add(time.Duration(r.IntN(90))*24*time.Hour + time.Duration(hour)*time.Hour +
		time.Duration(r.IntN(3600))*time.Second)
	created := now.Add(-time.Duration(ageDays * 24 * float64(time.Hour)))
	attrs := map[string]any{}
	if cp == "payout_method_change" || cp == "withdrawal" {
		pc := p.Country
		if r.Float64() < abroad {
			pc = pick(r, allCountries)
		}
		attrs["payout"] = map[string]any{"method": payouts.pick(r), "country": pc}
	}
	if cp == "identity_verification" && r.Float64() < doc {
		attrs["document"] = map[string]any{"type": "passport", "country": p.Country}
	}
	st, err := structpb.NewStruct(attrs)
	if err != nil {
		panic(err) // the generator's own maps
	}
	return &detectorv1.DetectRequest{
		Subject: &detectorv1.Subject{
			Id: fmt.Sprintf("acct-%x", r.Uint64()), Kind: "freelancer",
			CreatedAt: timestamppb.New(created), Profile: p,
		},
		Checkpoint: cp,
		Context:    ctx,
		Attributes: st,
		Now:        timestamppb.New(now),
	}
}

func nameLocal(r *rand.Rand, given, family string) string {
	switch r.IntN(6) {
	case 0:
		return given + "." + family
	case 1:
		return given[:1] + family
	case 2:
		return given + family + fmt.Sprint(r.IntN(100))
	case 3:
		return given + "_" + family[:1]
	case 4:
		return family + "." + given + fmt.Sprint(1960+r.IntN(45))
	default:
		return given + fmt.Sprint(r.IntN(10000))
	}
}

// randomLocal is a machine-made local part.
func randomLocal(r *rand.Rand) string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("%x", r.Uint64())[:8+r.IntN(6)]
	case 1:
		return pick(r, []string{"user", "work", "pro", "dev"}) + fmt.Sprint(10000+r.IntN(90000))
	default:
		b := make([]byte, 7+r.IntN(8))
		for i := range b {
			b[i] = alnum[r.IntN(len(alnum))]
		}
		return string(b)
	}
}

func phone(r *rand.Rand, country string) string {
	return fmt.Sprintf("+%s%09d", callingCode[country], r.IntN(1e9))
}

func ip(r *rand.Rand, v6 bool) string {
	if v6 {
		return fmt.Sprintf("2a01:%x:%x::%x", r.IntN(0xffff), r.IntN(0xffff), 1+r.IntN(0xfffe))
	}
	return fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(222), r.IntN(256), r.IntN(256), 1+r.IntN(254))
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

type weighted[T any] []struct {
	v T
	w int
}

func (ws weighted[T]) pick(r *rand.Rand) T {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	n := r.IntN(total)
	for _, w := range ws {
		if n < w.w {
			return w.v
		}
		n -= w.w
	}
	return ws[len(ws)-1].v
}
