package ledger

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavel/gavel/decision"
)

func storedRecord(t *testing.T, l *Ledger, decisionID string) []byte {
	t.Helper()
	var b []byte
	if err := l.r.QueryRowContext(t.Context(), `SELECT record FROM decisions WHERE decision_id = ?`, decisionID).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSQLiteRecordsCompressed: on SQLite a record is stored compressed and
// reads back as committed (its effects aside, which Get adds); records stored as plain JSON (by an older gavel,
// or with SQLitePlainRecords) read back alike from the same file.
func TestSQLiteRecordsCompressed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	open := func(plain bool) *Ledger {
		cfg := DefaultConfig()
		cfg.Path = path
		cfg.SQLitePlainRecords = plain
		l, err := Open(t.Context(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open(true)
	plainRec := groupRecord("s-plain")
	plainStored, _, err := l.Commit(t.Context(), plainRec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := storedRecord(t, l, plainRec.DecisionID); !bytes.HasPrefix(b, []byte("{")) {
		t.Errorf("SQLitePlainRecords: stored record starts %q, want JSON", b[:min(8, len(b))])
	}
	l.Close()

	l = open(false)
	defer l.Close()
	rec := groupRecord("s-packed")
	rec.Input["padding"] = strings.Repeat("the same words again and again ", 200)
	stored, _, err := l.Commit(t.Context(), rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := storedRecord(t, l, rec.DecisionID)
	if !bytes.HasPrefix(b, zstdMagic) {
		t.Errorf("stored record starts %q, want a zstd frame", b[:min(8, len(b))])
	}
	if len(b) > 2000 {
		t.Errorf("stored record is %d bytes, want it compressed (the padding alone is 6200)", len(b))
	}
	for _, want := range []*decision.Record{plainStored, stored} {
		got, err := l.Get(t.Context(), want.DecisionID)
		if err != nil {
			t.Fatalf("Get(%s) = %v", want.DecisionID, err)
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(decision.Record{}, "Effects")); diff != "" {
			t.Errorf("Get(%s) differs from the committed record (-want +got):\n%s", want.DecisionID, diff)
		}
	}
	recs, _, err := l.List(t.Context(), "s-packed", 10, "")
	if err != nil || len(recs) != 1 || recs[0].DecisionID != rec.DecisionID {
		t.Errorf("List(s-packed) = %v, %v; want the one decision", recs, err)
	}
}

// TestSQLiteRecordCorrupt: a stored record that is not a valid frame is an
// error naming it, not a panic.
func TestSQLiteRecordCorrupt(t *testing.T) {
	t.Parallel()
	l := openGroup(t, 64)
	rec := groupRecord("s-corrupt")
	if _, _, err := l.Commit(t.Context(), rec, nil); err != nil {
		t.Fatal(err)
	}
	bad := append(append([]byte{}, zstdMagic...), "not a frame at all"...)
	if _, err := l.w.ExecContext(t.Context(), `UPDATE decisions SET record = ? WHERE decision_id = ?`, bad, rec.DecisionID); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(t.Context(), rec.DecisionID); err == nil || !strings.Contains(err.Error(), "decompress stored record") {
		t.Errorf("Get(corrupt record) = %v, want a decompression error", err)
	}
}
