package review

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

func openLedger(t *testing.T) *ledger.Ledger {
	t.Helper()
	cfg := ledger.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fieldOf returns the fields a validation error names.
func fieldsOf(err error) []string {
	var v decision.ValidationError
	if !errors.As(err, &v) {
		return nil
	}
	var out []string
	for _, f := range v {
		out = append(out, f.Field)
	}
	return out
}

// TestBadInputNamesTheField: every refusal of bad input is a
// decision.ValidationError naming the field, before the ledger is asked.
func TestBadInputNamesTheField(t *testing.T) {
	t.Parallel()
	s := New(openLedger(t), nil, DefaultConfig(), Options{})
	ctx := t.Context()
	long := strings.Repeat("x", MaxNoteChars+1)
	for _, c := range []struct {
		name  string
		err   error
		field string
	}{
		{"queue kind", func() error { _, _, _, err := s.Queue(ctx, Filter{Kind: "ticket"}); return err }(), "kind"},
		{"queue reason", func() error { _, _, _, err := s.Queue(ctx, Filter{ReasonCode: "model risk"}); return err }(), "reason_code"},
		{"queue subject", func() error { _, _, _, err := s.Queue(ctx, Filter{SubjectID: "a b"}); return err }(), "subject_id"},
		{"queue page size", func() error { _, _, _, err := s.Queue(ctx, Filter{PageSize: 101}); return err }(), "page_size"},
		{"queue page token", func() error { _, _, _, err := s.Queue(ctx, Filter{PageToken: "nope"}); return err }(), "page_token"},
		{"queue assignee and unassigned", func() error { _, _, _, err := s.Queue(ctx, Filter{Assignee: "ana", Unassigned: true}); return err }(), "unassigned"},
		{"get without id", func() error { _, err := s.Get(ctx, ""); return err }(), "id"},
		{"get odd id", func() error { _, err := s.Get(ctx, "case one"); return err }(), "id"},
		{"claim without reviewer", func() error { _, err := s.Claim(ctx, "case-x", " ", false); return err }(), "reviewer"},
		{"note without body", func() error { _, err := s.AddNote(ctx, "case-x", "ana", ""); return err }(), "body"},
		{"note too long", func() error { _, err := s.AddNote(ctx, "case-x", "ana", long); return err }(), "body"},
		{"resolve without resolution", func() error {
			_, _, err := s.Resolve(ctx, Resolution{ID: "case-x", Reviewer: "ana", Note: "n"})
			return err
		}(), "resolution"},
		{"overturn a case", func() error {
			_, _, err := s.Resolve(ctx, Resolution{ID: "case-x", How: Overturn, Reviewer: "ana", Note: "n"})
			return err
		}(), "resolution"},
		{"lift an appeal", func() error {
			_, _, err := s.Resolve(ctx, Resolution{ID: uuid.NewString(), How: Lift, Reviewer: "ana", Note: "n"})
			return err
		}(), "resolution"},
		{"resolve without note", func() error {
			_, _, err := s.Resolve(ctx, Resolution{ID: "case-x", How: Uphold, Reviewer: "ana"})
			return err
		}(), "note"},
		{"capabilities on a suspension", func() error {
			_, _, err := s.Resolve(ctx, Resolution{ID: "case-x", How: Suspend, Reviewer: "ana", Note: "n", Capabilities: []string{"payouts"}})
			return err
		}(), "capabilities"},
		{"duration on a lift", func() error {
			_, _, err := s.Resolve(ctx, Resolution{ID: "case-x", How: Lift, Reviewer: "ana", Note: "n", Duration: time.Hour})
			return err
		}(), "duration"},
		{"reason code on an uphold", func() error {
			_, _, err := s.Resolve(ctx, Resolution{ID: "case-x", How: Uphold, Reviewer: "ana", Note: "n", ReasonCode: "MODEL_RISK"})
			return err
		}(), "reason_code"},
	} {
		if got := fieldsOf(c.err); len(got) == 0 || got[0] != c.field {
			t.Errorf("%s: error %v names %v, want %s", c.name, c.err, got, c.field)
		}
	}
}

// TestUpholdThroughTheQueue: a case the policy opened is listed, claimed,
// noted and upheld through the service; its due time is the policy's SLA
// and an appeal's is the configured one.
func TestUpholdThroughTheQueue(t *testing.T) {
	t.Parallel()
	l := openLedger(t)
	now := time.Now().UTC().Truncate(time.Second)
	s := New(l, nil, Config{AppealSLA: 6 * time.Hour}, Options{Now: func() time.Time { return now }, ClaimTTL: time.Minute})
	ctx := t.Context()
	rec := &decision.Record{
		DecisionID: uuid.NewString(), RequestID: uuid.NewString(), SubjectID: "acct-1", Checkpoint: "login",
		DecidedAt: now.Add(-2 * time.Hour), Input: map[string]any{},
		Verdict: decision.Verdict{Action: decision.Challenge, Reasons: []decision.Reason{{Code: "MODEL_RISK", Action: decision.Challenge}},
			Review: &decision.Review{Codes: []string{"MODEL_RISK"}, SLA: time.Hour}},
	}
	if _, _, err := l.Commit(ctx, rec, nil); err != nil {
		t.Fatal(err)
	}
	items, _, at, err := s.Queue(ctx, Filter{Overdue: true})
	if err != nil || len(items) != 1 || !at.Equal(now) || !items[0].Due.Equal(rec.DecidedAt.Add(time.Hour)) {
		t.Fatalf("Queue(overdue) = %+v, %v, %v; want the case, due an hour after its decision", items, at, err)
	}
	id := items[0].ID
	if it, err := s.Claim(ctx, id, " ana ", false); err != nil || it.Case.ClaimedBy != "ana" {
		t.Fatalf("Claim = %+v, %v", it, err)
	}
	if _, err := s.AddNote(ctx, id, "ana", "checked the device history"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Resolve(ctx, Resolution{ID: id, How: Uphold, Reviewer: "bo", Note: "fine"}); !errors.Is(err, ledger.ErrCaseClaimed) {
		t.Errorf("Resolve by bo while ana holds it = %v, want ErrCaseClaimed", err)
	}
	it, rec2, err := s.Resolve(ctx, Resolution{ID: id, How: Uphold, Reviewer: "ana", Caller: "desk", Note: "the model is right"})
	if err != nil || rec2 != nil || it.Open() || it.Case.Resolution != ledger.ResolveUphold || it.Case.ResolvedBy != "desk" || len(it.Notes) != 1 || len(it.Decisions) != 1 {
		t.Fatalf("Resolve(uphold) = %+v, %v, %v", it, rec2, err)
	}
	if _, _, err := s.Resolve(ctx, Resolution{ID: id, How: Uphold, Reviewer: "ana", Note: "again"}); !errors.Is(err, ledger.ErrCaseResolved) {
		t.Errorf("Resolve again = %v, want ErrCaseResolved", err)
	}
	if _, err := s.Get(ctx, "case-00000000"); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("Get(unknown case) = %v, want ErrNotFound", err)
	}
}
