package ledgertest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

// testShadow stores shadow verdicts beside decisions, reads one back and
// compares a revision's verdicts with the decisions' actions.
func testShadow(t *testing.T, open Opener) {
	l := open(t)
	ctx := ctxOf(t)
	shadow := func(rev string, action decision.Action, codes ...string) decision.ShadowVerdict {
		v := Record("x", signup, T0, action, codes...).Verdict
		v.BundleRevision = rev
		return decision.ShadowVerdict{Verdict: v, EvaluatedAt: T0.Add(time.Second)}
	}
	// active action → shadow action, for revision "cand-2".
	cases := []struct {
		active decision.Action
		sv     decision.ShadowVerdict
	}{
		{decision.Warn, shadow("cand-2", decision.Suspend, "EMAIL_DISPOSABLE")},
		{decision.Warn, shadow("cand-2", decision.Suspend, "EMAIL_DISPOSABLE")},
		{decision.Allow, shadow("cand-2", decision.Allow)},
		{decision.Challenge, shadow("cand-2", decision.Challenge, "EMAIL_INVALID")},
		{decision.Restrict, shadow("cand-2", decision.Warn, "VELOCITY")},
		{decision.Allow, decision.ShadowVerdict{Verdict: decision.Verdict{BundleRevision: "cand-2"}, Error: "undefined", EvaluatedAt: T0}},
		{decision.Allow, shadow("cand-1", decision.Suspend)}, // an older shadow revision
	}
	var ids []string
	for i, c := range cases {
		rec := commit(t, l, Record("s-shadow", signup, T0.Add(time.Duration(i)*time.Minute), c.active, "CODE"))
		if err := l.RecordShadow(ctx, rec.DecisionID, c.sv); err != nil {
			t.Fatalf("RecordShadow(%s, %v) = %v", rec.DecisionID, c.sv.Verdict.Action, err)
		}
		ids = append(ids, rec.DecisionID)
	}
	// A second verdict for a decision keeps the first.
	if err := l.RecordShadow(ctx, ids[0], shadow("cand-2", decision.Allow)); err != nil {
		t.Errorf("RecordShadow twice = %v, want nil", err)
	}

	got, err := l.ShadowVerdict(ctx, ids[0])
	if err != nil {
		t.Fatalf("ShadowVerdict(%s) = %v", ids[0], err)
	}
	want := cases[0].sv
	want.EvaluatedAt = want.EvaluatedAt.UTC().Truncate(time.Microsecond)
	if diff := cmp.Diff(want, got, recordOpts); diff != "" {
		t.Errorf("ShadowVerdict(%s) mismatch (-want +got):\n%s", ids[0], diff)
	}
	if got, err := l.ShadowVerdict(ctx, ids[5]); err != nil || got.Error != "undefined" {
		t.Errorf("ShadowVerdict(failed) = %+v, %v; want its error", got, err)
	}
	if _, err := l.ShadowVerdict(ctx, "no-such-decision"); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("ShadowVerdict(unknown) = %v, want ErrNotFound", err)
	}

	a, err := l.ShadowAgreement(ctx, "cand-2")
	if err != nil {
		t.Fatalf("ShadowAgreement(cand-2) = %v", err)
	}
	wantA := ledger.ShadowAgreement{
		Revision: "cand-2", Since: T0.UTC().Truncate(time.Microsecond),
		Evaluated: 6, Errors: 1, Agreed: 2,
		Transitions: []ledger.Transition{
			{From: decision.Warn, To: decision.Suspend, Count: 2},
			{From: decision.Allow, To: decision.Allow, Count: 1},
			{From: decision.Challenge, To: decision.Challenge, Count: 1},
			{From: decision.Restrict, To: decision.Warn, Count: 1},
		},
	}
	if diff := cmp.Diff(wantA, a); diff != "" {
		t.Errorf("ShadowAgreement(cand-2) mismatch (-want +got):\n%s", diff)
	}
	if r := a.Rate(); r != 0.4 {
		t.Errorf("Rate() = %v, want 0.4", r)
	}
	if a, err := l.ShadowAgreement(ctx, "never-shadowed"); err != nil || a.Evaluated != 0 || len(a.Transitions) != 0 {
		t.Errorf("ShadowAgreement(never-shadowed) = %+v, %v; want nothing", a, err)
	}
}

// testScan reads decisions back in pages, oldest first, within bounds, with
// overturned ones marked.
func testScan(t *testing.T, open Opener) {
	l := open(t)
	ctx := ctxOf(t)
	var recs []*decision.Record
	for i := range 7 {
		cp := signup
		if i%3 == 2 {
			cp = login
		}
		// Two decisions share each time, so paging must break ties by id.
		recs = append(recs, commit(t, l, Record("s-scan", cp, T0.Add(time.Duration(i/2)*time.Minute), decision.Restrict, "CODE")))
	}
	overturned := recs[3].DecisionID
	if err := l.Overturn(ctx, overturned, "appeal", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(recs, func(a, b *decision.Record) int {
		if c := a.DecidedAt.Compare(b.DecidedAt); c != 0 {
			return c
		}
		return strings.Compare(a.DecisionID, b.DecisionID)
	})
	onlyLogin := func(rs []*decision.Record) (out []*decision.Record) {
		for _, r := range rs {
			if r.Checkpoint == login {
				out = append(out, r)
			}
		}
		return out
	}

	tests := []struct {
		name string
		f    ledger.Filter
		want []*decision.Record
	}{
		{"all", ledger.Filter{}, recs},
		{"window", ledger.Filter{Since: T0.Add(time.Minute), Until: T0.Add(3 * time.Minute)}, recs[2:6]},
		{"checkpoint", ledger.Filter{Checkpoint: login}, onlyLogin(recs)},
	}
	for _, tt := range tests {
		for _, pageSize := range []int{1, 2, 100} {
			n, err := l.Count(ctx, tt.f)
			if err != nil || n != int64(len(tt.want)) {
				t.Errorf("Count(%s) = %d, %v; want %d", tt.name, n, err, len(tt.want))
			}
			var got []string
			for s, err := range l.Scan(ctx, tt.f, pageSize) {
				if err != nil {
					t.Fatalf("Scan(%s, page %d) = %v", tt.name, pageSize, err)
				}
				if s.Record.Input == nil {
					t.Errorf("Scan(%s) decision %s has no input", tt.name, s.Record.DecisionID)
				}
				wantOutcome := ledger.OutcomeNone
				if s.Record.DecisionID == overturned {
					wantOutcome = ledger.OutcomeOverturned
				}
				if s.Outcome != wantOutcome {
					t.Errorf("Scan(%s) decision %s outcome %q, want %q", tt.name, s.Record.DecisionID, s.Outcome, wantOutcome)
				}
				got = append(got, s.Record.DecisionID)
			}
			var want []string
			for _, r := range tt.want {
				want = append(want, r.DecisionID)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Scan(%s, page %d) ids mismatch (-want +got):\n%s", tt.name, pageSize, diff)
			}
		}
	}
}
