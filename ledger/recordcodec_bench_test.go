package ledger

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
)

// BenchmarkCommitRecordCodec commits a real decision record (a signup
// with six detectors, testdata/record-6-detectors.json: 8.6 KB of JSON)
// from many callers at once, stored as plain JSON and compressed, side by
// side, and reports the database's size per decision after a checkpoint.
func BenchmarkCommitRecordCodec(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "record-6-detectors.json"))
	if err != nil {
		b.Fatal(err)
	}
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
			b.ReportMetric(float64(pages*size)/float64(n.Load()), "db-bytes/decision")
		})
	}
}
