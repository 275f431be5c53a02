package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/events"
	"github.com/gavel/gavel/events/eventstest"
	"github.com/gavel/gavel/internal/pgtest"
	"github.com/gavel/gavel/ledger"
)

// backends opens real ledgers: a SQLite file, and a schema on the test
// PostgreSQL when one is configured. second opens another handle on the
// same database, as another replica would.
type backend struct {
	name string
	open func(t testing.TB) (first *ledger.Ledger, second func() *ledger.Ledger)
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t testing.TB) (*ledger.Ledger, func() *ledger.Ledger) {
			cfg := ledger.DefaultConfig()
			cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
			return openLedger(t, cfg), func() *ledger.Ledger { return openLedger(t, cfg) }
		}},
		{"postgres", func(t testing.TB) (*ledger.Ledger, func() *ledger.Ledger) {
			cfg := ledger.DefaultConfig()
			cfg.Driver = ledger.Postgres
			cfg.DSN = pgtest.Schema(t, "gavel_events")
			cfg.MaxConns = 8
			return openLedger(t, cfg), func() *ledger.Ledger { return openLedger(t, cfg) }
		}},
	}
}

func openLedger(t testing.TB, cfg ledger.Config) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// run starts a dispatcher on l delivering to the receiver, stopped (and
// waited for) when t ends.
func run(t testing.TB, l *ledger.Ledger, cfg events.Config) *events.Dispatcher {
	t.Helper()
	if cfg.Source == "" {
		cfg.Source = "/gavel-test"
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = 50 * time.Millisecond
	}
	var problems []string
	cfg.Validate(func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	})
	if len(problems) > 0 {
		t.Fatalf("config: %v", problems)
	}
	d, err := events.New(cfg, l, events.Options{Kick: l.EventsWritten()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return d
}

func endpointTo(r *eventstest.Receiver, secrets ...string) events.Endpoint {
	ss := make([]events.Secret, len(secrets))
	for i, s := range secrets {
		ss[i] = events.Secret(s)
	}
	return events.Endpoint{URL: r.URL + "/hooks/gavel", Secrets: ss, Timeout: 2 * time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond, MaxAttempts: 20}
}

// restrict commits a restrictive decision holding capability for subject.
func restrict(t testing.TB, l *ledger.Ledger, subject, capability string, at time.Time) *decision.Record {
	t.Helper()
	rec := &decision.Record{
		DecisionID: uuid.NewString(), RequestID: uuid.NewString(), SubjectID: subject, Checkpoint: "payout_method_change",
		DecidedAt: at,
		Verdict: decision.Verdict{Action: decision.Restrict,
			Reasons:      []decision.Reason{{Code: "PAYOUT_MISMATCH", Action: decision.Restrict, Appealable: true}},
			Restrictions: []decision.Restriction{{Capability: capability}}},
	}
	if _, _, err := l.Commit(context.Background(), rec, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return rec
}

// settled waits until no delivery is pending (every outcome recorded) and
// returns the stats then.
func settled(t testing.TB, l *ledger.Ledger) events.Stats {
	t.Helper()
	var st events.Stats
	eventstest.Wait(t, 20*time.Second, "no delivery pending", func() bool {
		var err error
		st, err = l.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range st.Endpoints {
			if e.Pending > 0 {
				return false
			}
		}
		return st.Unrouted == 0
	})
	return st
}

func noProblems(t testing.TB, r *eventstest.Receiver) {
	t.Helper()
	if p := r.Problems(); len(p) > 0 {
		t.Errorf("receiver problems: %v", p)
	}
}

func TestDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		l, _ := b.open(t)
		old, current := eventstest.NewSecret(), eventstest.NewSecret()
		// The receiver knows only the new secret: gavel, rotating, signs
		// with both.
		r := eventstest.NewReceiver(t, current)
		only := eventstest.NewReceiver(t, old)
		holds := endpointTo(only, old)
		holds.Types = []string{"gavel.hold.*"}
		run(t, l, events.Config{Endpoints: map[string]events.Endpoint{"market": endpointTo(r, old, current), "holds": holds}})

		now := time.Now()
		want := map[string]int{}
		for i := range 5 {
			for _, s := range []string{"acct-1", "acct-2", "acct-3"} {
				restrict(t, l, s, fmt.Sprintf("cap-%d", i), now.Add(time.Duration(i)*time.Millisecond))
				want[s] += 2 // the restrictive decision and its hold
			}
		}
		eventstest.Wait(t, 20*time.Second, "30 events delivered", func() bool { return r.Count() == 30 })
		eventstest.Wait(t, 20*time.Second, "15 hold events delivered to the holds endpoint", func() bool { return only.Count() == 15 })
		noProblems(t, r)
		noProblems(t, only)
		got := r.Delivered()
		if err := eventstest.InOrder(got); err != nil {
			t.Error(err)
		}
		for s, n := range want {
			if len(got[s]) != n {
				t.Errorf("subject %s: %d events delivered, want %d", s, len(got[s]), n)
			}
		}
		first := got["acct-1"][0]
		if first.Type != events.TypeDecisionRestrictive || first.Source != "/gavel-test" || first.Signatures != 1 || len(first.Sequence) != 20 {
			t.Errorf("first event = %+v", first)
		}
		var d events.DecisionData
		if err := json.Unmarshal(first.Data, &d); err != nil || d.SubjectID != "acct-1" || d.Action != "restrict" {
			t.Errorf("first event data %s: %+v, %v", first.Data, d, err)
		}
		for _, evs := range only.Delivered() {
			for _, ev := range evs {
				if ev.Type != events.TypeHoldPlaced {
					t.Errorf("holds endpoint got %s, want only gavel.hold.*", ev.Type)
				}
			}
		}
		st := settled(t, l)
		for _, e := range st.Endpoints {
			wantN := map[string]int64{"market": 30, "holds": 15}[e.Endpoint]
			if e.Delivered != wantN || e.Pending != 0 || e.Dead != 0 {
				t.Errorf("stats of %s = %+v, want %d delivered", e.Endpoint, e, wantN)
			}
		}
	})
}

func TestRetryAfter500(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		l, _ := b.open(t)
		secret := eventstest.NewSecret()
		r := eventstest.NewReceiver(t, secret)
		// The first event of acct-1 fails twice; acct-2 is never held back.
		var firstID atomic.Value
		r.SetAnswer(func(ev eventstest.Received, attempt int) int {
			if ev.Subject == "acct-1" {
				firstID.CompareAndSwap(nil, ev.ID)
			}
			if ev.Subject == "acct-1" && firstID.Load() == ev.ID && attempt <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		restrict(t, l, "acct-1", "payouts", time.Now())
		run(t, l, events.Config{Endpoints: map[string]events.Endpoint{"market": endpointTo(r, secret)}})
		restrict(t, l, "acct-1", "withdrawals", time.Now())
		restrict(t, l, "acct-2", "payouts", time.Now())
		eventstest.Wait(t, 20*time.Second, "6 events delivered", func() bool { return r.Count() == 6 })
		noProblems(t, r)
		if err := eventstest.InOrder(r.Delivered()); err != nil {
			t.Error(err)
		}
		var tries []int
		for _, ev := range r.All() {
			if ev.ID == firstID.Load() {
				tries = append(tries, ev.Answered)
			}
		}
		if !slices.Equal(tries, []int{500, 500, 200}) {
			t.Errorf("answers to the first event = %v, want 500, 500, 200", tries)
		}
		st := settled(t, l)
		if e := st.Endpoints[0]; e.Failed != 2 || e.Delivered != 6 || e.Pending != 0 {
			t.Errorf("stats = %+v, want 2 failed, 6 delivered", e)
		}
	})
}

func TestDeadLetterAndRedrive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		l, _ := b.open(t)
		secret := eventstest.NewSecret()
		r := eventstest.NewReceiver(t, secret)
		var down atomic.Bool
		down.Store(true)
		r.SetAnswer(func(ev eventstest.Received, attempt int) int {
			if ev.Subject == "acct-bad" && down.Load() {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		ep := endpointTo(r, secret)
		ep.MaxAttempts = 3
		run(t, l, events.Config{Endpoints: map[string]events.Endpoint{"market": ep}})
		restrict(t, l, "acct-bad", "payouts", time.Now())
		restrict(t, l, "acct-good", "payouts", time.Now())
		ctx := context.Background()
		var letters []events.Letter
		eventstest.Wait(t, 20*time.Second, "both of acct-bad's events dead", func() bool {
			var err error
			letters, err = l.Letters(ctx, events.LetterFilter{})
			return err == nil && len(letters) == 2
		})
		eventstest.Wait(t, 20*time.Second, "acct-good's events delivered", func() bool { return len(r.Delivered()["acct-good"]) == 2 })
		for _, x := range letters {
			if x.Event.Subject != "acct-bad" || x.Attempts != 3 || x.LastStatus != 503 || !strings.Contains(x.LastError, "503") {
				t.Errorf("dead letter = %+v", x)
			}
		}
		st := settled(t, l)
		if e := st.Endpoints[0]; e.Dead != 2 || e.Failed != 6 || e.Delivered != 2 {
			t.Errorf("stats = %+v, want 2 dead, 6 failed, 2 delivered", e)
		}
		down.Store(false)
		if n, err := l.Redrive(ctx, "market", nil, time.Now()); err != nil || n != 2 {
			t.Fatalf("Redrive = %d, %v", n, err)
		}
		eventstest.Wait(t, 20*time.Second, "the redriven events delivered", func() bool { return len(r.Delivered()["acct-bad"]) == 2 })
		if err := eventstest.InOrder(r.Delivered()); err != nil {
			t.Error(err)
		}
		noProblems(t, r)
	})
}

func TestHangingReceiverIsCutOff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		l, _ := b.open(t)
		secret := eventstest.NewSecret()
		r := eventstest.NewReceiver(t, secret)
		r.SetHold(func(ev eventstest.Received) time.Duration {
			if ev.Subject == "acct-slow" {
				return time.Minute
			}
			return 0
		})
		ep := endpointTo(r, secret)
		ep.Timeout = 300 * time.Millisecond
		run(t, l, events.Config{Endpoints: map[string]events.Endpoint{"market": ep}})
		restrict(t, l, "acct-slow", "payouts", time.Now())
		// Decisions go on while the receiver hangs.
		start := time.Now()
		for i := range 20 {
			restrict(t, l, fmt.Sprintf("acct-%d", i), "payouts", time.Now())
		}
		t.Logf("20 decisions committed in %v while the receiver hangs", time.Since(start))
		eventstest.Wait(t, 20*time.Second, "the other subjects' events delivered", func() bool { return r.Count() == 40 })
		eventstest.Wait(t, 20*time.Second, "the hanging requests cut off and retried", func() bool {
			st, err := l.Stats(context.Background())
			return err == nil && len(st.Endpoints) == 1 && st.Endpoints[0].Failed >= 2
		})
		r.SetHold(nil)
		eventstest.Wait(t, 20*time.Second, "acct-slow's events delivered once it answers", func() bool { return r.Count() == 42 })
		noProblems(t, r)
	})
}

// TestReplicas runs two dispatchers on two handles of one database: every
// event is delivered, a subject never has two requests in flight at once,
// and each subject's events arrive in order.
func TestReplicas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		l1, second := b.open(t)
		l2 := second()
		secret := eventstest.NewSecret()
		r := eventstest.NewReceiver(t, secret)
		r.SetHold(func(eventstest.Received) time.Duration { return 2 * time.Millisecond })
		var n atomic.Int64
		r.SetAnswer(func(ev eventstest.Received, attempt int) int {
			if n.Add(1)%7 == 0 {
				return http.StatusBadGateway // some retries, to shuffle the timing
			}
			return http.StatusOK
		})
		cfg := events.Config{Endpoints: map[string]events.Endpoint{"market": endpointTo(r, secret)}}
		run(t, l1, cfg)
		run(t, l2, cfg)
		var wg sync.WaitGroup
		const subjects, each = 8, 10
		for i := range subjects {
			wg.Go(func() {
				for j := range each {
					l := l1
					if j%2 == 1 {
						l = l2
					}
					restrict(t, l, fmt.Sprintf("acct-%d", i), fmt.Sprintf("cap-%d", j), time.Now())
				}
			})
		}
		wg.Wait()
		eventstest.Wait(t, 60*time.Second, "every event delivered", func() bool { return r.Count() == subjects*each*2 })
		noProblems(t, r)
		if err := eventstest.InOrder(r.Delivered()); err != nil {
			t.Error(err)
		}
	})
}

func TestSweepWritesExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		l, _ := b.open(t)
		secret := eventstest.NewSecret()
		r := eventstest.NewReceiver(t, secret)
		run(t, l, events.Config{Endpoints: map[string]events.Endpoint{"market": endpointTo(r, secret)}})
		rec := &decision.Record{
			DecisionID: uuid.NewString(), RequestID: uuid.NewString(), SubjectID: "acct-exp", Checkpoint: "login",
			DecidedAt: time.Now(),
			Verdict: decision.Verdict{Action: decision.Restrict,
				Reasons:      []decision.Reason{{Code: "VELOCITY", Action: decision.Restrict}},
				Restrictions: []decision.Restriction{{Capability: "messages", Duration: 300 * time.Millisecond}}},
		}
		if _, _, err := l.Commit(context.Background(), rec, nil); err != nil {
			t.Fatal(err)
		}
		eventstest.Wait(t, 20*time.Second, "the hold's expiry delivered", func() bool { return r.Count() == 3 })
		got := r.Delivered()["acct-exp"]
		if got[2].Type != events.TypeHoldExpired {
			t.Errorf("last event = %s, want %s", got[2].Type, events.TypeHoldExpired)
		}
		time.Sleep(200 * time.Millisecond) // several sweeps later: still once
		if n := len(r.All()); n != 3 {
			t.Errorf("%d requests, want 3: an expiry is sent once", n)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	good := eventstest.NewSecret()
	cfg := events.Config{Source: "/gavel", PollInterval: time.Second, SweepInterval: time.Second,
		Endpoints: map[string]events.Endpoint{
			"ftp":    {URL: "ftp://example.com/x", Secrets: []events.Secret{events.Secret(good)}},
			"nosec":  {URL: "https://example.com/x"},
			"badsec": {URL: "https://example.com/x", Secrets: []events.Secret{"whsec_c2hvcnQ=", "secret"}},
			"types":  {URL: "http://127.0.0.1:9/x", Secrets: []events.Secret{events.Secret(good)}, Types: []string{"gavel.hold.*", "gavel.nope"}},
			"fine":   {URL: "https://example.com/x", Secrets: []events.Secret{events.Secret(good)}, Types: []string{"*"}},
		}}
	var got []string
	cfg.Validate(func(key, format string, args ...any) { got = append(got, key+": "+fmt.Sprintf(format, args...)) })
	want := []string{
		"events.endpoints.badsec.secrets[0]",
		"events.endpoints.badsec.secrets[1]",
		"events.endpoints.ftp.url: must be an http or https URL",
		"events.endpoints.nosec.secrets: at least one",
		"events.endpoints.types.types[1]: \"gavel.nope\"",
	}
	if len(got) != len(want) {
		t.Fatalf("Validate = %q, want %d problems", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to start %q", i, got[i], want[i])
		}
	}
	if s := fmt.Sprint(events.Secret(good)); strings.Contains(s, good[6:]) {
		t.Errorf("a secret prints as %q", s)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 30: time.Hour} {
		for range 50 {
			got := events.Backoff(time.Second, time.Hour, n)
			if got < want/2 || got > want {
				t.Fatalf("Backoff(1s, 1h, %d) = %v, want between %v and %v", n, got, want/2, want)
			}
		}
	}
}
