package bundles

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/logbuf"
	"github.com/gavel/gavel/internal/logcollector"
	"github.com/gavel/gavel/policies"
)

// realPolicies writes gavel's embedded bundle, mask policy included, to a
// temporary folder.
func realPolicies(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := policies.WriteBundle(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// decided evaluates input on e and returns the record the decision engine
// would commit.
func decided(t testing.TB, e *Engine, id string, input map[string]any) *decision.Record {
	t.Helper()
	v, err := e.Evaluate(t.Context(), input)
	if err != nil {
		t.Fatalf("Evaluate() = %v", err)
	}
	return &decision.Record{
		DecisionID: id,
		RequestID:  "req-" + id,
		SubjectID:  "acct-1",
		Checkpoint: "signup",
		DecidedAt:  time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Input:      input,
		Verdict:    v,
		Latency:    3 * time.Millisecond,
	}
}

func TestDecisionLogsUploadMasked(t *testing.T) {
	t.Parallel()
	c, srv := logcollector.New(t)
	e := startEngine(t, Config{
		Source:      realPolicies(t),
		InputSchema: policies.InputSchema(),
		DecisionLogs: &DecisionLogs{
			URL: srv.URL + "/", Path: "/v1/logs", Token: "collector-token",
			MinDelay: time.Second, MaxDelay: 2 * time.Second,
		},
	})

	input := signupInput(disposable(), map[string]any{"payout": map[string]any{"iban": "FR7630006000011234567890189"}})
	rec := decided(t, e, "dec-masked", input)
	if rec.Verdict.Action <= decision.Allow || len(rec.Verdict.Reasons) == 0 {
		t.Fatalf("verdict %+v: want a disposable-email signup to be more than allow", rec.Verdict)
	}
	dry := decided(t, e, "dec-dry-run", signupInput(nil, nil))
	dry.DryRun = true
	e.Observe(rec)
	e.Observe(dry)

	eventually(t, time.Minute, "both decisions at the collector", func() bool {
		return c.Event(rec.DecisionID) != nil && c.Event(dry.DecisionID) != nil
	})
	got := c.Event(rec.DecisionID)

	if bad := c.Violations(); len(bad) > 0 {
		t.Errorf("collector saw protocol violations: %q", bad)
	}
	if up := c.Uploads(); !slices.Equal(up, []string{"POST /v1/logs Bearer collector-token"}) {
		t.Errorf("uploads = %q, want only POST /v1/logs with the bearer token", up)
	}

	// What the event says about the decision.
	checks := []struct {
		keys []string
		want any
	}{
		{[]string{"path"}, "gavel/enforcement/decision"},
		{[]string{"timestamp"}, "2025-03-01T12:00:00Z"},
		{[]string{"bundles", "gavel", "revision"}, rec.Verdict.BundleRevision},
		{[]string{"result", "action"}, rec.Verdict.Action.String()},
		{[]string{"result", "strike"}, rec.Verdict.Strike},
		{[]string{"input", "subject", "id"}, "acct-1"},
		{[]string{"input", "checkpoint"}, "signup"},
		{[]string{"input", "signals", "email.disposable", "score"}, 1.0},
		{[]string{"metrics", "timer_gavel_decision_ns"}, float64(3 * time.Millisecond)},
		{[]string{"custom", "dry_run"}, false},
	}
	for _, ck := range checks {
		if v, ok := logcollector.Dig(got, ck.keys...); !ok || v != ck.want {
			t.Errorf("event %s = %v (present %v), want %v", strings.Join(ck.keys, "."), v, ok, ck.want)
		}
	}
	reasons, _ := logcollector.Dig(got, "result", "reasons")
	var codes []any
	for _, r := range reasons.([]any) {
		codes = append(codes, r.(map[string]any)["code"])
		if _, ok := r.(map[string]any)["evidence"]; ok {
			t.Errorf("event reason %v carries evidence", r)
		}
	}
	var wantCodes []any
	for _, r := range rec.Verdict.Reasons {
		wantCodes = append(wantCodes, r.Code)
	}
	if diff := cmp.Diff(wantCodes, codes); diff != "" {
		t.Errorf("event reason codes (-want +got):\n%s", diff)
	}

	// Personal data is masked by the bundle's data.system.log.mask.
	for _, keys := range [][]string{
		{"input", "subject", "profile"},
		{"input", "context", "ip"},
		{"input", "context", "device_id"},
		{"input", "context", "user_agent"},
		{"input", "attributes"},
		{"input", "signals", "email.disposable", "evidence"},
	} {
		if v, ok := logcollector.Dig(got, keys...); ok {
			t.Errorf("event %s = %v, want it masked", strings.Join(keys, "."), v)
		}
	}
	raw, _ := json.Marshal(got)
	for _, pii := range []string{"ada@example.com", "Lovelace", "203.0.113.7", "+447700900123", "FR7630006000011234567890189"} {
		if strings.Contains(string(raw), pii) {
			t.Errorf("event carries %q: %s", pii, raw)
		}
	}
	if erased, _ := logcollector.Dig(got, "erased"); !strings.Contains(fmt.Sprint(erased), "/input/subject/profile") {
		t.Errorf("event erased = %v, want it to name /input/subject/profile", erased)
	}
	// OPA masks the copy it was given, not the record gavel keeps.
	if _, ok := logcollector.Dig(rec.Input, "subject", "profile"); !ok {
		t.Error("the record's own input lost subject.profile: the mask reached gavel's record")
	}

	if v, _ := logcollector.Dig(c.Event(dry.DecisionID), "custom", "dry_run"); v != true {
		t.Errorf("dry-run event custom.dry_run = %v, want true", v)
	}
	// OPA counts an upload once the collector's reply is in, which can be
	// just after the collector has the events.
	eventually(t, time.Minute, "the upload counted", func() bool { return e.DecisionLogStats().UploadedChunks >= 1 })
	st := e.DecisionLogStats()
	if !st.Enabled || st.Logged != 2 || st.Dropped != 0 || st.FailedChunks != 0 {
		t.Errorf("DecisionLogStats() = %+v, want 2 logged, none dropped, uploads without failures", st)
	}
}

// TestDecisionLogsCollectorDown: a collector that is down costs decisions
// nothing; OPA's bounded buffer drops the oldest events, and once the
// collector is back the newest arrive.
func TestDecisionLogsCollectorDown(t *testing.T) {
	t.Parallel()
	c, srv := logcollector.New(t)
	c.Down.Store(true)
	const buffer, n = 3, 50
	e := startEngine(t, Config{
		Source: realPolicies(t),
		DecisionLogs: &DecisionLogs{
			URL: srv.URL, BufferEvents: buffer, MinDelay: time.Second, MaxDelay: 2 * time.Second,
		},
	})

	input := signupInput(disposable(), nil)
	var last string
	for i := range n {
		rec := decided(t, e, fmt.Sprintf("dec-down-%02d", i), input)
		e.Observe(rec)
		last = rec.DecisionID
	}
	eventually(t, time.Minute, "all decisions handed to OPA and an upload failing", func() bool {
		st := e.DecisionLogStats()
		return st.Logged == n && st.FailedChunks > 0
	})
	st := e.DecisionLogStats()
	if st.Buffered > buffer {
		t.Errorf("OPA's buffer holds %d items, want at most %d", st.Buffered, buffer)
	}
	if st.BufferDropped == 0 {
		t.Errorf("DecisionLogStats() = %+v: %d events into a buffer of %d with the collector down, want the oldest dropped", st, n, buffer)
	}
	if _, err := e.Evaluate(t.Context(), input); err != nil {
		t.Errorf("Evaluate() with the collector down = %v", err)
	}

	c.Down.Store(false)
	eventually(t, time.Minute, "the newest decision at the collector once it is back", func() bool {
		return c.Event(last) != nil
	})
	if got := c.Count(); got >= n {
		t.Errorf("collector received %d events, want fewer than %d (the oldest were dropped)", got, n)
	}
	if c.Posts() < 2 {
		t.Errorf("collector saw %d uploads, want failed ones and then a good one", c.Posts())
	}
}

// TestDecisionLogsConsole logs masked events to the engine's log, and
// shows Observe dropping (never blocking) once its queue is full.
func TestDecisionLogsConsole(t *testing.T) {
	t.Parallel()
	var logs logbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := New(t.Context(), Config{
		Source:       realPolicies(t),
		DecisionLogs: &DecisionLogs{Console: true, Queue: 2},
	}, log)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("engine log:\n%s", logs.String())
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	if err := e.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	rec := decided(t, e, "dec-console", signupInput(disposable(), nil))
	e.Observe(rec)
	var line map[string]any
	eventually(t, time.Minute, "the decision in the engine's log", func() bool {
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, `"msg":"Decision Log"`) && strings.Contains(l, rec.DecisionID) {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	})
	if line["opa_decision_id"] != rec.DecisionID {
		t.Errorf("console event opa_decision_id = %v, want %s", line["opa_decision_id"], rec.DecisionID)
	}
	if a, _ := logcollector.Dig(line, "opa_result", "action"); a != rec.Verdict.Action.String() {
		t.Errorf("console event result.action = %v, want %s", a, rec.Verdict.Action)
	}
	for _, pii := range []string{"ada@example.com", "203.0.113.7"} {
		if strings.Contains(logs.String(), pii) {
			t.Errorf("engine log carries %q", pii)
		}
	}

	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	e.Stop(sctx)
	scancel()
	// The worker is gone: two decisions fill the queue, the rest are dropped.
	for range 5 {
		e.Observe(rec)
	}
	if st := e.DecisionLogStats(); st.Queued != 2 || st.Dropped != 3 {
		t.Errorf("DecisionLogStats() after 5 Observe on a stopped engine = %+v, want 2 queued and 3 dropped", st)
	}
}

func TestDecisionLogsConfig(t *testing.T) {
	t.Parallel()
	cfg := Config{Source: "/srv/bundle", DecisionLogs: &DecisionLogs{
		URL: "https://logs.example.com/ingest/", Token: "s3cret", MinDelay: 1500 * time.Millisecond,
	}}.withDefaults()
	src, _ := parseSource(cfg.Source)
	raw, err := cfg.opaConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"decision_log_collector": map[string]any{
			"url":         "https://logs.example.com/ingest",
			"credentials": map[string]any{"bearer": map[string]any{"token": "s3cret"}},
		},
	}
	if diff := cmp.Diff(want, got["services"]); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	wantDL := map[string]any{
		"service":       "decision_log_collector",
		"resource":      "/logs",
		"console":       false,
		"mask_decision": "/system/log/mask",
		"reporting": map[string]any{
			"buffer_type": "event", "buffer_size_limit_events": 10000.0,
			"min_delay_seconds": 2.0, "max_delay_seconds": 30.0,
		},
	}
	if diff := cmp.Diff(wantDL, got["decision_logs"]); diff != "" {
		t.Errorf("decision_logs (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name string
		dl   DecisionLogs
		want []string
	}{
		{"console only", DecisionLogs{Console: true}, nil},
		{"nowhere", DecisionLogs{}, []string{"set a collector URL, console, or both"}},
		{"everything wrong", DecisionLogs{URL: "ftp://host", Path: "logs", BufferEvents: -1, MinDelay: 500 * time.Millisecond, MaxDelay: 400 * time.Millisecond},
			[]string{"want http:// or https://", "want an absolute path", "want at least 1 event", "min delay", "below min delay"}},
		{"no host", DecisionLogs{URL: "http:///logs"}, []string{"no host"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Config{Source: "x", DecisionLogs: &tt.dl}.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}
