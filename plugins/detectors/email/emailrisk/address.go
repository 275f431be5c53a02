package emailrisk

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Address is a syntactically valid email address, split and normalised.
type Address struct {
	Local       string // as given, case kept
	Domain      string // lower-case ASCII (punycode)
	Registrable string // the domain's registrable part (eTLD+1), "" if none
	Tag         string // text after the first '+' in the local part, "" if none
	Mailbox     string // lower-case local part without the tag
}

// Reasons a string is not a usable address; also the invalid signal's value.
const (
	reasonEmpty        = "empty"
	reasonTooLong      = "too_long"
	reasonAt           = "missing_or_extra_at"
	reasonLocalLength  = "local_part_length"
	reasonLocalDots    = "local_part_dots"
	reasonLocalChars   = "local_part_characters"
	reasonDomain       = "domain_syntax"
	reasonDomainLabels = "domain_single_label"
	reasonTLD          = "top_level_domain"
)

// ParseAddress validates s as the address a person would type (dot-atom local
// part, Unicode letters allowed; no quoted local parts, comments or IP
// literals) and returns it, or the reason it is invalid.
func ParseAddress(s string) (Address, string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Address{}, reasonEmpty
	case len(s) > 254:
		return Address{}, reasonTooLong
	case strings.Count(s, "@") != 1:
		return Address{}, reasonAt
	}
	local, domain, _ := strings.Cut(s, "@")
	if n := len(local); n == 0 || n > 64 {
		return Address{}, reasonLocalLength
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return Address{}, reasonLocalDots
	}
	if !utf8.ValidString(local) || strings.IndexFunc(local, badLocalRune) >= 0 {
		return Address{}, reasonLocalChars
	}
	ascii, reason := normaliseDomain(domain)
	if reason != "" {
		return Address{}, reason
	}
	a := Address{Local: local, Domain: ascii}
	a.Registrable, _ = publicsuffix.EffectiveTLDPlusOne(ascii)
	mailbox, tag, _ := strings.Cut(strings.ToLower(local), "+")
	a.Mailbox, a.Tag = mailbox, tag
	return a, ""
}

// badLocalRune reports a rune not allowed in an unquoted local part
// (RFC 5322 atext plus '.', and RFC 6531 non-ASCII letters and digits).
func badLocalRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	case r < utf8.RuneSelf:
		return !strings.ContainsRune(".!#$%&'*+-/=?^_`{|}~", r)
	default:
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	}
}

// normaliseDomain returns domain as lower-case ASCII, or why it is invalid.
func normaliseDomain(domain string) (string, string) {
	domain = strings.TrimSuffix(domain, ".")
	if domain == "" {
		return "", reasonDomain
	}
	ascii, err := idna.Lookup.ToASCII(strings.ToLower(domain))
	if err != nil || len(ascii) > 253 {
		return "", reasonDomain
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", reasonDomainLabels
	}
	for _, l := range labels {
		if !hostLabel(l) {
			return "", reasonDomain
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 || strings.Trim(tld, "0123456789") == "" {
		return "", reasonTLD
	}
	return ascii, ""
}

func hostLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// gmailLike reports a provider that ignores dots in the local part.
func gmailLike(domain string) bool {
	return domain == "gmail.com" || domain == "googlemail.com"
}
