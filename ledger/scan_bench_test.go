package ledger

import (
	"path/filepath"
	"testing"
)

// BenchmarkScanDeep reads a SQLite ledger of 200,000 decisions front to
// back, 500 at a time, as a replay does: the time per page must not grow
// with how deep the page is.
func BenchmarkScanDeep(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(b.TempDir(), "ledger.db")
	l, err := Open(b.Context(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const n = 200_000
	if _, err := l.w.ExecContext(b.Context(), `WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
		INSERT INTO decisions (decision_id, request_id, subject_id, checkpoint, decided_at, action, record)
		SELECT printf('d-%07d', n), printf('r-%07d', n), printf('s-%07d', n), 'signup',
			strftime('%Y-%m-%dT%H:%M:%S', '2026-01-01', '+' || (n / 2) || ' seconds') || '.000000Z', 'allow', '{}' FROM i`, n); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		read := 0
		for _, err := range l.ScanEncoded(b.Context(), Filter{}, 500) {
			if err != nil {
				b.Fatal(err)
			}
			read++
		}
		if read != n {
			b.Fatalf("scanned %d decisions, want %d", read, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/(n/500), "µs/page")
}
