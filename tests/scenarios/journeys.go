package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/gavel/gavel/decision"
)

// Kinds of journey. Honest kinds first, then fraud.
const (
	HonestLocal          = "honest_local"          // new account: signup, verification, payout, withdrawal at home
	HonestEstablished    = "honest_established"    // long-standing account changing payout details and withdrawing
	HonestTraveller      = "honest_traveller"      // logs in, changes payout or withdraws from abroad
	HonestVPN            = "honest_vpn"            // a privacy VPN, exit at home or abroad
	HonestHousehold      = "honest_household"      // family members sharing a laptop, each with their own payout
	HonestTransliterated = "honest_transliterated" // Cyrillic, Greek or Serbian document; bank holder name in Latin, nickname, initials, other order
	HonestExpat          = "honest_expat"          // lives in one country, holds another's passport

	FraudDeviceFarm      = "fraud_device_farm"       // bursts of signups from one device, then proposals
	FraudDocumentReuse   = "fraud_document_reuse"    // one identity document verifying several accounts
	FraudPayoutMule      = "fraud_payout_mule"       // several accounts paying out to one account
	FraudLocationLie     = "fraud_location_lie"      // claims a rich country, lives elsewhere (VPN or not)
	FraudThirdParty      = "fraud_third_party"       // consistent identity, payout to another person's account
	FraudRentedAccount   = "fraud_rented_account"    // a long-standing account rented out: new device abroad, renter's payout
	FraudSignupUnderLoad = "fraud_signup_under_load" // fake signups in a burst that times detectors out
)

// Mix is how many journeys of each kind a suite generates (people, not
// decisions; a household counts each member).
type Mix map[string]int

// DefaultMix is the suite make test runs: about 3000 honest people and 900
// fraudulent accounts, honest kinds in rough proportion to a marketplace's
// traffic.
func DefaultMix() Mix {
	return Mix{
		HonestLocal: 1000, HonestEstablished: 600, HonestTraveller: 300, HonestVPN: 250,
		HonestHousehold: 300, HonestTransliterated: 350, HonestExpat: 200,
		FraudDeviceFarm: 150, FraudDocumentReuse: 120, FraudPayoutMule: 120, FraudLocationLie: 150,
		FraudThirdParty: 150, FraudRentedAccount: 120, FraudSignupUnderLoad: 100,
	}
}

// IsFraud reports whether kind is a fraud kind.
func IsFraud(kind string) bool { return strings.HasPrefix(kind, "fraud_") }

// Config is a suite's generator settings.
type Config struct {
	Seed uint64
	Mix  Mix
	// OutageRate is the share of journeys whose signup happens while
	// several detectors time out (load, a deploy), honest and fraud alike.
	OutageRate float64
	// Start is when the simulated period begins; it lasts Days days.
	Start time.Time
	Days  int
}

// DefaultConfig is the suite make test runs.
func DefaultConfig() Config {
	return Config{Seed: 20261130, Mix: DefaultMix(), OutageRate: 0.005,
		Start: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), Days: 60}
}

// loadFailures are the detectors that time out together under load: the
// ones that keep state or do the most work.
var loadFailures = []string{"email", "geo", "velocity", "linkage", "model"}

// person is one account and what it truthfully or falsely claims.
type person struct {
	id        string
	name      nameForm
	country   string // claimed
	email     string
	phone     string
	dob       string
	createdAt time.Time // zero: created at its signup
	document  map[string]any
	payout    map[string]any
}

// step is one request of a journey.
type step struct {
	at         time.Time
	checkpoint string
	ip, device string
	attrs      map[string]any
	fail       []string // detectors that time out for this request
}

// Journey is one account's sequence of requests.
type Journey struct {
	Kind  string
	ID    int
	who   *person
	steps []step
}

// Fraud reports whether the journey is fraudulent.
func (j *Journey) Fraud() bool { return IsFraud(j.Kind) }

// request builds step i's decision request.
func (j *Journey) request(i int) *decision.Request {
	s := j.steps[i]
	p := j.who
	created := p.createdAt
	if created.IsZero() {
		created = j.steps[0].at
	}
	return &decision.Request{
		RequestID: fmt.Sprintf("j%d-%d", j.ID, i),
		Subject: decision.Subject{ID: p.id, Kind: "freelancer", CreatedAt: created, Profile: decision.Profile{
			GivenName: p.name.given, FamilyName: p.name.family, Country: p.country,
			Email: p.email, Phone: p.phone, DateOfBirth: p.dob,
		}},
		Checkpoint: s.checkpoint,
		Context:    decision.Context{IP: s.ip, DeviceID: s.device, UserAgent: "Mozilla/5.0", SessionID: fmt.Sprintf("s%d-%d", j.ID, i)},
		Attributes: s.attrs,
	}
}

// generator builds journeys from one seeded random source.
type generator struct {
	cfg    Config
	rng    *rand.Rand
	ips    *ipPool
	serial int
	out    []*Journey
}

// Generate builds the suite's journeys. The same Config (and geo database)
// always gives the same journeys.
func Generate(cfg Config, ips *ipPool) []*Journey {
	g := &generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5ce)), ips: ips}
	kinds := make([]string, 0, len(cfg.Mix))
	for k := range cfg.Mix {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		n := cfg.Mix[k]
		for made := 0; made < n; {
			made += g.make(k, n-made)
		}
	}
	return g.out
}

func (g *generator) next() int { g.serial++; return g.serial }

// day is a random time within the period, leaving room for a journey.
func (g *generator) day() time.Time {
	return g.cfg.Start.Add(time.Duration(g.rng.IntN(g.cfg.Days-25)*24)*time.Hour + time.Duration(g.rng.IntN(86400))*time.Second)
}

func (g *generator) after(t time.Time, minH, maxH int) time.Time {
	return t.Add(time.Duration(minH)*time.Hour + time.Duration(g.rng.IntN((maxH-minH)*3600+1))*time.Second)
}

// newPerson is an honest identity from country, with a document that
// matches it and their own payout account at home.
func (g *generator) newPerson(country string) *person {
	n := pick(g.rng, names[country])
	id := g.next()
	p := &person{
		id:      fmt.Sprintf("acct-%06d", id),
		name:    n,
		country: country,
		email:   honestEmail(g.rng, n),
		phone:   phone(g.rng, country, phonenumbers.MOBILE),
		dob:     fmt.Sprintf("%d-%02d-%02d", 1960+g.rng.IntN(45), 1+g.rng.IntN(12), 1+g.rng.IntN(28)),
	}
	v := pick(g.rng, vendors)
	p.document = map[string]any{
		"type": pick(g.rng, []string{"passport", "id_card", "driving_licence"}), "number": fmt.Sprintf("%s%08d", country, id*7919%100000000),
		"country": country, "given_name": n.docGiven, "family_name": n.docFamily, "date_of_birth": p.dob,
		"expires": fmt.Sprintf("%d-%02d-15", 2027+g.rng.IntN(8), 1+g.rng.IntN(12)), "vendor": v.name, "vendor_verdict": v.approved,
	}
	p.payout = map[string]any{
		"method":       pick(g.rng, []string{"bank_transfer", "bank_transfer", "bank_transfer", "wallet", "card"}),
		"account_hash": fmt.Sprintf("pay-%06d", id), "country": country, "holder_name": g.holderName(n),
	}
	return p
}

// holderName is how a bank or wallet writes an honest person's name.
func (g *generator) holderName(n nameForm) string {
	switch g.rng.IntN(10) {
	case 0:
		return strings.ToUpper(n.romGiven + " " + n.romFamily)
	case 1:
		return n.family + " " + n.given
	case 2:
		return n.given[:1] + ". " + n.family
	case 3:
		if len(n.nicknames) > 0 {
			return pick(g.rng, n.nicknames) + " " + n.family
		}
	case 4:
		return n.romGiven + " " + n.romFamily
	}
	return n.given + " " + n.family
}

func (g *generator) established(p *person) {
	p.createdAt = g.cfg.Start.Add(-time.Duration(200+g.rng.IntN(1500)) * 24 * time.Hour)
}

func withDoc(p *person) map[string]any { return map[string]any{"document": p.document} }

func withPayout(p *person) map[string]any {
	return map[string]any{"document": p.document, "payout": p.payout}
}

// add appends a journey and reports how many people it used.
func (g *generator) add(kind string, p *person, steps []step) int {
	if g.rng.Float64() < g.cfg.OutageRate && steps[0].checkpoint == "signup" && len(steps[0].fail) == 0 {
		steps[0].fail = loadFailures
	}
	g.out = append(g.out, &Journey{Kind: kind, ID: len(g.out) + 1, who: p, steps: steps})
	return 1
}

// newcomer is the honest journey of a new account: signup, login,
// identity verification, payout details, withdrawal.
func (g *generator) newcomer(p *person, at time.Time, ip, device string) []step {
	t1 := g.after(at, 0, 48)
	t2 := g.after(t1, 2, 120)
	t3 := g.after(t2, 1, 96)
	t4 := g.after(t3, 48, 400)
	return []step{
		{at: at, checkpoint: "signup", ip: ip, device: device},
		{at: t1, checkpoint: "login", ip: ip, device: device},
		{at: t2, checkpoint: "identity_verification", ip: ip, device: device, attrs: withDoc(p)},
		{at: t3, checkpoint: "payout_method_change", ip: ip, device: device, attrs: withPayout(p)},
		{at: t4, checkpoint: "withdrawal", ip: ip, device: device, attrs: withPayout(p)},
	}
}

// regular is the honest journey of a long-standing account: login, new
// payout details, withdrawal.
func (g *generator) regular(p *person, at time.Time, ip, device string) []step {
	t1 := g.after(at, 0, 2)
	t2 := g.after(t1, 24, 300)
	return []step{
		{at: at, checkpoint: "login", ip: ip, device: device},
		{at: t1, checkpoint: "payout_method_change", ip: ip, device: device, attrs: withPayout(p)},
		{at: t2, checkpoint: "withdrawal", ip: ip, device: device, attrs: withPayout(p)},
	}
}

func (g *generator) device() string { return fmt.Sprintf("dev-%07d", g.next()) }

var abroad = []string{"ES", "FR", "DE", "GB", "US", "GR", "PL", "IN", "BR"}

// make builds one journey (or one ring or household) of kind, using at most
// room people, and returns how many it used.
func (g *generator) make(kind string, room int) int {
	rng := g.rng
	switch kind {
	case HonestLocal:
		p := g.newPerson(pick(rng, homeCountries))
		return g.add(kind, p, g.newcomer(p, g.day(), g.ips.residential(p.country), g.device()))

	case HonestEstablished:
		p := g.newPerson(pick(rng, homeCountries))
		g.established(p)
		return g.add(kind, p, g.regular(p, g.day(), g.ips.residential(p.country), g.device()))

	case HonestTraveller:
		p := g.newPerson(pick(rng, homeCountries))
		g.established(p)
		dest := pick(rng, abroad)
		for dest == p.country {
			dest = pick(rng, abroad)
		}
		dev := g.device()
		steps := g.regular(p, g.day(), g.ips.residential(p.country), dev)
		// Abroad: the login and the withdrawal, sometimes the payout change too.
		away := g.ips.residential(dest)
		steps[0].ip, steps[2].ip = away, away
		if rng.IntN(3) == 0 {
			steps[1].ip = away
		}
		return g.add(kind, p, steps)

	case HonestVPN:
		p := g.newPerson(pick(rng, homeCountries))
		exit := p.country
		if rng.IntN(2) == 0 {
			exit = pick(rng, []string{"NL", "DE", "US", "GB", "FR"})
		}
		vpn := g.ips.vpn(exit)
		var steps []step
		if rng.IntN(2) == 0 {
			steps = g.newcomer(p, g.day(), vpn, g.device())
		} else {
			g.established(p)
			steps = g.regular(p, g.day(), vpn, g.device())
		}
		// Some connect from home without the VPN now and then.
		home := g.ips.residential(p.country)
		for i := range steps {
			if rng.IntN(3) == 0 {
				steps[i].ip = home
			}
		}
		return g.add(kind, p, steps)

	case HonestHousehold:
		size := min(room, 2+rng.IntN(2))
		country := pick(rng, homeCountries)
		laptop, home := g.device(), g.ips.residential(country)
		first := g.newPerson(country)
		start := g.day()
		for i := range size {
			p := first
			if i > 0 {
				p = g.newPerson(country)
				p.name.family, p.name.docFamily, p.name.romFamily = first.name.family, first.name.docFamily, first.name.romFamily
				p.document["family_name"] = first.name.docFamily
				p.payout["holder_name"] = g.holderName(p.name)
				p.email = honestEmail(rng, p.name)
			}
			g.established(p)
			// Each logs in on the family laptop during the period, then one
			// changes payout details on it and withdraws.
			steps := g.regular(p, g.after(start, 0, 24*20), home, laptop)
			if rng.IntN(2) == 0 { // some on their own phone for the login
				steps[0].device = g.device()
			}
			g.add(kind, p, steps)
		}
		return size

	case HonestTransliterated:
		p := g.newPerson(pick(rng, []string{"RU", "UA", "UA", "GR", "RS"}))
		// Banks abroad type the passport's Latin spelling, or a nickname.
		switch rng.IntN(4) {
		case 0:
			p.payout["holder_name"] = p.name.romGiven + " " + p.name.romFamily
		case 1:
			if len(p.name.nicknames) > 0 {
				p.payout["holder_name"] = pick(rng, p.name.nicknames) + " " + p.name.romFamily
			}
		case 2:
			p.payout["holder_name"] = strings.ToUpper(p.name.romFamily + " " + p.name.romGiven)
		}
		if rng.IntN(2) == 0 {
			return g.add(kind, p, g.newcomer(p, g.day(), g.ips.residential(p.country), g.device()))
		}
		g.established(p)
		return g.add(kind, p, g.regular(p, g.day(), g.ips.residential(p.country), g.device()))

	case HonestExpat:
		// Born in one country, living in another: document from home,
		// phone, IP and bank where they live.
		pairs := [][2]string{{"UA", "PL"}, {"IN", "GB"}, {"BR", "US"}, {"RS", "DE"}, {"GR", "DE"}, {"PH", "US"}, {"ES", "GB"}}
		pr := pick(rng, pairs)
		p := g.newPerson(pr[0])
		p.country = pr[1]
		p.phone = phone(rng, pr[1], phonenumbers.MOBILE)
		p.payout["country"] = pr[1]
		return g.add(kind, p, g.newcomer(p, g.day(), g.ips.residential(pr[1]), g.device()))

	case FraudDeviceFarm:
		size := min(room, 5+rng.IntN(6))
		country := pick(rng, []string{"US", "GB", "IN", "NG", "PH", "UA"})
		dev, ip := g.device(), g.ips.residential(country)
		if rng.IntN(2) == 0 {
			ip = g.ips.vpn(country)
		}
		start := g.day()
		for i := range size {
			p := g.newPerson(country)
			if rng.IntN(2) == 0 {
				p.email = randomLocal(rng) + "@" + pick(rng, disposableMail)
			} else {
				p.email = randomLocal(rng) + "@gmail.com"
			}
			at := start.Add(time.Duration(i*20+rng.IntN(20)) * time.Minute)
			g.add(kind, p, []step{
				{at: at, checkpoint: "signup", ip: ip, device: dev},
				{at: start.Add(time.Duration(size*20+60+rng.IntN(600)) * time.Minute), checkpoint: "proposal_submit", ip: ip, device: dev},
			})
		}
		return size

	case FraudDocumentReuse:
		size := min(room, 2+rng.IntN(3))
		country := pick(rng, homeCountries)
		stolen := g.newPerson(country).document
		start := g.day()
		for i := range size {
			p := g.newPerson(country)
			doc := maps(stolen)
			p.document = doc
			if i == 0 { // the first claims the stolen identity's own name
				p.name.given, p.name.family = stolen["given_name"].(string), stolen["family_name"].(string)
				p.dob = stolen["date_of_birth"].(string)
			}
			p.payout["holder_name"] = g.holderName(p.name)
			steps := g.newcomer(p, g.after(start, 0, 24*4), g.ips.residential(country), g.device())
			g.add(kind, p, steps)
		}
		return size

	case FraudPayoutMule:
		size := min(room, 3+rng.IntN(4))
		country := pick(rng, homeCountries)
		mule := g.newPerson(country)
		start := g.day()
		for range size {
			p := g.newPerson(country)
			p.payout = maps(mule.payout)
			p.payout["holder_name"] = mule.name.given + " " + mule.name.family
			g.add(kind, p, g.newcomer(p, g.after(start, 0, 24*6), g.ips.residential(country), g.device()))
		}
		return size

	case FraudLocationLie:
		real := pick(rng, []string{"NG", "PH", "IN", "UA", "BR"})
		claimed := pick(rng, []string{"US", "GB", "DE"})
		p := g.newPerson(real) // their real identity and document
		p.country = claimed
		if rng.IntN(3) == 0 { // a profile name to match the claimed country
			n := pick(rng, names[claimed])
			p.name.given, p.name.family = n.given, n.family
			p.email = honestEmail(rng, n)
		}
		if rng.IntN(3) == 0 {
			p.phone = phone(rng, claimed, phonenumbers.VOIP)
		}
		ip := g.ips.residential(real)
		if rng.IntN(2) == 0 {
			ip = g.ips.vpn(claimed) // an exit in the claimed country
		}
		if rng.IntN(2) == 0 {
			p.payout["country"] = claimed // a payout service in the claimed country
		}
		return g.add(kind, p, g.newcomer(p, g.day(), ip, g.device()))

	case FraudThirdParty:
		country := pick(rng, homeCountries)
		p := g.newPerson(country)
		other := g.newPerson(pick(rng, homeCountries))
		p.payout["holder_name"] = g.holderName(other.name)
		p.payout["country"] = other.country
		return g.add(kind, p, g.newcomer(p, g.day(), g.ips.residential(country), g.device()))

	case FraudRentedAccount:
		owner := g.newPerson(pick(rng, homeCountries))
		g.established(owner)
		renterCountry := pick(rng, []string{"NG", "PH", "IN", "PK", "VN", "BR"})
		if renterCountry == "PK" || renterCountry == "VN" {
			renterCountry = "IN"
		}
		renter := g.newPerson(renterCountry)
		owner.payout = renter.payout
		owner.payout["holder_name"] = g.holderName(renter.name)
		ip := g.ips.residential(renterCountry)
		if rng.IntN(2) == 0 {
			ip = g.ips.vpn(owner.country)
		}
		return g.add(kind, owner, g.regular(owner, g.day(), ip, g.device()))

	case FraudSignupUnderLoad:
		size := min(room, 10+rng.IntN(10))
		country := pick(rng, []string{"US", "GB", "IN", "NG"})
		start := g.day()
		ip := g.ips.vpn(country)
		for i := range size {
			p := g.newPerson(country)
			if rng.IntN(2) == 0 {
				p.email = randomLocal(rng) + "@" + pick(rng, disposableMail)
			}
			at := start.Add(time.Duration(i*3) * time.Minute)
			g.add(kind, p, []step{
				{at: at, checkpoint: "signup", ip: ip, device: g.device(), fail: loadFailures},
				{at: at.Add(time.Duration(30+rng.IntN(600)) * time.Minute), checkpoint: "proposal_submit", ip: ip, device: g.device()},
			})
		}
		return size
	}
	panic("scenarios: unknown kind " + kind)
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
