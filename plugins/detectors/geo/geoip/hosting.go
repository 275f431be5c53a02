package geoip

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Hosting recognises hosting and datacenter networks by ASN or by a pattern
// in the AS organisation's name.
type Hosting struct {
	asns     map[uint32]string // ASN → provider
	patterns []string          // lower-case substrings of organisation names
}

// HostingMatch says why a network is a hosting network.
type HostingMatch struct {
	Provider string // for an ASN match
	Pattern  string // for an organisation-name match
}

// ParseHosting parses the curated list (data/hosting.txt): "AS<n> provider"
// and "org pattern" lines, '#' comments. Errors name the line.
func ParseHosting(text string) (*Hosting, error) {
	h := &Hosting{asns: map[uint32]string{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch {
		case key == "org":
			if rest == "" {
				return nil, fmt.Errorf("hosting list line %d: org needs a pattern", n)
			}
			h.patterns = append(h.patterns, strings.ToLower(rest))
		case strings.HasPrefix(key, "AS"):
			asn, err := strconv.ParseUint(key[2:], 10, 32)
			if err != nil || asn == 0 || rest == "" {
				return nil, fmt.Errorf("hosting list line %d: want \"AS<number> <provider>\", got %q", n, line)
			}
			h.asns[uint32(asn)] = rest
		default:
			return nil, fmt.Errorf("hosting list line %d: want \"AS<number> <provider>\" or \"org <pattern>\", got %q", n, line)
		}
	}
	if len(h.asns) == 0 && len(h.patterns) == 0 {
		return nil, fmt.Errorf("hosting list is empty")
	}
	return h, sc.Err()
}

// Match reports whether the network (asn, org) is a hosting network.
func (h *Hosting) Match(asn uint32, org string) (HostingMatch, bool) {
	if p, ok := h.asns[asn]; ok && asn != 0 {
		return HostingMatch{Provider: p}, true
	}
	if org == "" {
		return HostingMatch{}, false
	}
	lower := strings.ToLower(org)
	for _, p := range h.patterns {
		if strings.Contains(lower, p) {
			return HostingMatch{Pattern: p}, true
		}
	}
	return HostingMatch{}, false
}
