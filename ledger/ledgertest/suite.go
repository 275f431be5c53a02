// Package ledgertest is the behaviour every backend of gavel's enforcement
// ledger shares, as one test suite that each backend's tests run against a
// real database.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

// Opener returns a new, empty ledger, closed when t ends. Ledgers it opens
// must be independent of each other.
type Opener func(t testing.TB) *ledger.Ledger

// T0 is the suite's clock origin: not UTC, with sub-second precision, so
// that time handling is exercised.
var T0 = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.FixedZone("UTC+2", 2*3600))

const (
	day = 24 * time.Hour
	// Checkpoints used by the suite.
	signup = "signup"
	login  = "login"
	idv    = "identity_verification"
	payout = "payout_method_change"
)

// Run runs the shared suite against the ledgers open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"BackendAndPing", testBackendAndPing},
		{"CommitAndRead", testCommitAndRead},
		{"InvalidRecord", testInvalidRecord},
		{"NotFound", testNotFound},
		{"RetrySameRequest", testRetrySameRequest},
		{"ConcurrentRetries", testConcurrentRetries},
		{"ConcurrentCommits", testConcurrentCommits},
		{"Holds", testHolds},
		{"Suspension", testSuspension},
		{"SuspensionIsAState", testSuspensionIsAState},
		{"StrikeTTL", testStrikeTTL},
		{"RemedyLiftsHolds", testRemedyLiftsHolds},
		{"DryRunAndFallbackHaveNoEffect", testNoEffect},
		{"Recent", testRecent},
		{"Overturn", testOverturn},
		{"Paging", testPaging},
		{"BadPageToken", testBadPageToken},
		{"Timestamps", testTimestamps},
		{"Reopen", testReopen},
		{"WithoutProfile", testWithoutProfile},
		{"FileAppeal", testFileAppeal},
		{"AppealRefusals", testAppealRefusals},
		{"ResolveAppeal", testResolveAppeal},
		{"ConcurrentResolve", testConcurrentResolve},
		{"ListAppeals", testListAppeals},
		{"ClaimAppeal", testClaimAppeal},
		{"RuleStats", testRuleStats},
		{"Restrictive", testRestrictive},
		{"Shadow", testShadow},
		{"Scan", testScan},
		{"Effects", testEffects},
		{"OverturnClearsRules", testOverturnClearsRules},
		{"ManualActions", testManualActions},
		{"SerialisedCommits", testSerialisedCommits},
		{"Overtaken", testOvertaken},
		{"Supersede", testSupersede},
		{"Search", testSearch},
		{"SearchPaging", testSearchPaging},
		{"ListAppealsAll", testListAppealsAll},
		{"ReviewCases", testReviewCases},
		{"ReviewQueue", testReviewQueue},
		{"ReviewResolve", testReviewResolve},
		{"ReviewNotes", testReviewNotes},
		{"ReviewEvents", testReviewEvents},
	}
	tests = append(tests, outboxTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open)
		})
	}
}

// Record returns a committable record of action about subject at
// checkpoint, decided at at, with one reason per code and a JSON-shaped
// input like the engine's.
func Record(subject, checkpoint string, at time.Time, action decision.Action, codes ...string) *decision.Record {
	reasons := make([]decision.Reason, 0, len(codes))
	for _, c := range codes {
		reasons = append(reasons, decision.Reason{
			Code:       c,
			Action:     action,
			Title:      "title of " + c,
			Message:    "message of " + c,
			Evidence:   []map[string]any{{"signal": "email_risk", "score": 0.93}},
			Rule:       "data.gavel.enforcement." + strings.ToLower(c),
			Appealable: true,
		})
	}
	return &decision.Record{
		DecisionID: uuid.NewString(),
		RequestID:  uuid.NewString(),
		SubjectID:  subject,
		Checkpoint: checkpoint,
		DecidedAt:  at,
		Input: map[string]any{
			"subject": map[string]any{
				"id":       subject,
				"kind":     "freelancer",
				"age_days": 3.5,
				"profile": map[string]any{
					"given_name": "Ada",
					"email":      "ada@example.com",
					"phone":      "+441234567890",
				},
			},
			"checkpoint": checkpoint,
			"context":    map[string]any{"ip": "203.0.113.7"},
			"now_ns":     float64(at.UnixNano()),
		},
		Signals: []decision.Signal{{
			Name: "email_risk", Score: 0.93, Value: "example.com", Confidence: 0.8,
			Evidence: map[string]any{"disposable": true}, Source: "email",
		}},
		Detectors: []decision.DetectorResult{{
			Name: "email", Version: "1.2.0", Status: decision.StatusOK, Latency: 1500 * time.Microsecond,
		}},
		Verdict: decision.Verdict{
			Action:         action,
			Reasons:        reasons,
			BundleRevision: "rev-42",
		},
		Latency: 3 * time.Millisecond,
	}
}

func ctxOf(t testing.TB) context.Context { return t.Context() }

func commit(t testing.TB, l *ledger.Ledger, rec *decision.Record) *decision.Record {
	t.Helper()
	got, replayed, err := l.Commit(ctxOf(t), rec, nil)
	if err != nil {
		t.Fatalf("Commit(%s) = %v", rec.RequestID, err)
	}
	if replayed {
		t.Fatalf("Commit(%s) replayed a new request", rec.RequestID)
	}
	return got
}

func history(t testing.TB, l *ledger.Ledger, subject string, now time.Time) decision.History {
	t.Helper()
	h, err := l.History(ctxOf(t), subject, now)
	if err != nil {
		t.Fatalf("History(%s, %v) = %v", subject, now, err)
	}
	return h
}

// normalized is the record as the ledger stores it.
func normalized(rec *decision.Record) *decision.Record {
	cp := *rec
	cp.DecidedAt = rec.DecidedAt.UTC().Truncate(time.Microsecond)
	return &cp
}

// recordOpts compare records as stored; Effects are what Get adds of the
// standing now, checked by the standing suite.
var recordOpts = cmp.Options{cmpopts.EquateEmpty(), cmpopts.IgnoreFields(decision.Record{}, "Effects")}

func testBackendAndPing(t *testing.T, open Opener) {
	l := open(t)
	if b := l.Backend(); b != ledger.SQLite && b != ledger.Postgres {
		t.Errorf("Backend() = %q, want %q or %q", b, ledger.SQLite, ledger.Postgres)
	}
	if err := l.Ping(ctxOf(t)); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}

func testCommitAndRead(t *testing.T, open Opener) {
	l := open(t)
	rec := Record("s-read", payout, T0, decision.Restrict, "PAYOUT_MISMATCH", "NEW_DEVICE")
	rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: 7 * day}}
	rec.Verdict.Remedy = &decision.Remedy{Code: "verify_identity", Checkpoint: idv, Message: "Verify your identity"}
	rec.Verdict.Strike = true

	stored := commit(t, l, rec)
	want := normalized(rec)
	if diff := cmp.Diff(want, stored, recordOpts); diff != "" {
		t.Errorf("Commit returned (-want +got):\n%s", diff)
	}
	got, err := l.Get(ctxOf(t), rec.DecisionID)
	if err != nil {
		t.Fatalf("Get(%s) = %v", rec.DecisionID, err)
	}
	if diff := cmp.Diff(want, got, recordOpts); diff != "" {
		t.Errorf("Get(%s) (-want +got):\n%s", rec.DecisionID, diff)
	}
	got, err = l.ByRequestID(ctxOf(t), rec.RequestID)
	if err != nil {
		t.Fatalf("ByRequestID(%s) = %v", rec.RequestID, err)
	}
	if diff := cmp.Diff(want, got, recordOpts); diff != "" {
		t.Errorf("ByRequestID(%s) (-want +got):\n%s", rec.RequestID, diff)
	}
	if got.Replayed {
		t.Errorf("ByRequestID(%s).Replayed = true, want false", rec.RequestID)
	}
}

func testInvalidRecord(t *testing.T, open Opener) {
	l := open(t)
	for name, mutate := range map[string]func(*decision.Record){
		"no decision id": func(r *decision.Record) { r.DecisionID = "" },
		"no request id":  func(r *decision.Record) { r.RequestID = "" },
		"no subject":     func(r *decision.Record) { r.SubjectID = "" },
		"no checkpoint":  func(r *decision.Record) { r.Checkpoint = "" },
		"no time":        func(r *decision.Record) { r.DecidedAt = time.Time{} },
		"no action":      func(r *decision.Record) { r.Verdict.Action = decision.ActionUnspecified },
		"no capability": func(r *decision.Record) {
			r.Verdict.Restrictions = []decision.Restriction{{Capability: ""}}
		},
	} {
		rec := Record("s-invalid", login, T0, decision.Restrict)
		mutate(rec)
		if _, _, err := l.Commit(ctxOf(t), rec, nil); err == nil {
			t.Errorf("Commit(record with %s) = nil error, want an error", name)
		}
	}
	if _, _, err := l.Commit(ctxOf(t), nil, nil); err == nil {
		t.Error("Commit(nil) = nil error, want an error")
	}
	if recs, _, err := l.List(ctxOf(t), "s-invalid", 10, ""); err != nil || len(recs) != 0 {
		t.Errorf("List after invalid commits = %d records, %v; want none", len(recs), err)
	}
}

func testNotFound(t *testing.T, open Opener) {
	l := open(t)
	commit(t, l, Record("s-nf", login, T0, decision.Allow))
	if _, err := l.Get(ctxOf(t), uuid.NewString()); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := l.ByRequestID(ctxOf(t), "no-such-request"); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("ByRequestID(unknown) = %v, want ErrNotFound", err)
	}
	recs, next, err := l.List(ctxOf(t), "nobody", 10, "")
	if err != nil || len(recs) != 0 || next != "" {
		t.Errorf("List(nobody) = %d records, %q, %v; want none, \"\", nil", len(recs), next, err)
	}
	h := history(t, l, "nobody", T0)
	if diff := cmp.Diff(decision.History{}, h, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("History(nobody) (-want +got):\n%s", diff)
	}
}

func testRetrySameRequest(t *testing.T, open Opener) {
	l := open(t)
	first := Record("s-retry", signup, T0, decision.Restrict, "SYNTHETIC_ID")
	first.Verdict.Strike = true
	first.Verdict.Restrictions = []decision.Restriction{{Capability: "proposals"}}
	stored := commit(t, l, first)

	// The engine retries with a fresh decision id and a later time.
	retry := Record("s-retry", signup, T0.Add(time.Second), decision.Suspend, "OTHER")
	retry.RequestID = first.RequestID
	retry.Verdict.Strike = true
	got, replayed, err := l.Commit(ctxOf(t), retry, nil)
	if err != nil {
		t.Fatalf("Commit(retry) = %v", err)
	}
	if !replayed || !got.Replayed {
		t.Errorf("Commit(retry) replayed = %v, Replayed = %v; want true, true", replayed, got.Replayed)
	}
	got.Replayed = false
	if diff := cmp.Diff(stored, got, recordOpts); diff != "" {
		t.Errorf("Commit(retry) returned (-first +got):\n%s", diff)
	}
	// The very same record again.
	if got, replayed, err := l.Commit(ctxOf(t), first, nil); err != nil || !replayed || got.DecisionID != first.DecisionID {
		t.Errorf("Commit(same record) = %v, %v, %v; want decision %s replayed", got, replayed, err, first.DecisionID)
	}
	if _, err := l.Get(ctxOf(t), retry.DecisionID); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("Get(retry's decision id) = %v, want ErrNotFound", err)
	}
	h := history(t, l, "s-retry", T0.Add(time.Minute))
	if h.Strikes != 1 || len(h.Holds) != 1 || h.Suspended || len(h.Recent) != 1 {
		t.Errorf("History after retries = %d strikes, %d holds, suspended %v, %d recent; want 1, 1, false, 1",
			h.Strikes, len(h.Holds), h.Suspended, len(h.Recent))
	}
	// A decision id reused for another request is an error, not a replay.
	clash := Record("s-retry", signup, T0, decision.Allow)
	clash.DecisionID = first.DecisionID
	if _, _, err := l.Commit(ctxOf(t), clash, nil); err == nil {
		t.Error("Commit(decision id of another request) = nil error, want an error")
	}
}

func testConcurrentRetries(t *testing.T, open Opener) {
	l := open(t)
	const n = 20
	requestID := uuid.NewString()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ids      = map[string]int{}
		fresh    int
		failures []error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			rec := Record("s-race", payout, T0.Add(time.Duration(i)*time.Millisecond), decision.Restrict, "VELOCITY")
			rec.RequestID = requestID
			rec.Verdict.Strike = true
			rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}}
			<-start
			got, replayed, err := l.Commit(ctxOf(t), rec, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
				return
			}
			ids[got.DecisionID]++
			if !replayed {
				fresh++
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range failures {
		t.Errorf("concurrent Commit = %v", err)
	}
	if len(ids) != 1 || fresh != 1 {
		t.Errorf("%d concurrent commits of one request: decision ids %v, %d not replayed; want one id, one not replayed", n, ids, fresh)
	}
	recs, _, err := l.List(ctxOf(t), "s-race", 100, "")
	if err != nil || len(recs) != 1 {
		t.Errorf("List(s-race) = %d records, %v; want 1", len(recs), err)
	}
	h := history(t, l, "s-race", T0.Add(time.Minute))
	if h.Strikes != 1 || len(h.Holds) != 1 {
		t.Errorf("History after concurrent retries = %d strikes, %d holds; want 1, 1", h.Strikes, len(h.Holds))
	}
}

// testConcurrentCommits has writers and readers race on distinct requests:
// no commit may fail (on SQLite, none may meet SQLITE_BUSY).
func testConcurrentCommits(t *testing.T, open Opener) {
	l := open(t)
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		subject := fmt.Sprintf("s-busy-%d", w)
		wg.Go(func() {
			for i := range each {
				rec := Record(subject, login, T0.Add(time.Duration(i)*time.Second), decision.Restrict, "R")
				rec.Verdict.Strike = true
				rec.Verdict.Restrictions = []decision.Restriction{{Capability: "messages", Duration: day}}
				if _, _, err := l.Commit(ctxOf(t), rec, nil); err != nil {
					errs <- fmt.Errorf("commit: %w", err)
				}
				if _, err := l.History(ctxOf(t), subject, T0.Add(time.Hour)); err != nil {
					errs <- fmt.Errorf("history: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range writers {
		h := history(t, l, fmt.Sprintf("s-busy-%d", w), T0.Add(time.Hour))
		if h.Strikes != each || len(h.Holds) != each {
			t.Errorf("writer %d: %d strikes, %d holds; want %d each", w, h.Strikes, len(h.Holds), each)
		}
	}
}

func testHolds(t *testing.T, open Opener) {
	l := open(t)
	rec := Record("s-holds", payout, T0, decision.Restrict, "PAYOUT_MISMATCH")
	rec.Verdict.Restrictions = []decision.Restriction{
		{Capability: "payouts", Duration: 7 * day},
		{Capability: "withdrawals"}, // until lifted
	}
	rec.Verdict.Remedy = &decision.Remedy{Code: "verify_identity", Checkpoint: idv}
	commit(t, l, rec)
	since := rec.DecidedAt.UTC().Truncate(time.Microsecond)
	payouts := decision.Hold{Capability: "payouts", Since: since, Until: since.Add(7 * day), DecisionID: rec.DecisionID, Remedy: "verify_identity"}
	withdrawals := decision.Hold{Capability: "withdrawals", Since: since, DecisionID: rec.DecisionID, Remedy: "verify_identity"}

	for _, tc := range []struct {
		name string
		now  time.Time
		want []decision.Hold
	}{
		{"before the decision", T0.Add(-time.Second), nil},
		{"at the decision", T0, []decision.Hold{payouts, withdrawals}},
		{"a day later", T0.Add(day), []decision.Hold{payouts, withdrawals}},
		{"just before until", T0.Add(7*day - time.Microsecond), []decision.Hold{payouts, withdrawals}},
		{"at until", T0.Add(7 * day), []decision.Hold{withdrawals}},
		{"a year later", T0.Add(365 * day), []decision.Hold{withdrawals}},
	} {
		h := history(t, l, "s-holds", tc.now)
		slices.SortFunc(h.Holds, func(a, b decision.Hold) int { return strings.Compare(a.Capability, b.Capability) })
		if diff := cmp.Diff(tc.want, h.Holds, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("History(%s).Holds (-want +got):\n%s", tc.name, diff)
		}
		if h.Suspended || h.Strikes != 0 {
			t.Errorf("History(%s) = suspended %v, %d strikes; want neither", tc.name, h.Suspended, h.Strikes)
		}
	}
	if h := history(t, l, "someone-else", T0.Add(day)); len(h.Holds) != 0 {
		t.Errorf("History(someone-else).Holds = %v, want none", h.Holds)
	}
}

func testSuspension(t *testing.T, open Opener) {
	l := open(t)
	timed := Record("s-susp-timed", login, T0, decision.Suspend, "ATO")
	timed.Verdict.Duration = 3 * day
	commit(t, l, timed)
	untimed := Record("s-susp-open", login, T0, decision.Suspend, "FRAUD_RING")
	commit(t, l, untimed)

	for _, tc := range []struct {
		subject string
		now     time.Time
		want    bool
	}{
		{"s-susp-timed", T0.Add(-time.Second), false},
		{"s-susp-timed", T0, true},
		{"s-susp-timed", T0.Add(3*day - time.Second), true},
		{"s-susp-timed", T0.Add(3 * day), false},
		{"s-susp-open", T0.Add(365 * day), true},
	} {
		if got := history(t, l, tc.subject, tc.now).Suspended; got != tc.want {
			t.Errorf("History(%s, T0%+v).Suspended = %v, want %v", tc.subject, tc.now.Sub(T0), got, tc.want)
		}
	}
}

// A suspend decided while a suspension is in force (the policy re-asserting
// it) adds none of its own: overturning the decision that suspended the
// account lifts the suspension.
func testSuspensionIsAState(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-susp-state"
	first := Record(s, payout, T0, decision.Suspend, "DOCUMENT_REUSED")
	first.Verdict.Strike = true
	commit(t, l, first)
	reasserted := Record(s, login, T0.Add(time.Hour), decision.Suspend, "ACCOUNT_SUSPENDED")
	commit(t, l, reasserted)
	if h := history(t, l, s, T0.Add(2*time.Hour)); !h.Suspended || h.Strikes != 1 {
		t.Fatalf("History after a re-asserted suspension = %+v, want suspended with 1 strike", h)
	}
	if err := l.Overturn(ctxOf(t), first.DecisionID, "reviewer: the document is the account holder's", T0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if h := history(t, l, s, T0.Add(4*time.Hour)); h.Suspended || h.Strikes != 0 {
		t.Errorf("History after overturning the suspension = %+v, want not suspended, no strikes", h)
	}
}

func testStrikeTTL(t *testing.T, open Opener) {
	l := open(t)
	ttl := l.Config().StrikeTTL
	if ttl != 90*day {
		t.Errorf("default StrikeTTL = %v, want 90 days", ttl)
	}
	a := Record("s-strikes", signup, T0, decision.Restrict, "SYNTHETIC_ID", "DISPOSABLE_EMAIL")
	a.Verdict.Strike = true
	commit(t, l, a)
	b := Record("s-strikes", login, T0.Add(10*day), decision.Warn, "NEW_DEVICE")
	b.Verdict.Strike = true
	commit(t, l, b)
	c := Record("s-strikes", login, T0.Add(11*day), decision.Challenge, "NO_STRIKE")
	commit(t, l, c) // no strike

	for _, tc := range []struct {
		name  string
		now   time.Time
		count int
		codes []string
	}{
		{"before", T0.Add(-time.Second), 0, nil},
		{"after the first", T0.Add(time.Hour), 1, []string{"SYNTHETIC_ID", "DISPOSABLE_EMAIL"}},
		{"after both", T0.Add(20 * day), 2, []string{"SYNTHETIC_ID", "DISPOSABLE_EMAIL", "NEW_DEVICE"}},
		{"first expiring", T0.Add(ttl - time.Microsecond), 2, []string{"SYNTHETIC_ID", "DISPOSABLE_EMAIL", "NEW_DEVICE"}},
		{"first expired", T0.Add(ttl), 1, []string{"NEW_DEVICE"}},
		{"both expired", T0.Add(10*day + ttl), 0, nil},
	} {
		h := history(t, l, "s-strikes", tc.now)
		if h.Strikes != tc.count {
			t.Errorf("History(%s).Strikes = %d, want %d", tc.name, h.Strikes, tc.count)
		}
		if diff := cmp.Diff(tc.codes, h.StrikeCode, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("History(%s).StrikeCode (-want +got):\n%s", tc.name, diff)
		}
	}
}

func testRemedyLiftsHolds(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-remedy"
	hold := Record(s, payout, T0, decision.Restrict, "PAYOUT_MISMATCH")
	hold.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}, {Capability: "withdrawals", Duration: 30 * day}}
	hold.Verdict.Remedy = &decision.Remedy{Code: "verify_identity", Checkpoint: idv}
	commit(t, l, hold)
	other := Record(s, login, T0.Add(time.Minute), decision.Restrict, "VELOCITY")
	other.Verdict.Restrictions = []decision.Restriction{{Capability: "messages"}}
	other.Verdict.Remedy = &decision.Remedy{Code: "contact_support"}
	commit(t, l, other)
	holdsAt := func(now time.Time) []string {
		var caps []string
		for _, h := range history(t, l, s, now).Holds {
			caps = append(caps, h.Capability)
		}
		slices.Sort(caps)
		return caps
	}
	all := []string{"messages", "payouts", "withdrawals"}

	// None of these lifts anything: wrong checkpoint, not allow, dry run,
	// fallback.
	commit(t, l, Record(s, login, T0.Add(time.Hour), decision.Allow))
	commit(t, l, Record(s, idv, T0.Add(2*time.Hour), decision.Challenge, "DOC_BLURRY"))
	dry := Record(s, idv, T0.Add(3*time.Hour), decision.Allow)
	dry.DryRun = true
	commit(t, l, dry)
	fb := Record(s, idv, T0.Add(4*time.Hour), decision.Allow, decision.ReasonPolicyUnavailable)
	fb.Fallback, fb.Cause = true, "policy timed out"
	commit(t, l, fb)
	if got := holdsAt(T0.Add(5 * time.Hour)); !slices.Equal(got, all) {
		t.Fatalf("holds before the remedy = %v, want %v", got, all)
	}

	pass := Record(s, idv, T0.Add(6*time.Hour), decision.Allow)
	commit(t, l, pass)
	if got, want := holdsAt(T0.Add(7*time.Hour)), []string{"messages"}; !slices.Equal(got, want) {
		t.Errorf("holds after passing %s = %v, want %v", idv, got, want)
	}
	records, err := l.Holds(ctxOf(t), s)
	if err != nil {
		t.Fatalf("Holds(%s) = %v", s, err)
	}
	wantReason := fmt.Sprintf("remedy passed at %s by decision %s", idv, pass.DecisionID)
	for _, h := range records {
		switch h.Capability {
		case "payouts", "withdrawals":
			if h.RemedyCheckpoint != idv || !h.LiftedAt.Equal(pass.DecidedAt) || h.LiftedReason != wantReason {
				t.Errorf("hold %s: remedy checkpoint %q, lifted %v %q; want %q, %v %q",
					h.Capability, h.RemedyCheckpoint, h.LiftedAt, h.LiftedReason, idv, pass.DecidedAt, wantReason)
			}
		case "messages":
			if !h.LiftedAt.IsZero() || h.LiftedReason != "" {
				t.Errorf("hold messages lifted %v %q, want standing", h.LiftedAt, h.LiftedReason)
			}
		}
	}
	if len(records) != 3 {
		t.Errorf("Holds(%s) = %d holds, want 3", s, len(records))
	}
}

func testNoEffect(t *testing.T, open Opener) {
	l := open(t)
	for _, tc := range []struct {
		name   string
		mutate func(*decision.Record)
		recent int // a fallback was answered, so it is history; a dry run is not
	}{
		{"dry run", func(r *decision.Record) { r.DryRun = true }, 0},
		{"fallback", func(r *decision.Record) { r.Fallback, r.Cause = true, "policy undefined" }, 1},
	} {
		s := "s-noeffect-" + strings.ReplaceAll(tc.name, " ", "-")
		for i, action := range []decision.Action{decision.Restrict, decision.Suspend} {
			rec := Record(s, login, T0.Add(time.Duration(i)*time.Second), action, "X")
			rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}}
			rec.Verdict.Strike = true
			rec.Verdict.Duration = day
			tc.mutate(rec)
			stored := commit(t, l, rec)
			if got, err := l.Get(ctxOf(t), rec.DecisionID); err != nil || got.DryRun != rec.DryRun || got.Fallback != rec.Fallback {
				t.Errorf("%s: Get = %v, %v; want the record stored", tc.name, got, err)
			} else if diff := cmp.Diff(stored, got, recordOpts); diff != "" {
				t.Errorf("%s: Get (-committed +got):\n%s", tc.name, diff)
			}
		}
		h := history(t, l, s, T0.Add(time.Hour))
		if len(h.Holds) != 0 || h.Suspended || h.Strikes != 0 || len(h.Recent) != 2*tc.recent {
			t.Errorf("%s: History = %d holds, suspended %v, %d strikes, %d recent; want 0, false, 0, %d",
				tc.name, len(h.Holds), h.Suspended, h.Strikes, len(h.Recent), 2*tc.recent)
		}
		if recs, _, err := l.List(ctxOf(t), s, 10, ""); err != nil || len(recs) != 2 {
			t.Errorf("%s: List = %d records, %v; want 2", tc.name, len(recs), err)
		}
	}
}

func testRecent(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-recent"
	cfg := l.Config()
	if cfg.RecentWindow != 30*day || cfg.RecentLimit != 20 {
		t.Errorf("defaults: RecentWindow %v, RecentLimit %d; want 30 days, 20", cfg.RecentWindow, cfg.RecentLimit)
	}
	// 40 decisions, one every 12 hours from T0: the last at T0+19.5 days.
	var recs []*decision.Record
	for i := range 40 {
		code := fmt.Sprintf("CODE_%02d", i)
		rec := Record(s, login, T0.Add(time.Duration(i)*12*time.Hour), decision.Warn, code, "COMMON")
		recs = append(recs, commit(t, l, rec))
	}
	now := T0.Add(20 * day)
	h := history(t, l, s, now)
	if len(h.Recent) != 20 {
		t.Fatalf("History.Recent has %d decisions, want 20 (the limit)", len(h.Recent))
	}
	for i, p := range h.Recent {
		want := recs[39-i]
		if p.DecisionID != want.DecisionID || p.Checkpoint != login || p.Action != decision.Warn ||
			!p.DecidedAt.Equal(want.DecidedAt) || p.Overturned ||
			!slices.Equal(p.Codes, []string{fmt.Sprintf("CODE_%02d", 39-i), "COMMON"}) {
			t.Errorf("Recent[%d] = %+v, want decision %d (%s at %v)", i, p, 39-i, want.DecisionID, want.DecidedAt)
		}
	}
	// 45 days on, only those of the last 30 days count: decided after T0+15d.
	h = history(t, l, s, T0.Add(45*day))
	if len(h.Recent) != 9 {
		t.Errorf("History(T0+45d).Recent has %d decisions, want the 9 decided after T0+15d", len(h.Recent))
	}
	for _, p := range h.Recent {
		if !p.DecidedAt.After(T0.Add(15 * day)) {
			t.Errorf("History(T0+45d).Recent holds %s decided at %v, outside the window", p.DecisionID, p.DecidedAt)
		}
	}
	// As of an earlier now, later decisions are not history yet.
	h = history(t, l, s, T0.Add(36*time.Hour))
	if len(h.Recent) != 4 || h.Recent[0].DecisionID != recs[3].DecisionID {
		t.Errorf("History(T0+36h).Recent = %d decisions, newest %v; want 4, newest %s", len(h.Recent), h.Recent, recs[3].DecisionID)
	}
}

func testOverturn(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-overturn"
	rec := Record(s, payout, T0, decision.Suspend, "FRAUD_RING")
	rec.Verdict.Strike = true
	rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}}
	commit(t, l, rec)
	kept := Record(s, login, T0.Add(time.Minute), decision.Restrict, "VELOCITY")
	kept.Verdict.Strike = true
	commit(t, l, kept)

	h := history(t, l, s, T0.Add(time.Hour))
	if !h.Suspended || h.Strikes != 2 || len(h.Holds) != 1 || h.Overturned != 0 {
		t.Fatalf("History before the appeal = %+v", h)
	}
	if err := l.Overturn(ctxOf(t), rec.DecisionID, "reviewer r-7: documents check out", T0.Add(2*time.Hour)); err != nil {
		t.Fatalf("Overturn(%s) = %v", rec.DecisionID, err)
	}
	if err := l.Overturn(ctxOf(t), rec.DecisionID, "again", T0.Add(3*time.Hour)); err != nil {
		t.Errorf("Overturn(%s) twice = %v, want nil", rec.DecisionID, err)
	}
	if err := l.Overturn(ctxOf(t), uuid.NewString(), "", T0); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("Overturn(unknown) = %v, want ErrNotFound", err)
	}
	h = history(t, l, s, T0.Add(4*time.Hour))
	if h.Suspended || h.Strikes != 1 || !slices.Equal(h.StrikeCode, []string{"VELOCITY"}) || len(h.Holds) != 0 || h.Overturned != 1 {
		t.Errorf("History after the appeal = suspended %v, %d strikes %v, %d holds, %d overturned; want false, 1 [VELOCITY], 0, 1",
			h.Suspended, h.Strikes, h.StrikeCode, len(h.Holds), h.Overturned)
	}
	for _, p := range h.Recent {
		if p.Overturned != (p.DecisionID == rec.DecisionID) {
			t.Errorf("Recent %s overturned = %v", p.DecisionID, p.Overturned)
		}
	}
	hs, err := l.Holds(ctxOf(t), s)
	if err != nil || len(hs) != 1 || !strings.Contains(hs[0].LiftedReason, "documents check out") {
		t.Errorf("Holds(%s) = %+v, %v; want the hold lifted on appeal", s, hs, err)
	}
}

func testPaging(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-pages"
	var all []*decision.Record
	for i := range 7 {
		at := T0.Add(time.Duration(i) * time.Minute)
		if i == 4 {
			at = T0.Add(3 * time.Minute) // a tie on time, broken by decision id
		}
		all = append(all, commit(t, l, Record(s, login, at, decision.Allow)))
	}
	commit(t, l, Record("s-pages-other", login, T0, decision.Allow))
	slices.SortFunc(all, func(a, b *decision.Record) int {
		if c := b.DecidedAt.Compare(a.DecidedAt); c != 0 {
			return c
		}
		return strings.Compare(b.DecisionID, a.DecisionID)
	})

	var (
		got   []string
		token string
		pages int
	)
	for {
		recs, next, err := l.List(ctxOf(t), s, 3, token)
		if err != nil {
			t.Fatalf("List(page %d) = %v", pages, err)
		}
		pages++
		for _, r := range recs {
			got = append(got, r.DecisionID)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("List never ends")
		}
		token = next
	}
	var want []string
	for _, r := range all {
		want = append(want, r.DecisionID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List pages (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("List of 7 by 3 took %d pages, want 3", pages)
	}
	// An exact multiple ends without an empty page.
	recs, next, err := l.List(ctxOf(t), s, 7, "")
	if err != nil || len(recs) != 7 || next != "" {
		t.Errorf("List(7 of 7) = %d records, next %q, %v; want 7, \"\", nil", len(recs), next, err)
	}
	// Default page size.
	if recs, _, err := l.List(ctxOf(t), s, 0, ""); err != nil || len(recs) != 7 {
		t.Errorf("List(page size 0) = %d records, %v; want 7", len(recs), err)
	}
}

func testBadPageToken(t *testing.T, open Opener) {
	l := open(t)
	for i := range 3 {
		commit(t, l, Record("s-token", login, T0.Add(time.Duration(i)*time.Second), decision.Allow))
	}
	_, next, err := l.List(ctxOf(t), "s-token", 1, "")
	if err != nil || next == "" {
		t.Fatalf("List(s-token, 1) = %q, %v; want a next page", next, err)
	}
	for _, token := range []string{"garbage!", "e30", "bm90IGpzb24", next[:len(next)-2]} {
		if _, _, err := l.List(ctxOf(t), "s-token", 1, token); !errors.Is(err, ledger.ErrBadPageToken) {
			t.Errorf("List(token %q) = %v, want ErrBadPageToken", token, err)
		}
	}
	if _, _, err := l.List(ctxOf(t), "another-subject", 1, next); !errors.Is(err, ledger.ErrBadPageToken) {
		t.Errorf("List(another subject's token) = %v, want ErrBadPageToken", err)
	}
}

func testTimestamps(t *testing.T, open Opener) {
	l := open(t)
	for i, at := range []time.Time{
		T0,
		time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("UTC-7", -7*3600)), // one microsecond
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),               // nanoseconds: truncated
		time.Now(), // with a monotonic reading
	} {
		s := fmt.Sprintf("s-time-%d", i)
		rec := Record(s, payout, at, decision.Restrict, "T")
		rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: 90 * time.Minute}}
		rec.Verdict.Strike = true
		stored := commit(t, l, rec)
		want := at.Truncate(time.Microsecond)
		if !stored.DecidedAt.Equal(want) || stored.DecidedAt.Location() != time.UTC {
			t.Errorf("Commit(at %v).DecidedAt = %v, want %v in UTC", at, stored.DecidedAt, want)
		}
		got, err := l.Get(ctxOf(t), rec.DecisionID)
		if err != nil {
			t.Fatalf("Get = %v", err)
		}
		if !got.DecidedAt.Equal(want) {
			t.Errorf("Get(at %v).DecidedAt = %v, want %v", at, got.DecidedAt, want)
		}
		h := history(t, l, s, at.Add(time.Minute))
		if len(h.Holds) != 1 || !h.Holds[0].Since.Equal(want) || !h.Holds[0].Until.Equal(want.Add(90*time.Minute)) {
			t.Errorf("History(at %v).Holds = %+v, want since %v until %v", at, h.Holds, want, want.Add(90*time.Minute))
		}
		if len(h.Recent) != 1 || !h.Recent[0].DecidedAt.Equal(want) {
			t.Errorf("History(at %v).Recent = %+v, want decided at %v", at, h.Recent, want)
		}
	}
}

func testReopen(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-reopen"
	rec := Record(s, payout, T0, decision.Restrict, "PAYOUT_MISMATCH")
	rec.Verdict.Strike = true
	rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}}
	stored := commit(t, l, rec)
	before := history(t, l, s, T0.Add(time.Hour))
	cfg := l.Config()
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close() twice = %v", err)
	}

	again, err := ledger.Open(ctxOf(t), cfg, nil)
	if err != nil {
		t.Fatalf("reopen: Open = %v", err)
	}
	t.Cleanup(func() { again.Close() })
	got, err := again.Get(ctxOf(t), rec.DecisionID)
	if err != nil {
		t.Fatalf("after reopen: Get = %v", err)
	}
	if diff := cmp.Diff(stored, got, recordOpts); diff != "" {
		t.Errorf("after reopen: Get (-stored +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, history(t, again, s, T0.Add(time.Hour)), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after reopen: History (-before +after):\n%s", diff)
	}
	if _, replayed, err := again.Commit(ctxOf(t), rec, nil); err != nil || !replayed {
		t.Errorf("after reopen: Commit(same request) replayed = %v, %v; want true", replayed, err)
	}
}

func testWithoutProfile(t *testing.T, open Opener) {
	l := open(t)
	cfg := l.Config()
	if !cfg.StoreInput {
		t.Fatal("default StoreInput = false, want true")
	}
	cfg.StoreInput = false
	lean, err := ledger.Open(ctxOf(t), cfg, nil) // a second handle on the same database
	if err != nil {
		t.Fatalf("Open(StoreInput false) = %v", err)
	}
	t.Cleanup(func() { lean.Close() })

	rec := Record("s-private", signup, T0, decision.Allow)
	commit(t, lean, rec)
	if _, ok := rec.Input["subject"].(map[string]any)["profile"]; !ok {
		t.Error("Commit removed the profile from the caller's record")
	}
	got, err := l.Get(ctxOf(t), rec.DecisionID)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	subject, _ := got.Input["subject"].(map[string]any)
	if _, ok := subject["profile"]; ok || subject["id"] != "s-private" {
		t.Errorf("stored input.subject = %v, want the subject without its profile", subject)
	}
	full := Record("s-public", signup, T0, decision.Allow)
	commit(t, l, full)
	got, err = l.Get(ctxOf(t), full.DecisionID)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if p, _ := got.Input["subject"].(map[string]any)["profile"].(map[string]any); p["email"] != "ada@example.com" {
		t.Errorf("stored profile with StoreInput = %v, want it kept", p)
	}
}
