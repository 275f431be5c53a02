package ledger

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/pgtest"
)

// BenchmarkCommitRecordCodec commits a real decision record (a signup
// with six detectors, testdata/record-6-detectors.json: 8.6 KB of JSON)
// from many callers at once, stored as plain JSON and compressed, side by
// side, and reports the database's size per decision after a checkpoint.
func BenchmarkCommitRecordCodec(b *testing.B) {
	raw := realRecordJSON(b)
	for _, plain := range []bool{true, false} {
		b.Run(fmt.Sprintf("plain=%v", plain), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Path = filepath.Join(b.TempDir(), "ledger.db")
			cfg.SQLitePlainRecords = plain
			l, err := Open(b.Context(), cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			n := commitRecords(b, l, raw)
			b.StopTimer()
			if _, err := l.w.ExecContext(b.Context(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				b.Fatal(err)
			}
			var pages, size int64
			if err := l.r.QueryRowContext(b.Context(), "PRAGMA page_count").Scan(&pages); err != nil {
				b.Fatal(err)
			}
			if err := l.r.QueryRowContext(b.Context(), "PRAGMA page_size").Scan(&size); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(pages*size)/float64(n), "db-bytes/decision")
		})
	}
}

// BenchmarkCommitRecordPostgres commits the same real record on PostgreSQL
// with decisions.record as json (migration 0025) and, side by side, as the
// jsonb it was before.
func BenchmarkCommitRecordPostgres(b *testing.B) {
	raw := realRecordJSON(b)
	for _, typ := range []string{"jsonb", "json"} {
		b.Run("record="+typ, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Driver, cfg.DSN, cfg.MaxConns = Postgres, pgtest.Schema(b, "gavel_bench"), 16
			open := func() *Ledger {
				l, err := Open(b.Context(), cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				return l
			}
			if typ == "jsonb" { // altered before the statements are prepared
				l := open()
				if _, err := l.w.ExecContext(b.Context(), `ALTER TABLE decisions ALTER COLUMN record TYPE jsonb USING record::jsonb`); err != nil {
					b.Fatal(err)
				}
				l.Close()
			}
			l := open()
			defer l.Close()
			commitRecords(b, l, raw)
		})
	}
}

// commitRecords commits copies of the record raw from 16 callers a core
// until b.N are committed, and returns how many it committed.
func commitRecords(b *testing.B, l *Ledger, raw []byte) int64 {
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := new(decision.Record)
			if err := json.Unmarshal(raw, rec); err != nil {
				b.Error(err)
				return
			}
			i := n.Add(1)
			rec.DecisionID, rec.RequestID, rec.SubjectID = uuid.NewString(), uuid.NewString(), fmt.Sprintf("s-codec-%d", i)
			if _, _, err := l.Commit(b.Context(), rec, &decision.Basis{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	return n.Load()
}
