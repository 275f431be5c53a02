package scenarios

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"

	"github.com/gavel/gavel/plugins/detectors/geo/geoip"
)

// A nameForm is one person's name as the marketplace profile (Latin) and as
// the identity document prints it (native script where the country uses
// one), plus the nicknames people use on bank accounts and wallets.
type nameForm struct {
	given, family       string // profile, Latin
	docGiven, docFamily string // document
	nicknames           []string
	// romanised is another common Latin spelling of given and family (what
	// a bank in another country types from the passport).
	romGiven, romFamily string
}

// names per country. Cyrillic and Greek documents are common in the
// marketplace's traffic; Latin names carry the diacritics their owners use.
var names = map[string][]nameForm{
	"RU": {
		{"Aleksandr", "Kharitonov", "Александр", "Харитонов", []string{"Sasha", "Alex"}, "Alexander", "Haritonov"},
		{"Dmitry", "Ivanov", "Дмитрий", "Иванов", []string{"Dima"}, "Dmitrii", "Ivanov"},
		{"Mikhail", "Smirnov", "Михаил", "Смирнов", []string{"Misha"}, "Michail", "Smirnow"},
		{"Yekaterina", "Volkova", "Екатерина", "Волкова", []string{"Katya", "Kate"}, "Ekaterina", "Volkova"},
		{"Olga", "Kuznetsova", "Ольга", "Кузнецова", nil, "Olga", "Kuznetsova"},
		{"Sergei", "Popov", "Сергей", "Попов", []string{"Seryozha"}, "Sergey", "Popov"},
	},
	"UA": {
		{"Oleksandr", "Shevchenko", "Олександр", "Шевченко", []string{"Sasha", "Alex"}, "Aleksandr", "Shevchenko"},
		{"Andriy", "Kovalenko", "Андрій", "Коваленко", []string{"Andrew"}, "Andrii", "Kovalenko"},
		{"Iryna", "Bondarenko", "Ірина", "Бондаренко", []string{"Ira"}, "Irina", "Bondarenko"},
		{"Yuliia", "Tkachenko", "Юлія", "Ткаченко", []string{"Julia"}, "Yulia", "Tkachenko"},
	},
	"GR": {
		{"Giorgos", "Papadopoulos", "Γιώργος", "Παπαδόπουλος", []string{"George"}, "Georgios", "Papadopoulos"},
		{"Dimitris", "Nikolaou", "Δημήτρης", "Νικολάου", []string{"Jim"}, "Dimitrios", "Nikolaou"},
		{"Eleni", "Georgiou", "Ελένη", "Γεωργίου", []string{"Helen"}, "Helen", "Georgiou"},
	},
	"RS": {
		{"Đorđe", "Petrović", "Ђорђе", "Петровић", []string{"Djole"}, "Djordje", "Petrovic"},
		{"Jovana", "Jovanović", "Јована", "Јовановић", nil, "Jovana", "Jovanovic"},
	},
	"DE": {
		{"Jürgen", "Müller", "Jürgen", "Müller", nil, "Juergen", "Mueller"},
		{"Anna", "Schröder", "Anna", "Schröder", nil, "Anna", "Schroeder"},
		{"Lukas", "Weiß", "Lukas", "Weiß", nil, "Lukas", "Weiss"},
		{"Sophie", "Böhm", "Sophie", "Böhm", nil, "Sophie", "Boehm"},
	},
	"PL": {
		{"Łukasz", "Wiśniewski", "Łukasz", "Wiśniewski", nil, "Lukasz", "Wisniewski"},
		{"Małgorzata", "Wójcik", "Małgorzata", "Wójcik", []string{"Gosia"}, "Malgorzata", "Wojcik"},
		{"Paweł", "Dąbrowski", "Paweł", "Dąbrowski", nil, "Pawel", "Dabrowski"},
	},
	"FR": {
		{"François", "Lefèvre", "François", "Lefèvre", nil, "Francois", "Lefevre"},
		{"Hélène", "Girard", "Hélène", "Girard", nil, "Helene", "Girard"},
		{"Léa", "Rousseau", "Léa", "Rousseau", nil, "Lea", "Rousseau"},
	},
	"ES": {
		{"José", "García", "José", "García", []string{"Pepe"}, "Jose", "Garcia"},
		{"María", "Núñez", "María", "Núñez", nil, "Maria", "Nunez"},
		{"Francisco", "Martínez", "Francisco", "Martínez", []string{"Paco"}, "Francisco", "Martinez"},
	},
	"US": {
		{"William", "Johnson", "William", "Johnson", []string{"Bill", "Will"}, "William", "Johnson"},
		{"Elizabeth", "Brown", "Elizabeth", "Brown", []string{"Liz", "Beth"}, "Elizabeth", "Brown"},
		{"Robert", "Smith", "Robert", "Smith", []string{"Bob", "Rob"}, "Robert", "Smith"},
		{"Katherine", "Davis", "Katherine", "Davis", []string{"Kate", "Katie"}, "Katherine", "Davis"},
		{"Margaret", "Wilson", "Margaret", "Wilson", []string{"Peggy", "Maggie"}, "Margaret", "Wilson"},
	},
	"GB": {
		{"James", "Taylor", "James", "Taylor", []string{"Jim", "Jamie"}, "James", "Taylor"},
		{"Charlotte", "Evans", "Charlotte", "Evans", []string{"Charlie"}, "Charlotte", "Evans"},
		{"Thomas", "Hughes", "Thomas", "Hughes", []string{"Tom"}, "Thomas", "Hughes"},
	},
	"IN": {
		{"Priya", "Sharma", "Priya", "Sharma", nil, "Priya", "Sharma"},
		{"Rahul", "Verma", "Rahul", "Verma", nil, "Rahul", "Verma"},
		{"Ananya", "Iyer", "Ananya", "Iyer", nil, "Ananya", "Iyer"},
	},
	"BR": {
		{"João", "Silva", "João", "Silva", nil, "Joao", "Silva"},
		{"Luíza", "Pereira", "Luíza", "Pereira", nil, "Luiza", "Pereira"},
	},
	"NG": {
		{"Chinedu", "Okafor", "Chinedu", "Okafor", nil, "Chinedu", "Okafor"},
		{"Ngozi", "Adeyemi", "Ngozi", "Adeyemi", nil, "Ngozi", "Adeyemi"},
	},
	"PH": {
		{"Maria", "Santos", "Maria", "Santos", nil, "Maria", "Santos"},
		{"Jose", "Reyes", "Jose", "Reyes", nil, "Jose", "Reyes"},
	},
}

// homeCountries are where the marketplace's people live, weighted roughly
// by its traffic.
var homeCountries = []string{"US", "US", "GB", "DE", "FR", "ES", "PL", "UA", "UA", "RU", "GR", "RS", "IN", "IN", "BR", "NG", "PH"}

// freeMail are the big mail providers honest people use.
var freeMail = []string{"gmail.com", "gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "gmx.de", "mail.ru", "ukr.net"}

// disposableMail are temporary-mailbox domains from the email detector's list.
var disposableMail = []string{"mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com", "trashmail.com"}

// vendors are identity vendors and the verdict words each sends for a
// document it approved and for one it believes forged. Marketplaces pass
// their vendor's word through as attributes.document.vendor_verdict.
var vendors = []struct{ name, approved, forged string }{
	{"onfido", "clear", "consider"},
	{"veriff", "approved", "declined"},
	{"jumio", "APPROVED_VERIFIED", "DENIED_FRAUD"},
	{"sumsub", "GREEN", "RED"},
	{"persona", "approved", "fraud_suspected"},
}

// ipPool finds addresses in the geo detector's own database, so the geo
// detector sees exactly the country and network the scenario intends. It
// samples random IPv4 addresses and files every one it looks up by country
// and network kind, so later requests are served from what earlier ones
// found.
type ipPool struct {
	db      *geoip.DB
	hosting *geoip.Hosting
	rng     *rand.Rand
	found   map[poolKey][]netip.Addr
}

type poolKey struct {
	country string
	hosting bool
}

func newIPPool(db *geoip.DB, h *geoip.Hosting, seed uint64) *ipPool {
	return &ipPool{db: db, hosting: h, rng: rand.New(rand.NewPCG(seed, 0x1b)), found: map[poolKey][]netip.Addr{}}
}

// residential returns an unused non-hosting IPv4 address in country.
func (p *ipPool) residential(country string) string { return p.find(country, false) }

// vpn returns an unused hosting-network (VPN exit, VPS) address in country.
func (p *ipPool) vpn(country string) string { return p.find(country, true) }

func (p *ipPool) find(country string, hosting bool) string {
	want := poolKey{country, hosting}
	for range 50_000_000 {
		if q := p.found[want]; len(q) > 0 {
			p.found[want] = q[1:]
			return q[0].String()
		}
		v := p.rng.Uint32()
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		if !a.IsGlobalUnicast() || a.IsPrivate() {
			continue
		}
		r := p.db.Lookup(a)
		if r.Country == "" || r.ASN == 0 {
			continue
		}
		_, isHosting := p.hosting.Match(r.ASN, r.Org)
		k := poolKey{r.Country, isHosting}
		if len(p.found[k]) < 4096 {
			p.found[k] = append(p.found[k], a)
		}
	}
	panic(fmt.Sprintf("scenarios: no %s address (hosting %v) in the geo database", country, hosting))
}

// phone returns a valid number of the given type (MOBILE or VOIP) in
// country, in E.164, varied from libphonenumber's example number.
func phone(rng *rand.Rand, country string, typ phonenumbers.PhoneNumberType) string {
	ex := phonenumbers.GetExampleNumberForType(country, typ)
	if ex == nil {
		ex = phonenumbers.GetExampleNumberForType(country, phonenumbers.MOBILE)
	}
	base := ex.GetNationalNumber()
	for range 50 {
		n := proto.Clone(ex).(*phonenumbers.PhoneNumber)
		nn := base - base%1000 + uint64(rng.IntN(1000))
		n.NationalNumber = &nn
		if phonenumbers.IsValidNumber(n) {
			return phonenumbers.Format(n, phonenumbers.E164)
		}
	}
	return phonenumbers.Format(ex, phonenumbers.E164)
}

// email builds an honest-looking address from a name.
func honestEmail(rng *rand.Rand, n nameForm) string {
	g, f := asciiLower(n.romGiven), asciiLower(n.romFamily)
	var local string
	switch rng.IntN(4) {
	case 0:
		local = g + "." + f
	case 1:
		local = g[:1] + f + fmt.Sprint(70+rng.IntN(30))
	case 2:
		local = f + "." + g
	default:
		local = g + f
	}
	return local + "@" + freeMail[rng.IntN(len(freeMail))]
}

// asciiLower keeps the ASCII letters of s, lower-cased.
func asciiLower(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

func randomLocal(rng *rand.Rand) string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8+rng.IntN(6))
	for i := range b {
		b[i] = alnum[rng.IntN(len(alnum))]
	}
	return string(b)
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }
