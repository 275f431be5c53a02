package ledger

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

// timeIndexes are the SQLite indexes migration 0027 rebuilds ascending,
// each with the query shapes that read it newest first.
var timeIndexes = []string{
	"decisions_subject_time", "decisions_checkpoint_time", "decisions_action_time",
	"decisions_revision_time", "decisions_fallback_time", "decisions_source_time",
	"reason_hits_code_time",
}

// TestTimeIndexesAscending: on SQLite the time-ordered indexes are
// ascending (migration 0027), and every query that reads decisions newest
// first, the subject's history and list and each search filter, first page
// and later ones, still walks its index in order: no sort of its own.
func TestTimeIndexesAscending(t *testing.T) {
	t.Parallel()
	l := openSQLiteAt(t, filepath.Join(t.TempDir(), "ledger.db"))
	defer l.Close()
	commitVaried(t, l, 60)

	for _, name := range timeIndexes {
		if desc := descColumns(t, l, name); len(desc) > 0 {
			t.Errorf("index %s: columns %v descending, want every column ascending", name, desc)
		}
	}

	at := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	plans := map[string]struct {
		query string
		args  []any
	}{
		"subject list":        {l.q.listFirst, []any{"s-0", 10}},
		"subject list, after": {l.q.listAfter, []any{"s-0", l.d.ts(at), "z", 10}},
		"subject recent":      {l.q.recent, []any{"s-0", l.d.ts(at), l.d.ts(at.Add(-time.Hour)), false, 10}},
	}
	fallback := true
	for name, f := range map[string]SearchFilter{
		"checkpoint": {Checkpoint: "signup"},
		"action":     {Action: decision.Restrict},
		"revision":   {BundleRevision: "rev-1"},
		"source":     {Source: decision.SourceManual},
		"fallback":   {Fallback: &fallback},
		"reason":     {ReasonCode: "CODE_1"},
		"subject":    {SubjectID: "s-1"},
		"everything": {},
	} {
		for _, page := range []string{"first page", "later page"} {
			f.Since, f.Until = at.Add(-24*time.Hour), at.Add(24*time.Hour)
			token := ""
			if page == "later page" {
				token = encodeCursor(f.key(), cursor{At: at, ID: "z"})
			}
			q, args, err := l.searchQuery(f, f.key(), 50, token)
			if err != nil {
				t.Fatalf("search by %s: %v", name, err)
			}
			plans["search by "+name+", "+page] = struct {
				query string
				args  []any
			}{q, args}
		}
	}
	for name, p := range plans {
		plan := explain(t, l, p.query, p.args...)
		t.Logf("%s: %s", name, plan)
		if strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, "USING INDEX") && !strings.Contains(plan, "USING COVERING INDEX") {
			t.Errorf("%s: plan %q, want an index walked in order, with no sort", name, plan)
		}
	}
	// The filters each have their own index.
	for filter, index := range map[string]string{
		"search by checkpoint, first page": "decisions_checkpoint_time",
		"search by action, later page":     "decisions_action_time",
		"search by revision, first page":   "decisions_revision_time",
		"search by source, later page":     "decisions_source_time",
		"search by fallback, first page":   "decisions_fallback_time",
		"search by reason, later page":     "reason_hits_code_time",
		"subject list, after":              "decisions_subject_time",
	} {
		if plan := explain(t, l, plans[filter].query, plans[filter].args...); !strings.Contains(plan, index) {
			t.Errorf("%s: plan %q, want it to walk %s", filter, plan, index)
		}
	}
}

// TestTimeIndexesMigrate: a ledger whose time indexes are the descending
// ones of migrations 0001 to 0026 gets them ascending when gavel starts,
// and every search finds what it found before, in the same order.
func TestTimeIndexesMigrate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openSQLiteAt(t, path)
	// Back to the schema before 0027: the indexes descending, the
	// migration not applied.
	for _, stmt := range []string{
		"DROP INDEX decisions_subject_time", "CREATE INDEX decisions_subject_time ON decisions (subject_id, decided_at DESC, decision_id DESC)",
		"DROP INDEX decisions_checkpoint_time", "CREATE INDEX decisions_checkpoint_time ON decisions (checkpoint, decided_at DESC, decision_id DESC)",
		"DROP INDEX decisions_action_time", "CREATE INDEX decisions_action_time ON decisions (action, decided_at DESC, decision_id DESC)",
		"DROP INDEX decisions_revision_time", "CREATE INDEX decisions_revision_time ON decisions (bundle_revision, decided_at DESC, decision_id DESC)",
		"DROP INDEX decisions_fallback_time", "CREATE INDEX decisions_fallback_time ON decisions (decided_at DESC, decision_id DESC) WHERE fallback = 1",
		"DROP INDEX decisions_source_time", "CREATE INDEX decisions_source_time ON decisions (source, decided_at DESC, decision_id DESC)",
		"DROP INDEX reason_hits_code_time", "CREATE INDEX reason_hits_code_time ON reason_hits (code, decided_at DESC, decision_id DESC)",
		"DELETE FROM schema_migrations WHERE version = 27",
	} {
		if _, err := l.w.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if desc := descColumns(t, l, "decisions_checkpoint_time"); len(desc) == 0 {
		t.Fatal("decisions_checkpoint_time is not descending before the migration: the test sets nothing up")
	}
	commitVaried(t, l, 60)
	fallback := true
	filters := []SearchFilter{
		{Checkpoint: "signup"}, {Action: decision.Restrict}, {BundleRevision: "rev-1"},
		{Source: decision.SourceManual}, {Fallback: &fallback}, {ReasonCode: "CODE_1"}, {SubjectID: "s-1"}, {},
	}
	before := make([][]string, len(filters))
	for i, f := range filters {
		if before[i] = searchAll(t, l, f); len(before[i]) == 0 {
			t.Fatalf("search %+v found nothing: the test compares nothing", f)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openSQLiteAt(t, path)
	defer l.Close()
	for _, name := range timeIndexes {
		if desc := descColumns(t, l, name); len(desc) > 0 {
			t.Errorf("after the migration, index %s: columns %v descending", name, desc)
		}
	}
	for i, f := range filters {
		if got := searchAll(t, l, f); !slices.Equal(got, before[i]) {
			t.Errorf("search %+v after the migration = %v, before %v", f, got, before[i])
		}
	}
}

func openSQLiteAt(t *testing.T, path string) *Ledger {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = path
	l, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// commitVaried commits n decisions over a few subjects, checkpoints,
// actions, revisions and reason codes, some of them fallbacks and manual.
func commitVaried(t *testing.T, l *Ledger, n int) {
	t.Helper()
	checkpoints := []string{"signup", "login", "withdrawal"}
	actions := []decision.Action{decision.Allow, decision.Warn, decision.Challenge, decision.Restrict}
	for i := range n {
		rec := groupRecord(fmt.Sprintf("s-%d", i%4))
		rec.Checkpoint = checkpoints[i%len(checkpoints)]
		rec.DecidedAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
		rec.Verdict.Action = actions[i%len(actions)]
		rec.Verdict.BundleRevision = fmt.Sprintf("rev-%d", i%2)
		rec.Verdict.Reasons = []decision.Reason{{Code: fmt.Sprintf("CODE_%d", i%3), Action: rec.Verdict.Action}}
		if rec.Verdict.Action != decision.Restrict {
			rec.Verdict.Restrictions, rec.Verdict.Strike = nil, false
		}
		rec.Fallback = i%7 == 0
		if i%11 == 0 {
			rec.Source = decision.SourceManual
			rec.Manual = &decision.Manual{Kind: decision.ManualRestrict, ReasonCode: rec.Verdict.Reasons[0].Code, Reviewer: "rev@example.com", Note: "seen"}
		}
		if _, _, err := l.Commit(t.Context(), rec, nil); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
}

// descColumns names the key columns of index that are descending.
func descColumns(t *testing.T, l *Ledger, index string) []string {
	t.Helper()
	rows, err := l.r.QueryContext(t.Context(), `SELECT name, desc FROM pragma_index_xinfo(?) WHERE key = 1`, index)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var desc []string
	n := 0
	for rows.Next() {
		var name string
		var d int
		if err := rows.Scan(&name, &d); err != nil {
			t.Fatal(err)
		}
		n++
		if d == 1 {
			desc = append(desc, name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("index %s: no such index", index)
	}
	return desc
}

// explain is SQLite's plan of query, its steps joined.
func explain(t *testing.T, l *Ledger, query string, args ...any) string {
	t.Helper()
	rows, err := l.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain %q: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// searchAll pages through SearchDecisions by f, 7 at a time, and returns
// the decision ids in the order found.
func searchAll(t *testing.T, l *Ledger, f SearchFilter) []string {
	t.Helper()
	var ids []string
	token := ""
	for {
		recs, next, err := l.SearchDecisions(t.Context(), f, 7, token)
		if err != nil {
			t.Fatalf("search %+v: %v", f, err)
		}
		for _, r := range recs {
			ids = append(ids, r.DecisionID)
		}
		if next == "" {
			return ids
		}
		token = next
	}
}
