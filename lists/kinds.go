package lists

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Kind is what a list's values are.
type Kind string

// The kinds of list.
const (
	Email          Kind = "email"
	EmailDomain    Kind = "email_domain"
	Phone          Kind = "phone"
	DeviceID       Kind = "device_id"
	IP             Kind = "ip" // addresses and CIDR ranges, IPv4 and IPv6
	PayoutAccount  Kind = "payout_account"
	DocumentNumber Kind = "document_number"
	SubjectID      Kind = "subject_id"
)

// Kinds lists every kind, in the order documentation shows them.
var Kinds = []Kind{Email, EmailDomain, Phone, DeviceID, IP, PayoutAccount, DocumentNumber, SubjectID}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k.code() != 0 }

// Personal reports whether values of the kind are personal data, stored only
// as keyed hashes.
func (k Kind) Personal() bool {
	switch k {
	case Email, Phone, PayoutAccount, DocumentNumber:
		return true
	}
	return false
}

// code is the kind's byte in the in-memory index keys.
func (k Kind) code() byte {
	for i, x := range Kinds {
		if x == k {
			return byte(i + 1)
		}
	}
	return 0
}

// Field is where in a decision request a kind's value is read: the name the
// policy sees in input.lists[_].field.
func (k Kind) Field() string {
	switch k {
	case Email, EmailDomain:
		return "subject.profile.email"
	case Phone:
		return "subject.profile.phone"
	case DeviceID:
		return "context.device_id"
	case IP:
		return "context.ip"
	case PayoutAccount:
		return "attributes.payout.account_hash"
	case DocumentNumber:
		return "attributes.document.number"
	case SubjectID:
		return "subject.id"
	}
	return ""
}

// Purpose is what a list is for.
type Purpose string

// The purposes of a list.
const (
	Block Purpose = "block"
	Allow Purpose = "allow"
)

// Widest IP ranges a list may hold: a list is not a way to block the
// internet.
const (
	MinPrefixV4 = 8
	MinPrefixV6 = 32
)

// hashedPrefix marks a stored key that is a keyed hash; an operator may also
// give a value already in this form (as export writes it).
const hashedPrefix = "hmac:"

const maxValueBytes = 512

// normalise returns the canonical form of v for kind k, before hashing: the
// form both list entries and request fields are reduced to, so that
// "Ana@Example.COM " and "ana@example.com" are one entry.
func normalise(k Kind, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errors.New("is empty")
	}
	if len(v) > maxValueBytes || !utf8.ValidString(v) {
		return "", fmt.Errorf("is not valid UTF-8 text of at most %d bytes", maxValueBytes)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "", errors.New("contains a control character")
		}
	}
	switch k {
	case Email:
		return normaliseEmail(v)
	case EmailDomain:
		d := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(v), "*."), "@")
		return normaliseDomain(d)
	case Phone:
		return normalisePhone(v)
	case IP:
		p, err := ParseRange(v)
		if err != nil {
			return "", err
		}
		return p.String(), nil
	case DocumentNumber:
		n := normaliseDocument(v)
		if len(n) < 3 || len(n) > 64 || strings.IndexFunc(n, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			return "", fmt.Errorf("%q is not a document number (3 to 64 letters and digits)", v)
		}
		return n, nil
	case PayoutAccount:
		if strings.ContainsAny(v, " \t") {
			return "", fmt.Errorf("%q is not a payout account reference (no spaces)", v)
		}
		return strings.ToLower(v), nil
	case DeviceID, SubjectID:
		if len(v) > 256 {
			return "", errors.New("is longer than 256 bytes")
		}
		return v, nil
	}
	return "", fmt.Errorf("unknown kind %q", k)
}

func normaliseEmail(v string) (string, error) {
	v = strings.ToLower(v)
	local, domain, ok := strings.Cut(v, "@")
	if !ok || local == "" || strings.Contains(domain, "@") || len(local) > 64 ||
		strings.ContainsAny(local, " \t\"(),:;<>[\\]") {
		return "", fmt.Errorf("%q is not an email address", v)
	}
	d, err := normaliseDomain(domain)
	if err != nil {
		return "", fmt.Errorf("%q is not an email address: domain %w", v, err)
	}
	return local + "@" + d, nil
}

func normaliseDomain(d string) (string, error) {
	d = strings.TrimSuffix(d, ".")
	if _, err := netip.ParseAddr(d); err == nil {
		return "", fmt.Errorf("%q is an IP address, not a domain", d)
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil || !strings.Contains(a, ".") || len(a) > 253 {
		return "", fmt.Errorf("%q is not a domain name", d)
	}
	return a, nil
}

// normalisePhone accepts an international number, +CC followed by 7 to 15
// digits in all, with spaces, dashes, dots and parentheses ignored.
func normalisePhone(v string) (string, error) {
	var b strings.Builder
	for i, r := range v {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("%q is not a phone number in international form (+CC…)", v)
		}
	}
	p := b.String()
	if !strings.HasPrefix(p, "+") || len(p) < 8 || len(p) > 16 || p[1] == '0' {
		return "", fmt.Errorf("%q is not a phone number in international form (+CC…)", v)
	}
	return p, nil
}

// normaliseDocument upper-cases a document number and drops the spaces,
// dashes, dots and slashes vendors and users put in it, as the linkage
// detector does.
func normaliseDocument(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '/', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(s)))
}

// ParseRange parses an IP address or CIDR range for an ip list: a single
// address is its /32 or /128; IPv4-mapped IPv6 is IPv4; ranges wider than
// /8 (IPv4) or /32 (IPv6) are refused; host bits must be zero.
func ParseRange(v string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(v, "/") {
		var err error
		if p, err = netip.ParsePrefix(v); err != nil {
			return p, fmt.Errorf("%q is not an IP address or CIDR range", v)
		}
		if p.Addr().Zone() != "" {
			return p, fmt.Errorf("%q has a zone", v)
		}
		if p.Addr().Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return p, fmt.Errorf("%q is not an IPv4 range", v)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		if err := checkWidth(v, p); err != nil {
			return p, err
		}
		if p.Masked() != p {
			return p, fmt.Errorf("%q has host bits set; the range is %s", v, p.Masked())
		}
		return p, nil
	} else {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return p, fmt.Errorf("%q is not an IP address or CIDR range", v)
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p, nil
}

func checkWidth(v string, p netip.Prefix) error {
	if p.Addr().Is4() && p.Bits() < MinPrefixV4 {
		return fmt.Errorf("%q is wider than /%d", v, MinPrefixV4)
	}
	if p.Addr().Is6() && p.Bits() < MinPrefixV6 {
		return fmt.Errorf("%q is wider than /%d", v, MinPrefixV6)
	}
	return nil
}
