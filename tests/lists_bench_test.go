package tests

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/gavel/gavel/internal/pgtest"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/lists"
)

// fillLists creates lists of every kind in l and imports n entries across
// them (40 % emails, 20 % IP addresses and ranges, 15 % email domains, 15 %
// device ids, 10 % phones), none of which the benchmark's requests match:
// the cost measured is a decision looking everything up and missing, the
// common case.
func fillLists(b *testing.B, l *ledger.Ledger, n int) *lists.Matcher {
	b.Helper()
	ctx := context.Background()
	h := lists.NewHasher("bench-hash-key-0123456789")
	svc := lists.NewService(l, h)
	type part struct {
		name  string
		kind  lists.Kind
		share int // percent
		value func(i int) string
	}
	parts := []part{
		{"emails", lists.Email, 40, func(i int) string { return fmt.Sprintf("fraud.%d@example%d.net", i, i%997) }},
		{"ips", lists.IP, 20, func(i int) string {
			switch i % 4 {
			case 0:
				return fmt.Sprintf("10.%d.%d.0/24", i/4/256, i/4%256)
			case 1:
				return fmt.Sprintf("2001:db8:%x:%x::/64", i/65536%65536, i%65536)
			default:
				return fmt.Sprintf("172.%d.%d.%d", 16+i/65536%16, i/256%256, i%256)
			}
		}},
		{"domains", lists.EmailDomain, 15, func(i int) string { return fmt.Sprintf("spam%d.example.com", i) }},
		{"devices", lists.DeviceID, 15, func(i int) string { return fmt.Sprintf("emulator-%d", i) }},
		{"phones", lists.Phone, 10, func(i int) string { return fmt.Sprintf("+4479%08d", i) }},
	}
	for _, p := range parts {
		if _, err := svc.Create(ctx, lists.Spec{Name: p.name, Kind: p.kind, Purpose: lists.Block, Action: "suspend"}, "bench"); err != nil {
			b.Fatal(err)
		}
		rows := make([]lists.Row, 0, n*p.share/100)
		for i := range n * p.share / 100 {
			rows = append(rows, lists.Row{Line: i + 1, Value: p.value(i)})
		}
		if res, err := svc.Import(ctx, p.name, rows, false, "bench", "bench"); err != nil || res.Imported != len(rows) {
			b.Fatalf("import %s: %d of %d, %v", p.name, res.Imported, len(rows), err)
		}
	}
	m := lists.NewMatcher(l, h, slog.New(slog.DiscardHandler))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	if err := m.Load(ctx); err != nil {
		b.Fatal(err)
	}
	load := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if st := m.Status(); st.Entries != n {
		b.Fatalf("matcher holds %d entries, want %d", st.Entries, n)
	}
	if n > 0 {
		b.Logf("%d entries: loaded in %v, index heap ≈ %d MiB (%d B/entry)", n, load,
			(after.HeapAlloc-before.HeapAlloc)>>20, (after.HeapAlloc-before.HeapAlloc)/uint64(n))
	}
	return m
}

// BenchmarkDecideLists is Decide in-process (the repo's policies, a SQLite
// ledger, signals inline) with no runtime lists against 1,000,000 entries
// loaded across lists of every kind; it reports p50 and p99.
func BenchmarkDecideLists(b *testing.B) {
	for _, n := range []int{0, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			l := sqliteLedger(b)
			m := fillLists(b, l, n)
			e := newEngine(b, nil, l)
			e.SetLists(m)
			runDecide(b, e, true)
		})
	}
}

// BenchmarkListMatch is the matcher alone on the same 1,000,000 entries:
// one request probing every kind, missing.
func BenchmarkListMatch(b *testing.B) {
	m := fillLists(b, sqliteLedger(b), 1_000_000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := benchRequest(i, false)
		r.Subject.Profile.Phone = "+33612345678"
		if ms := m.Match(ctx, r, time.Now()); len(ms) != 0 {
			b.Fatalf("unexpected match %v", ms)
		}
	}
}

// BenchmarkListImport imports 100,000 email entries (hashed) in one call, as
// `gavel lists import` does, on SQLite and PostgreSQL; it reports rows/s.
func BenchmarkListImport(b *testing.B) {
	backends := map[string]func(b *testing.B) *ledger.Ledger{
		"sqlite": func(b *testing.B) *ledger.Ledger { return sqliteLedger(b) },
		"postgres": func(b *testing.B) *ledger.Ledger {
			cfg := ledger.DefaultConfig()
			cfg.Driver, cfg.DSN = ledger.Postgres, pgtest.Schema(b, "gavel_bench_lists")
			l, err := ledger.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l.Close() })
			return l
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			l := backends[name](b)
			svc := lists.NewService(l, lists.NewHasher("bench-hash-key-0123456789"))
			const n = 100_000
			rows := make([]lists.Row, n)
			for i := range rows {
				rows[i] = lists.Row{Line: i + 1, Value: fmt.Sprintf("user.%d@example%d.org", i, i%500), Note: "chargeback batch"}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				lname := fmt.Sprintf("import-%d", i)
				if _, err := svc.Create(context.Background(), lists.Spec{Name: lname, Kind: lists.Email, Purpose: lists.Block}, "bench"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if res, err := svc.Import(context.Background(), lname, rows, false, "bench.csv", "bench"); err != nil || res.Imported != n {
					b.Fatalf("Import = %+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
