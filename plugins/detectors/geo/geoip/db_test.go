package geoip

import (
	"bytes"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
)

// fixtureDB builds a database from testdata/ through the same path update.sh takes.
func fixtureDB(t testing.TB) *DB {
	t.Helper()
	var b Builder
	open := func(name string) *os.File {
		f, err := os.Open("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	if err := b.AddCountryCSV("country.csv", open("country.csv")); err != nil {
		t.Fatal(err)
	}
	if err := b.AddASNCSV("asn.csv", open("asn.csv")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := b.Write(&buf); err != nil {
		t.Fatal(err)
	}
	db, err := Load(&buf)
	if err != nil {
		t.Fatalf("Load(Write()) error: %v", err)
	}
	return db
}

func TestLookupFixture(t *testing.T) {
	t.Parallel()
	db := fixtureDB(t)
	tests := []struct {
		ip   string
		want Result
	}{
		{"1.0.0.0", Result{"AU", 13335, "Cloudflare, Inc."}},
		{"1.0.0.255", Result{"AU", 13335, "Cloudflare, Inc."}},
		{"1.0.1.0", Result{"CN", 0, ""}},
		{"1.0.3.255", Result{"CN", 0, ""}},
		{"1.0.4.0", Result{}}, // just past the last range: a gap
		{"0.255.255.255", Result{}},
		{"8.8.8.8", Result{"US", 15169, "Google LLC"}},
		{"::ffff:8.8.8.8", Result{"US", 15169, "Google LLC"}}, // IPv4-mapped
		{"11.20.4.255", Result{"DE", 64500, "Example Hosting Ltd"}},
		{"11.20.5.7", Result{"FR", 64500, "Example Hosting Ltd"}}, // nested range wins inside
		{"11.20.6.0", Result{"DE", 64500, "Example Hosting Ltd"}}, // and the outer resumes after
		{"11.21.0.0", Result{}},
		{"192.0.2.10", Result{}}, // TEST-NET-1: carved out although the data has it
		{"198.51.99.255", Result{"US", 0, ""}},
		{"198.51.100.1", Result{}},            // TEST-NET-2 inside a US range
		{"198.51.101.0", Result{"US", 0, ""}}, // the range resumes after it
		{"255.255.255.255", Result{}},         // the very last address
		{"2001:200::1", Result{"JP", 0, ""}},
		{"2001:218:2000:51:ffff:ffff:ffff:ffff", Result{"JP", 0, ""}},
		{"2001:218:2000:52::", Result{}},
		{"2a01:4f8:c17:1234::1", Result{"DE", 24940, "Hetzner Online GmbH"}},
		{"2001:db8::1", Result{}}, // documentation prefix
		{"::", Result{}},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Result{}},
	}
	for _, tt := range tests {
		if got := db.Lookup(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Lookup(%s) = %+v, want %+v", tt.ip, got, tt.want)
		}
	}
}

func TestBuilderRejectsBadRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, csv string
		asn       bool
		want      string
	}{
		{"bad ip", "1.0.0.x,1.0.0.255,AU\n", false, "x.csv:1"},
		{"reversed", "1.0.0.9,1.0.0.1,AU\n", false, "ends before it starts"},
		{"mixed family", "1.0.0.0,2001::1,AU\n", false, "mixes address families"},
		{"bad country", "1.0.0.0,1.0.0.255,Australia\n", false, "not an ISO 3166-1"},
		{"lower-case country", "1.0.0.0,1.0.0.255,au\n", false, "not an ISO 3166-1"},
		{"short row", "1.0.0.0,1.0.0.255\n", false, "wrong number of fields"},
		{"bad asn", "1.0.0.0,1.0.0.255,AS13335,Cloudflare\n", true, "is not a number"},
		{"zero asn", "1.0.0.0,1.0.0.255,0,Nobody\n", true, "is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Builder
			add := b.AddCountryCSV
			if tt.asn {
				add = b.AddASNCSV
			}
			err := add("x.csv", strings.NewReader(tt.csv))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Add(%q) error = %v, want one containing %q", tt.csv, err, tt.want)
			}
		})
	}
}

func TestLoadRejectsCorruptData(t *testing.T) {
	t.Parallel()
	if _, err := Load(strings.NewReader("not gzip")); err == nil {
		t.Error("Load(not gzip) succeeded")
	}
	var b Builder
	b.AddCountryCSV("c", strings.NewReader("1.0.0.0,1.0.0.255,AU\n"))
	b.AddASNCSV("a", strings.NewReader("1.0.0.0,1.0.0.255,13335,Cloudflare\n"))
	var buf bytes.Buffer
	if _, err := b.Write(&buf); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	// Every truncation of a valid file is an error, never a panic.
	for n := 0; n < len(full); n += 7 {
		if _, err := Load(bytes.NewReader(full[:n])); err == nil {
			t.Errorf("Load(first %d of %d bytes) succeeded", n, len(full))
		}
	}
}

// TestShippedDatabase checks the embedded data the detector ships.
func TestShippedDatabase(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../data/geo.db.gz")
	if err != nil {
		t.Fatalf("the shipped database is missing (run make data): %v", err)
	}
	defer f.Close()
	db, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range db.Stats() {
		if n < 1000 {
			t.Errorf("table %s has %d entries; the data looks truncated", table, n)
		}
	}
	tests := []struct {
		ip      string
		country string
		asn     uint32
	}{
		{"8.8.8.8", "US", 15169},
		{"1.1.1.1", "", 13335}, // Cloudflare's resolver: ASN known, country varies by source
		{"2a01:4f8::1", "DE", 24940},
		{"192.0.2.10", "", 0},   // documentation ranges are never in the data
		{"198.51.100.1", "", 0}, //
		{"203.0.113.5", "", 0},  //
		{"2001:db8::1", "", 0},  //
	}
	for _, tt := range tests {
		got := db.Lookup(netip.MustParseAddr(tt.ip))
		if got.ASN != tt.asn || (tt.country != "" && got.Country != tt.country) || (tt.asn == 0 && got.Country != "") {
			t.Errorf("Lookup(%s) = %+v, want country %q, ASN %d", tt.ip, got, tt.country, tt.asn)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	f, err := os.Open("../data/geo.db.gz")
	if err != nil {
		b.Skip("no shipped database")
	}
	defer f.Close()
	db, err := Load(f)
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("81.2.69.142"),
		netip.MustParseAddr("2a01:4f8::1"), netip.MustParseAddr("2001:db8::1"),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		db.Lookup(addrs[i%len(addrs)])
	}
}

func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile("../data/geo.db.gz")
	if err != nil {
		b.Skip("no shipped database")
	}
	for b.Loop() {
		if _, err := Load(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func shippedHosting(t testing.TB) *Hosting {
	t.Helper()
	b, err := os.ReadFile("../data/hosting.txt")
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHosting(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestShippedDatabaseOffHeap: the shipped database's tables (about 17 MB)
// are mapped outside the Go heap, so the collector's target does not grow
// with them, and they stay mapped while the DB is in use, through
// collections.
func TestShippedDatabaseOffHeap(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("the tables are on the heap where there are no anonymous mappings")
	}
	data, err := os.ReadFile("../data/geo.db.gz")
	if err != nil {
		t.Fatalf("the shipped database is missing (run make data): %v", err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	db, err := Load(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(heap()) - int64(before)
	runtime.KeepAlive(data) // not collected between the two readings
	tables := 0
	for _, n := range db.Stats() {
		tables += n
	}
	t.Logf("%d table entries; the Go heap grew %d bytes", tables, grew)
	if grew > 4<<20 {
		t.Errorf("loading the database grew the Go heap by %d bytes; its tables should be off the heap", grew)
	}
	for range 3 {
		runtime.GC()
	}
	if got := db.Lookup(netip.MustParseAddr("2a01:4f8::1")); got.ASN != 24940 || got.Org == "" {
		t.Errorf("after collections Lookup(2a01:4f8::1) = %+v, want AS24940 with its organisation", got)
	}
	runtime.KeepAlive(db)
}
