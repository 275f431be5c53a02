package emailrisk

import (
	"slices"
	"strings"
)

// domainList is a byte-sorted set of domains, searched by binary search. Its
// strings point into the text it was parsed from, so parsing copies no domain.
type domainList []string

func parseList(text string) domainList {
	l := domainList(strings.Fields(text))
	if !slices.IsSorted(l) {
		slices.Sort(l)
	}
	return slices.Compact(l)
}

func (l domainList) has(domain string) bool {
	_, ok := slices.BinarySearch(l, domain)
	return ok
}

// Lists are the domain lists the detector matches against.
type Lists struct {
	Disposable         domainList // exact domains
	DisposableWildcard domainList // the domain and any of its subdomains
	Free               domainList // free webmail providers, exact domains
}

// ParseLists parses the lists from their text: one domain a line, as
// data/update.sh writes them (the email command embeds those files).
func ParseLists(disposable, disposableWildcard, free string) *Lists {
	return &Lists{
		Disposable:         parseList(disposable),
		DisposableWildcard: parseList(disposableWildcard),
		Free:               parseList(free),
	}
}

// disposableMatch reports the list entry that makes domain disposable:
// domain itself, or a parent of it down to its registrable domain
// (sub.mailinator.com matches mailinator.com). It never matches a public
// suffix such as co.uk.
func (l *Lists) disposableMatch(domain, registrable string) (matched, how string, ok bool) {
	for d := domain; ; {
		if l.Disposable.has(d) {
			if d == domain {
				return d, "exact", true
			}
			return d, "parent", true
		}
		if l.DisposableWildcard.has(d) {
			return d, "wildcard", true
		}
		if d == registrable || registrable == "" {
			return "", "", false
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return "", "", false
		}
		d = d[i+1:]
	}
}
