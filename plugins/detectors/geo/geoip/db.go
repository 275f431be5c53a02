// Package geoip is gavel's geo detector: it maps the request's IP address to a
// country and an autonomous system, flags hosting and datacenter networks,
// and compares the IP's country with the one the account claims. The lookup
// tables are sorted range starts searched by binary search, IPv4 and IPv6
// apart, loaded once from the compact database data/update.sh writes. The
// main package beside it serves it over the detector protocol.
package geoip

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"sort"
)

// magic opens a database file; the last byte is the format version.
const magic = "gavel-geo\x01"

// Section tags, in the order Write emits them.
const (
	tagCountries = 'C' // country code table; index 0 is unknown
	tagCountry4  = '4' // IPv4 range starts → country index
	tagCountry6  = '6' // IPv6 range starts → country index
	tagASN4      = 'a' // IPv4 range starts → ASN (0: unknown)
	tagASN6      = 'b' // IPv6 range starts → ASN
	tagOrgs      = 'n' // ASN → organisation name
)

// maxEntries bounds each section so a corrupt count cannot allocate wildly.
const maxEntries = 1 << 24

// DB answers IP lookups. It is immutable once loaded and safe for concurrent
// use. Its tables live outside the Go heap (see region).
type DB struct {
	countries []string // index 0 is ""
	country4  table4[uint8]
	country6  table6[uint8]
	asn4      table4[uint32]
	asn6      table6[uint32]
	// AS organisations: orgASN sorted; the name of orgASN[i] is
	// orgNames[orgEnd[i-1]:orgEnd[i]] (from 0 for the first).
	orgASN   []uint32
	orgEnd   []uint32
	orgNames []byte
}

// Result is what the database knows of one address. Zero fields are unknown.
type Result struct {
	Country string // ISO 3166-1 alpha-2
	ASN     uint32
	Org     string // the AS organisation's name
}

// Lookup returns what the database knows of addr. IPv4-mapped IPv6
// addresses are looked up as IPv4.
func (db *DB) Lookup(addr netip.Addr) Result {
	addr = addr.Unmap()
	var r Result
	switch {
	case addr.Is4():
		b := addr.As4()
		k := binary.BigEndian.Uint32(b[:])
		r.Country = db.countries[db.country4.find(k)]
		r.ASN = db.asn4.find(k)
	case addr.Is6():
		k := key6(addr)
		r.Country = db.countries[db.country6.find(k)]
		r.ASN = db.asn6.find(k)
	}
	if r.ASN != 0 {
		r.Org = db.org(r.ASN)
	}
	return r
}

// org is the name of the organisation of asn, "" when unknown. The name is
// copied: it outlives the mapping that holds it.
func (db *DB) org(asn uint32) string {
	i, ok := slices.BinarySearch(db.orgASN, asn)
	if !ok {
		return ""
	}
	var from uint32
	if i > 0 {
		from = db.orgEnd[i-1]
	}
	return string(db.orgNames[from:db.orgEnd[i]])
}

// Stats counts the entries of each table, for logs.
func (db *DB) Stats() map[string]int {
	return map[string]int{
		"country_v4": len(db.country4.starts), "country_v6": len(db.country6.starts),
		"asn_v4": len(db.asn4.starts), "asn_v6": len(db.asn6.starts), "as_orgs": len(db.orgASN),
	}
}

// u128 is an IPv6 address as a number.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) next() (u128, bool) {
	if a.lo == ^uint64(0) {
		if a.hi == ^uint64(0) {
			return u128{}, false
		}
		return u128{a.hi + 1, 0}, true
	}
	return u128{a.hi, a.lo + 1}, true
}

func key6(addr netip.Addr) u128 {
	b := addr.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// table4 maps IPv4 ranges to values: starts[i] begins a range holding vals[i]
// that runs to the next start. Gaps hold the zero value.
type table4[V comparable] struct {
	starts []uint32
	vals   []V
}

func (t *table4[V]) find(k uint32) V {
	// The last start <= k.
	i := sort.Search(len(t.starts), func(i int) bool { return t.starts[i] > k }) - 1
	if i < 0 {
		var zero V
		return zero
	}
	return t.vals[i]
}

type table6[V comparable] struct {
	starts []u128
	vals   []V
}

func (t *table6[V]) find(k u128) V {
	i := sort.Search(len(t.starts), func(i int) bool { return k.less(t.starts[i]) }) - 1
	if i < 0 {
		var zero V
		return zero
	}
	return t.vals[i]
}

// Load reads a database written by Write (gzip-compressed).
func Load(r io.Reader) (*DB, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("geo database: %w", err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 1<<16)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != magic {
		return nil, errors.New("geo database: not a gavel geo database (version 1)")
	}
	db, mem := &DB{}, &region{}
	for _, tag := range []byte{tagCountries, tagCountry4, tagCountry6, tagASN4, tagASN6, tagOrgs} {
		if err := db.readSection(br, mem, tag); err != nil {
			mem.free()
			return nil, fmt.Errorf("geo database: section %q: %w", tag, err)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		mem.free()
		return nil, errors.New("geo database: trailing data")
	}
	if err := mem.seal(db); err != nil {
		return nil, fmt.Errorf("geo database: %w", err)
	}
	return db, nil
}

func (db *DB) readSection(r *bufio.Reader, mem *region, tag byte) error {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	if hdr[0] != tag {
		return fmt.Errorf("found section %q", hdr[0])
	}
	n := int(binary.BigEndian.Uint32(hdr[1:]))
	if n > maxEntries {
		return fmt.Errorf("%d entries is implausible", n)
	}
	buf := make([]byte, 20)
	switch tag {
	case tagCountries:
		db.countries = make([]string, n+1)
		for i := 1; i <= n; i++ {
			if _, err := io.ReadFull(r, buf[:2]); err != nil {
				return err
			}
			db.countries[i] = string(buf[:2])
		}
		if n > 255 {
			return fmt.Errorf("%d countries do not fit a byte", n)
		}
	case tagCountry4:
		starts, vals, err := readTable(r, mem, n, 4, 1, key4, less4, db.country)
		if err != nil {
			return err
		}
		db.country4 = table4[uint8]{starts, vals}
	case tagASN4:
		starts, vals, err := readTable(r, mem, n, 4, 4, key4, less4, asn)
		if err != nil {
			return err
		}
		db.asn4 = table4[uint32]{starts, vals}
	case tagCountry6:
		starts, vals, err := readTable(r, mem, n, 16, 1, key128, u128.less, db.country)
		if err != nil {
			return err
		}
		db.country6 = table6[uint8]{starts, vals}
	case tagASN6:
		starts, vals, err := readTable(r, mem, n, 16, 4, key128, u128.less, asn)
		if err != nil {
			return err
		}
		db.asn6 = table6[uint32]{starts, vals}
	case tagOrgs:
		asns, err := alloc[uint32](mem, n)
		if err != nil {
			return err
		}
		ends, err := alloc[uint32](mem, n)
		if err != nil {
			return err
		}
		var names []byte
		for i := range n {
			if _, err := io.ReadFull(r, buf[:4]); err != nil {
				return err
			}
			asns[i] = binary.BigEndian.Uint32(buf)
			if i > 0 && asns[i] <= asns[i-1] {
				return fmt.Errorf("AS%d is out of order", asns[i])
			}
			l, err := binary.ReadUvarint(r)
			if err != nil {
				return err
			}
			if l > 1024 {
				return fmt.Errorf("AS%d: name of %d bytes is implausible", asns[i], l)
			}
			names = append(names, make([]byte, l)...)
			if _, err := io.ReadFull(r, names[len(names)-int(l):]); err != nil {
				return err
			}
			if len(names) > math.MaxUint32 {
				return errors.New("names are implausibly long")
			}
			ends[i] = uint32(len(names))
		}
		blob, err := alloc[byte](mem, len(names))
		if err != nil {
			return err
		}
		copy(blob, names)
		db.orgASN, db.orgEnd, db.orgNames = asns, ends, blob
	}
	return nil
}

// readTable reads n entries of a range table into mem: each a key of
// keyWidth bytes, strictly increasing, then a value of valWidth bytes.
func readTable[K, V any](r io.Reader, mem *region, n, keyWidth, valWidth int,
	key func([]byte) K, less func(a, b K) bool, val func([]byte) (V, error)) ([]K, []V, error) {
	starts, err := alloc[K](mem, n)
	if err != nil {
		return nil, nil, err
	}
	vals, err := alloc[V](mem, n)
	if err != nil {
		return nil, nil, err
	}
	buf := make([]byte, keyWidth+valWidth)
	for i := range n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, nil, err
		}
		starts[i] = key(buf)
		if i > 0 && !less(starts[i-1], starts[i]) {
			return nil, nil, fmt.Errorf("entry %d is out of order", i)
		}
		if vals[i], err = val(buf[keyWidth:]); err != nil {
			return nil, nil, fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return starts, vals, nil
}

func key4(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

func less4(a, b uint32) bool { return a < b }

func key128(b []byte) u128 {
	return u128{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
}

// country is a table value: an index into the country table.
func (db *DB) country(b []byte) (uint8, error) {
	if int(b[0]) >= len(db.countries) {
		return 0, fmt.Errorf("country index %d out of range", b[0])
	}
	return b[0], nil
}

func asn(b []byte) (uint32, error) { return binary.BigEndian.Uint32(b), nil }
