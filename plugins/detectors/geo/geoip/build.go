package geoip

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
)

// Builder turns the ip-location-db CSV files into a database. Feed it every
// country and ASN file (IPv4 and IPv6 alike), then Write.
type Builder struct {
	country []span[string]
	asn     []span[uint32]
	orgs    map[uint32]string
}

// span is one input range, inclusive, with IPv4 as the low 32 bits.
type span[V comparable] struct {
	v6         bool
	start, end u128
	val        V
}

// AddCountryCSV reads rows "first_ip,last_ip,country_code" (the
// geo-whois-asn-country-ipv4.csv / -ipv6.csv layout).
func (b *Builder) AddCountryCSV(name string, r io.Reader) error {
	return readCSV(name, r, 3, func(rec []string) error {
		sp, err := parseSpan[string](rec[0], rec[1])
		if err != nil {
			return err
		}
		cc := rec[2]
		if !isCountry(cc) {
			return fmt.Errorf("country %q is not an ISO 3166-1 alpha-2 code", cc)
		}
		sp.val = cc
		b.country = append(b.country, sp)
		return nil
	})
}

// AddASNCSV reads rows "first_ip,last_ip,asn,organisation" (the
// asn-ipv4.csv / asn-ipv6.csv layout).
func (b *Builder) AddASNCSV(name string, r io.Reader) error {
	if b.orgs == nil {
		b.orgs = map[uint32]string{}
	}
	return readCSV(name, r, 4, func(rec []string) error {
		sp, err := parseSpan[uint32](rec[0], rec[1])
		if err != nil {
			return err
		}
		asn, err := strconv.ParseUint(rec[2], 10, 32)
		if err != nil || asn == 0 {
			return fmt.Errorf("ASN %q is not a number from 1 to 4294967295", rec[2])
		}
		sp.val = uint32(asn)
		b.asn = append(b.asn, sp)
		if org := rec[3]; org != "" && len(org) <= 1024 {
			b.orgs[uint32(asn)] = org
		}
		return nil
	})
}

func readCSV(name string, r io.Reader, fields int, row func(rec []string) error) error {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.FieldsPerRecord = fields
	cr.ReuseRecord = true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := row(rec); err != nil {
			line, _ := cr.FieldPos(0)
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
}

func parseSpan[V comparable](first, last string) (span[V], error) {
	a, err := netip.ParseAddr(first)
	if err != nil {
		return span[V]{}, err
	}
	z, err := netip.ParseAddr(last)
	if err != nil {
		return span[V]{}, err
	}
	a, z = a.Unmap(), z.Unmap()
	if a.Is4() != z.Is4() || a.Zone() != "" || z.Zone() != "" {
		return span[V]{}, fmt.Errorf("range %s-%s mixes address families or has a zone", first, last)
	}
	if z.Less(a) {
		return span[V]{}, fmt.Errorf("range %s-%s ends before it starts", first, last)
	}
	sp := span[V]{v6: a.Is6()}
	if sp.v6 {
		sp.start, sp.end = key6(a), key6(z)
	} else {
		a4, z4 := a.As4(), z.As4()
		sp.start = u128{lo: uint64(binary.BigEndian.Uint32(a4[:]))}
		sp.end = u128{lo: uint64(binary.BigEndian.Uint32(z4[:]))}
	}
	return sp, nil
}

func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// point is where a value starts; it holds until the next point.
type point[V comparable] struct {
	at  u128
	val V
}

// compile turns inclusive ranges of one address family into sorted start
// points. Gaps between ranges get the zero value (unknown); a range inside
// another overrides it for its extent only, after which the outer one
// resumes; of two overlapping ranges the later-starting one wins where they
// overlap. Adjacent points with the same value merge.
func compile[V comparable](spans []span[V]) []point[V] {
	slices.SortStableFunc(spans, func(a, b span[V]) int {
		if c := cmp.Compare(a.start.hi, b.start.hi); c != 0 {
			return c
		}
		if c := cmp.Compare(a.start.lo, b.start.lo); c != 0 {
			return c
		}
		// Outer (longer) ranges first, so the inner one is on top.
		if c := cmp.Compare(b.end.hi, a.end.hi); c != 0 {
			return c
		}
		return cmp.Compare(b.end.lo, a.end.lo)
	})
	var zero V
	var out []point[V]
	emit := func(at u128, v V) {
		if n := len(out); n > 0 && out[n-1].at == at {
			out[n-1].val = v
		} else {
			out = append(out, point[V]{at, v})
		}
	}
	// stack holds the ranges covering the current address; ends grow from
	// the top down, so the top ends first.
	var stack []span[V]
	// unwind pops every range that ends before x (or all, when last), and
	// emits where the range beneath it, or a gap, resumes.
	unwind := func(x u128, last bool) {
		for n := len(stack); n > 0 && (last || stack[n-1].end.less(x)); n = len(stack) {
			top := stack[n-1]
			stack = stack[:n-1]
			resume, ok := top.end.next()
			if !ok {
				continue // ends at the last address
			}
			v := zero
			if len(stack) > 0 && !stack[len(stack)-1].end.less(resume) {
				v = stack[len(stack)-1].val
			}
			emit(resume, v)
		}
	}
	for _, s := range spans {
		unwind(s.start, false)
		// Ranges that end within s never resume: s covers them to their end.
		for n := len(stack); n > 0 && !s.end.less(stack[n-1].end); n = len(stack) {
			stack = stack[:n-1]
		}
		emit(s.start, s.val)
		stack = append(stack, s)
	}
	unwind(u128{}, true)
	return dedupe(out)
}

// Reserved are the special-purpose prefixes (RFC 6890 and the IANA
// registries) that never have a location, even where a registry's data
// assigns them one (APNIC's whois places 198.51.100.0/24 and 203.0.113.0/24
// in AU): documentation, private, shared, loopback, link-local, benchmarking,
// multicast and reserved space. The database answers "unknown" for them.
var Reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("224.0.0.0/3"), // multicast and 240/4
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:2::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("3fff::/20"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// carve makes [first, last] unknown in sorted points.
func carve[V comparable](ps []point[V], first, last u128) []point[V] {
	var zero V
	after, hasAfter := last.next()
	out := make([]point[V], 0, len(ps)+2)
	i := sort.Search(len(ps), func(i int) bool { return !ps[i].at.less(first) })
	out = append(out, ps[:i]...)
	out = append(out, point[V]{first, zero})
	if hasAfter {
		// The value holding at after: the last point at or before it.
		j := sort.Search(len(ps), func(j int) bool { return after.less(ps[j].at) })
		resume := zero
		if j > 0 {
			resume = ps[j-1].val
		}
		out = append(out, point[V]{after, resume})
		out = append(out, ps[j:]...)
	}
	return dedupe(out)
}

// dedupe merges runs of one value and drops a leading unknown.
func dedupe[V comparable](ps []point[V]) []point[V] {
	var zero V
	out := ps[:0]
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].val == p.val {
			continue
		}
		if len(out) == 0 && p.val == zero {
			continue
		}
		out = append(out, p)
	}
	return out
}

// compileFamily compiles one family's spans and carves the reserved prefixes.
func compileFamily[V comparable](spans []span[V], v6 bool) []point[V] {
	ps := compile(spans)
	for _, p := range Reserved {
		if p.Addr().Is6() != v6 {
			continue
		}
		first, last := prefixBounds(p)
		ps = carve(ps, first, last)
	}
	return ps
}

func prefixBounds(p netip.Prefix) (first, last u128) {
	p = p.Masked()
	if p.Addr().Is4() {
		b := p.Addr().As4()
		lo := uint64(binary.BigEndian.Uint32(b[:]))
		size := uint64(1) << (32 - p.Bits())
		return u128{lo: lo}, u128{lo: lo + size - 1}
	}
	first = key6(p.Addr())
	last = first
	host := 128 - p.Bits()
	switch {
	case host >= 64:
		last.lo = ^uint64(0)
		if host > 64 {
			last.hi |= (uint64(1) << (host - 64)) - 1
		}
	case host > 0:
		last.lo |= (uint64(1) << host) - 1
	}
	return first, last
}

func split[V comparable](spans []span[V]) (v4, v6 []span[V]) {
	for _, s := range spans {
		if s.v6 {
			v6 = append(v6, s)
		} else {
			v4 = append(v4, s)
		}
	}
	return v4, v6
}

// Write writes the database, gzip-compressed, and reports the entries of
// each table.
func (b *Builder) Write(w io.Writer) (map[string]int, error) {
	c4, c6 := split(b.country)
	a4, a6 := split(b.asn)
	pc4, pc6 := compileFamily(c4, false), compileFamily(c6, true)
	pa4, pa6 := compileFamily(a4, false), compileFamily(a6, true)

	var codes []string
	index := map[string]uint8{"": 0}
	for _, ps := range [][]point[string]{pc4, pc6} {
		for _, p := range ps {
			if _, ok := index[p.val]; !ok {
				codes = append(codes, p.val)
			}
			index[p.val] = 0
		}
	}
	slices.Sort(codes)
	if len(codes) > 255 {
		return nil, fmt.Errorf("%d country codes do not fit a byte", len(codes))
	}
	for i, c := range codes {
		index[c] = uint8(i + 1)
	}
	// Only organisations of ASNs that some range still points at.
	used := map[uint32]bool{}
	for _, ps := range [][]point[uint32]{pa4, pa6} {
		for _, p := range ps {
			used[p.val] = true
		}
	}
	asns := make([]uint32, 0, len(used))
	for a := range used {
		if _, ok := b.orgs[a]; ok && a != 0 {
			asns = append(asns, a)
		}
	}
	slices.Sort(asns)

	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(zw, 1<<16)
	bw.WriteString(magic)
	section := func(tag byte, n int) {
		var h [5]byte
		h[0] = tag
		binary.BigEndian.PutUint32(h[1:], uint32(n))
		bw.Write(h[:])
	}
	var buf [20]byte
	section(tagCountries, len(codes))
	for _, c := range codes {
		bw.WriteString(c)
	}
	section(tagCountry4, len(pc4))
	for _, p := range pc4 {
		binary.BigEndian.PutUint32(buf[:], uint32(p.at.lo))
		buf[4] = index[p.val]
		bw.Write(buf[:5])
	}
	section(tagCountry6, len(pc6))
	for _, p := range pc6 {
		binary.BigEndian.PutUint64(buf[:], p.at.hi)
		binary.BigEndian.PutUint64(buf[8:], p.at.lo)
		buf[16] = index[p.val]
		bw.Write(buf[:17])
	}
	section(tagASN4, len(pa4))
	for _, p := range pa4 {
		binary.BigEndian.PutUint32(buf[:], uint32(p.at.lo))
		binary.BigEndian.PutUint32(buf[4:], p.val)
		bw.Write(buf[:8])
	}
	section(tagASN6, len(pa6))
	for _, p := range pa6 {
		binary.BigEndian.PutUint64(buf[:], p.at.hi)
		binary.BigEndian.PutUint64(buf[8:], p.at.lo)
		binary.BigEndian.PutUint32(buf[16:], p.val)
		bw.Write(buf[:20])
	}
	section(tagOrgs, len(asns))
	for _, a := range asns {
		binary.BigEndian.PutUint32(buf[:], a)
		bw.Write(buf[:4])
		n := binary.PutUvarint(buf[4:], uint64(len(b.orgs[a])))
		bw.Write(buf[4 : 4+n])
		bw.WriteString(b.orgs[a])
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return map[string]int{
		"countries": len(codes), "country_v4": len(pc4), "country_v6": len(pc6),
		"asn_v4": len(pa4), "asn_v6": len(pa6), "as_orgs": len(asns),
	}, nil
}
