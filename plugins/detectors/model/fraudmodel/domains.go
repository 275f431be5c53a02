package fraudmodel

import "strings"

// A small, deliberately incomplete view of email domains: the email detector
// owns the full lists. The model only needs a coarse free/disposable/other
// split, plus a lexical test so that unseen throwaway domains still count.

var freeDomains = set(`gmail.com googlemail.com yahoo.com yahoo.fr yahoo.co.uk outlook.com
hotmail.com hotmail.fr live.com msn.com icloud.com me.com aol.com proton.me protonmail.com
gmx.de gmx.net web.de yandex.ru mail.ru orange.fr laposte.net free.fr qq.com 163.com zoho.com
rediffmail.com libero.it`)

var disposableDomains = set(`mailinator.com guerrillamail.com 10minutemail.com temp-mail.org
yopmail.com trashmail.com sharklasers.com getnada.com dispostable.com maildrop.cc tempmail.dev
throwawaymail.com emailondeck.com mohmal.com moakt.com mintemail.com fakeinbox.com
spamgourmet.com tempr.email discard.email`)

// disposableWords are fragments of throwaway-mail brand names.
var disposableWords = []string{"temp", "trash", "throwaway", "disposable", "10minute", "fakeinbox", "burner", "spam"}

var cheapTLDs = set(`top xyz click online site icu buzz monster rest cyou sbs`)

func disposableLike(domain string) bool {
	if disposableDomains[domain] {
		return true
	}
	for _, w := range disposableWords {
		if strings.Contains(domain, w) {
			return true
		}
	}
	return false
}

func cheapTLD(domain string) bool {
	i := strings.LastIndexByte(domain, '.')
	return i >= 0 && cheapTLDs[domain[i+1:]]
}

// callingCodes maps a calling code to the countries that use it.
var callingCodes = map[string][]string{
	"1": {"US", "CA"}, "7": {"RU", "KZ"}, "20": {"EG"}, "31": {"NL"}, "33": {"FR"}, "34": {"ES"},
	"39": {"IT"}, "40": {"RO"}, "44": {"GB"}, "48": {"PL"}, "49": {"DE"}, "52": {"MX"},
	"55": {"BR"}, "61": {"AU"}, "62": {"ID"}, "63": {"PH"}, "84": {"VN"}, "86": {"CN"},
	"90": {"TR"}, "91": {"IN"}, "92": {"PK"}, "234": {"NG"}, "254": {"KE"}, "380": {"UA"},
	"880": {"BD"},
}

// phoneCountryMismatch reports an E.164 number whose calling code is known
// and is not the claimed country's. Unknown codes and missing values are not
// a mismatch: the phone detector judges those.
func phoneCountryMismatch(phone, country string) bool {
	phone = strings.TrimSpace(phone)
	country = strings.ToUpper(strings.TrimSpace(country))
	if !strings.HasPrefix(phone, "+") || country == "" {
		return false
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
	for n := 3; n >= 1; n-- {
		if len(digits) < n {
			continue
		}
		if cs, ok := callingCodes[digits[:n]]; ok {
			for _, c := range cs {
				if c == country {
					return false
				}
			}
			return true
		}
	}
	return false
}

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
