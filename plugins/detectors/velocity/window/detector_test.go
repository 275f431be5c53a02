package window

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/internal/redistest"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env returns a configuration lookup over vars, with defaults elsewhere.
func env(vars map[string]string) func(key, def string) string {
	return func(key, def string) string {
		if v, ok := vars[key]; ok {
			return v
		}
		return def
	}
}

func openStore(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openRedis(t testing.TB, url string) *RedisStore {
	t.Helper()
	s, err := OpenRedis(context.Background(), url)
	if err != nil {
		t.Fatalf("OpenRedis(%s): %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// backend is one kind of store. open opens it; opening it again opens the
// same store anew (a restart, or another replica).
type backend struct {
	name       string
	resolution time.Duration // of the event times it keeps
	open       func(t testing.TB) Counter
}

// sqliteBackend is a fresh SQLite file.
func sqliteBackend(t testing.TB) backend {
	t.Helper()
	path := filepath.Join(t.TempDir(), "velocity.db")
	return backend{"sqlite", time.Nanosecond, func(t testing.TB) Counter { return openStore(t, path) }}
}

// redisBackend is a fresh redis-server of the test's own.
func redisBackend(t testing.TB) backend {
	t.Helper()
	url := redistest.Server(t)
	return backend{"redis", time.Microsecond, func(t testing.TB) Counter { return openRedis(t, url) }}
}

// eachBackend runs test on a fresh store of every kind: the detector must
// behave the same over each.
func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, kind := range []struct {
		name string
		new  func(testing.TB) backend
	}{{"sqlite", sqliteBackend}, {"redis", redisBackend}} {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			test(t, kind.new(t))
		})
	}
}

func newDetector(t testing.TB, b backend, vars map[string]string) *Detector {
	t.Helper()
	cfg, err := LoadConfig(env(vars))
	if err != nil {
		t.Fatalf("LoadConfig(%v): %v", vars, err)
	}
	return NewDetector(b.open(t), cfg)
}

type req struct {
	checkpoint, subject, email, ip, device string
	at                                     time.Time
	dryRun                                 bool
}

func (r req) proto() *detectorv1.DetectRequest {
	p := &detectorv1.DetectRequest{
		Checkpoint: r.checkpoint,
		Subject:    &detectorv1.Subject{Id: r.subject, Profile: &detectorv1.Profile{Email: r.email}},
		Context:    &detectorv1.Context{Ip: r.ip, DeviceId: r.device},
		DryRun:     r.dryRun,
	}
	if !r.at.IsZero() {
		p.Now = timestamppb.New(r.at)
	}
	return p
}

// counts runs Detect and returns each signal's value (the count).
func counts(t testing.TB, d *Detector, r req) map[string]string {
	t.Helper()
	resp, err := d.Detect(context.Background(), r.proto())
	if err != nil {
		t.Fatalf("Detect(%+v): %v", r, err)
	}
	out := map[string]string{}
	for _, s := range resp.GetSignals() {
		out[s.GetName()] = s.GetValue()
	}
	return out
}

func signup(ip, device, email string, at time.Time) req {
	return req{checkpoint: "signup", subject: "acct-" + email, email: email, ip: ip, device: device, at: at}
}

func TestDetectCountsWithinWindow(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		d := newDetector(t, b, map[string]string{"WINDOW": "1h"})
		steps := []struct {
			r    req
			want map[string]string
		}{
			{signup("203.0.113.7", "dev-1", "a@acme.io", t0), map[string]string{
				"velocity.signups_per_ip": "1", "velocity.signups_per_device": "1", "velocity.signups_per_email_domain": "1"}},
			{signup("203.0.113.7", "dev-2", "b@acme.io", t0.Add(10*time.Minute)), map[string]string{
				"velocity.signups_per_ip": "2", "velocity.signups_per_device": "1", "velocity.signups_per_email_domain": "2"}},
			// gmail.com is ignored for the domain count; no device, no device signal
			{signup("203.0.113.7", "", "c@gmail.com", t0.Add(20*time.Minute)), map[string]string{
				"velocity.signups_per_ip": "3"}},
			// a /64 counts as one IPv6 subscriber
			{signup("2001:db8::1", "dev-1", "d@acme.io", t0.Add(30*time.Minute)), map[string]string{
				"velocity.signups_per_ip": "1", "velocity.signups_per_device": "2", "velocity.signups_per_email_domain": "3"}},
			{signup("2001:db8::ffff", "", "", t0.Add(31*time.Minute)), map[string]string{
				"velocity.signups_per_ip": "2"}},
			// the first signup is now more than an hour old
			{signup("203.0.113.7", "dev-1", "e@ACME.io", t0.Add(65*time.Minute)), map[string]string{
				"velocity.signups_per_ip": "3", "velocity.signups_per_device": "2", "velocity.signups_per_email_domain": "3"}},
			// other checkpoints count other things
			{req{checkpoint: "login", ip: "203.0.113.7", at: t0.Add(66 * time.Minute)}, map[string]string{}},
			{req{checkpoint: "profile_update", subject: "x", ip: "203.0.113.7", at: t0.Add(66 * time.Minute)}, map[string]string{}},
		}
		for i, s := range steps {
			if got := counts(t, d, s.r); !mapsEqual(got, s.want) {
				t.Errorf("step %d: Detect(%+v) = %v, want %v", i, s.r, got, s.want)
			}
		}
	})
}

func TestDetectExpiry(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		d := newDetector(t, b, map[string]string{"PAYOUT_CHANGES_PER_ACCOUNT_WINDOW": "168h"})
		change := func(at time.Time) req { return req{checkpoint: "payout_method_change", subject: "acct-9", at: at} }
		tests := []struct {
			at   time.Time
			want string
		}{
			{t0, "1"},
			{t0.Add(24 * time.Hour), "2"},
			{t0.Add(7 * 24 * time.Hour), "2"}, // the first is exactly a window old: out
			{t0.Add(7*24*time.Hour + b.resolution), "3"},
			{t0.Add(30 * 24 * time.Hour), "1"},
		}
		for _, tt := range tests {
			if got := counts(t, d, change(tt.at))["velocity.payout_changes_per_account"]; got != tt.want {
				t.Errorf("Detect(payout change at %v) = %s, want %s", tt.at, got, tt.want)
			}
		}
	})
}

func TestDetectScoreAndEvidence(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		d := newDetector(t, b, map[string]string{"SIGNUPS_PER_DEVICE_THRESHOLD": "3", "SIGNUPS_PER_DEVICE_WINDOW": "2h"})
		var got []float64
		for i := range 4 {
			resp, err := d.Detect(context.Background(), req{checkpoint: "signup", device: "dev-7", at: t0.Add(time.Duration(i) * time.Minute)}.proto())
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetSignals()) != 1 {
				t.Fatalf("Detect(device only) = %v, want one signal", resp.GetSignals())
			}
			s := resp.GetSignals()[0]
			got = append(got, s.GetScore())
			ev := s.GetEvidence().GetFields()
			if ev["count"].GetNumberValue() != float64(i+1) || ev["threshold"].GetNumberValue() != 3 ||
				ev["window"].GetStringValue() != "2h0m0s" || ev["key_kind"].GetStringValue() != KindDevice {
				t.Errorf("Detect(signup %d) evidence = %v, want count %d, threshold 3, window 2h0m0s, key_kind device_id", i+1, ev, i+1)
			}
		}
		if want := []float64{0, 0.5, 1, 1}; !slices.Equal(got, want) {
			t.Errorf("Detect scores for 4 signups = %v, want %v", got, want)
		}
	})
}

// TestDetectCountLimit: a count stops at COUNT_LIMIT and says so (value
// "4+", evidence count_capped) on every store, recorded, dry run and
// distinct alike, with the score that of the limit.
func TestDetectCountLimit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		d := newDetector(t, b, map[string]string{"COUNT_LIMIT": "4", "SIGNUPS_PER_EMAIL_DOMAIN_THRESHOLD": "4", "SIGNUPS_PER_IP_THRESHOLD": "4",
			"LOGINS_PER_DEVICE_ACCOUNTS_THRESHOLD": "3"})
		signal := func(r req, name string) *detectorv1.Signal {
			t.Helper()
			resp, err := d.Detect(context.Background(), r.proto())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range resp.GetSignals() {
				if s.GetName() == name {
					return s
				}
			}
			t.Fatalf("Detect(%+v): no %s signal in %v", r, name, resp.GetSignals())
			return nil
		}
		for i := range 7 {
			r := signup(fmt.Sprintf("203.0.113.%d", i), "", fmt.Sprintf("u%d@burst.example", i), t0.Add(time.Duration(i)*time.Second))
			r.dryRun = i == 6 // a dry run past the limit is capped too
			s := signal(r, "velocity.signups_per_email_domain")
			ev := s.GetEvidence().GetFields()
			wantValue, wantCount, capped := strconv.Itoa(i+1), float64(i+1), false
			if i+1 >= 4 {
				wantValue, wantCount, capped = "4+", 4, true
			}
			if s.GetValue() != wantValue || ev["count"].GetNumberValue() != wantCount || ev["count_capped"].GetBoolValue() != capped {
				t.Errorf("signup %d: value %q, evidence %v; want value %q, count %v, count_capped %v", i+1, s.GetValue(), ev, wantValue, wantCount, capped)
			}
			if i+1 >= 4 && s.GetScore() != 1 {
				t.Errorf("signup %d: score %v, want 1 at the limit", i+1, s.GetScore())
			}
		}
		// Distinct accounts on one device: capped at the limit as well.
		var last *detectorv1.Signal
		for i := range 6 {
			last = signal(req{checkpoint: "login", subject: fmt.Sprintf("acct-%d", i), device: "dev-shared", at: t0.Add(time.Duration(i) * time.Second)},
				"velocity.logins_per_device_accounts")
		}
		if last.GetValue() != "4+" || !last.GetEvidence().GetFields()["count_capped"].GetBoolValue() {
			t.Errorf("6 accounts on one device: value %q, evidence %v; want 4+, capped", last.GetValue(), last.GetEvidence().GetFields())
		}
	})
}

func TestScore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		count, threshold int
		want             float64
	}{
		{0, 5, 0}, {1, 5, 0}, {2, 5, 0.25}, {3, 5, 0.5}, {5, 5, 1}, {50, 5, 1}, {2, 2, 1},
	}
	for _, tt := range tests {
		if got := Score(tt.count, tt.threshold); got != tt.want {
			t.Errorf("Score(%d, %d) = %v, want %v", tt.count, tt.threshold, got, tt.want)
		}
	}
}

func TestDetectDryRunNotCounted(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		d := newDetector(t, b, nil)
		r := signup("198.51.100.1", "dev-dry", "x@acme.io", t0)
		r.dryRun = true
		for i := range 3 {
			// a dry run sees itself counted, but leaves nothing behind
			if got := counts(t, d, r)["velocity.signups_per_ip"]; got != "1" {
				t.Errorf("dry run %d: Detect = %s, want 1", i, got)
			}
		}
		r.dryRun = false
		if got := counts(t, d, r)["velocity.signups_per_ip"]; got != "1" {
			t.Errorf("Detect after 3 dry runs = %s, want 1", got)
		}
		r.dryRun = true
		if got := counts(t, d, r)["velocity.signups_per_ip"]; got != "2" {
			t.Errorf("dry run after one signup: Detect = %s, want 2", got)
		}
	})
}

func TestDetectDistinctAccountsPerDevice(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		d := newDetector(t, b, map[string]string{"LOGINS_PER_DEVICE_ACCOUNTS_WINDOW": "1h"})
		login := func(subject string, at time.Duration, dry bool) string {
			r := req{checkpoint: "login", subject: subject, device: "shared-dev", at: t0.Add(at), dryRun: dry}
			return counts(t, d, r)["velocity.logins_per_device_accounts"]
		}
		for i, tt := range []struct {
			subject string
			at      time.Duration
			dry     bool
			want    string
		}{
			{"a", 0, false, "1"}, {"a", 0, false, "1"}, {"b", 0, false, "2"}, {"a", 0, false, "2"},
			{"c", 0, true, "3"}, {"b", 0, true, "2"}, {"c", 0, false, "3"},
			// a logs in again later: a's login at t0 leaves the window, this one stays
			{"a", 30 * time.Minute, false, "3"},
			{"b", 61 * time.Minute, true, "2"},     // a (t0+30m) and b itself
			{"d", 61 * time.Minute, false, "2"},    // a and d
			{"a", 91 * time.Minute, false, "2"},    // d and a
			{"c", 152 * time.Minute, true, "1"},    // everyone else has left
			{"c", 152 * time.Minute, false, "1"},   // the dry run left nothing
			{"d", 152 * time.Minute, false, "2"},   // c and d
			{"d", 152 * time.Minute, false, "2"},   // d once
			{"e", 212*time.Minute - 1, false, "3"}, // c, d, e
			{"e", 212 * time.Minute, false, "1"},   // c and d are a window old
		} {
			if got := login(tt.subject, tt.at, tt.dry); got != tt.want {
				t.Errorf("login %d by %s at t0+%v (dry %v): Detect = %s, want %s", i, tt.subject, tt.at, tt.dry, got, tt.want)
			}
		}
		// a call that arrives late, with an older time, does not move an
		// account's last login back
		for i, tt := range []struct {
			subject string
			at      time.Duration
			want    string
		}{{"a", 10 * time.Minute, "1"}, {"a", 5 * time.Minute, "1"}, {"b", 69 * time.Minute, "2"}} {
			r := req{checkpoint: "login", subject: tt.subject, device: "late-dev", at: t0.Add(tt.at)}
			if got := counts(t, d, r)["velocity.logins_per_device_accounts"]; got != tt.want {
				t.Errorf("late login %d by %s at t0+%v: Detect = %s, want %s", i, tt.subject, tt.at, got, tt.want)
			}
		}
		if got := counts(t, d, req{checkpoint: "login", device: "shared-dev", at: t0}); len(got) != 0 {
			t.Errorf("Detect(login without subject) = %v, want no signal", got)
		}
	})
}

// TestDetectSurvivesRestart opens the store anew for each call: a restart of
// the detector, or another gavel replica sharing the Redis server.
func TestDetectSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for i := range 3 {
			s := b.open(t)
			got := counts(t, NewDetector(s, cfg), signup("192.0.2.44", "", "", t0.Add(time.Duration(i)*time.Minute)))
			if err := s.(interface{ Close() error }).Close(); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprint(i + 1); got["velocity.signups_per_ip"] != want {
				t.Errorf("run %d after reopening: Detect = %v, want signups_per_ip %s", i, got, want)
			}
		}
	})
}

// TestDetectConcurrent runs calls at once through two detectors on one store
// (two replicas on one Redis server; two connections to one SQLite file).
// Their times are a few milliseconds apart in no particular order, as the
// nows of concurrent decisions are: each call still sees its own ordinal.
func TestDetectConcurrent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		replicas := []*Detector{newDetector(t, b, map[string]string{"PRUNE_EVERY": "7", "COUNT_LIMIT": "1000"}), newDetector(t, b, map[string]string{"PRUNE_EVERY": "7", "COUNT_LIMIT": "1000"})}
		const workers, each = 8, 25
		seen := make(chan int, workers*each)
		var wg sync.WaitGroup
		for w := range workers {
			d := replicas[w%len(replicas)]
			wg.Go(func() {
				for i := range each {
					// worker w's calls go back in time while others' go forward
					skew := time.Duration((w*37+i*(7-2*w))%50) * time.Millisecond
					r := signup("203.0.113.99", fmt.Sprintf("dev-%d-%d", w, i), "", t0.Add(skew))
					resp, err := d.Detect(context.Background(), r.proto())
					if err != nil {
						t.Errorf("Detect: %v", err)
						return
					}
					for _, s := range resp.GetSignals() {
						if s.GetName() == "velocity.signups_per_ip" {
							var n int
							fmt.Sscan(s.GetValue(), &n)
							seen <- n
						}
					}
				}
			})
		}
		wg.Wait()
		close(seen)
		var got []int
		for n := range seen {
			got = append(got, n)
		}
		slices.Sort(got)
		// Each call counts itself and every call committed before it: the counts
		// are exactly 1..N, no duplicate and no gap.
		for i, n := range got {
			if n != i+1 {
				t.Fatalf("concurrent Detect counts = %v, want 1..%d each once", got, workers*each)
			}
		}
		if len(got) != workers*each {
			t.Fatalf("concurrent Detect gave %d counts, want %d", len(got), workers*each)
		}
	})
}

// TestDetectRecordsWhenTheCallerHasLeft: a call whose deadline has passed
// (the host stopped waiting) answers an error, but its event is counted.
func TestDetectRecordsWhenTheCallerHasLeft(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		d := newDetector(t, b, nil)
		counts(t, d, signup("192.0.2.77", "dev-late", "", t0))
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
		defer cancel()
		late := signup("192.0.2.77", "dev-late", "", t0.Add(time.Second))
		if _, err := d.Detect(ctx, late.proto()); err == nil {
			// the write may win the race; either way it must be recorded
			t.Logf("Detect(expired deadline) answered: the write was quicker than the check")
		}
		probe := signup("192.0.2.77", "dev-late", "", t0.Add(2*time.Second))
		probe.dryRun = true
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := counts(t, d, probe)
			if got["velocity.signups_per_ip"] == "3" && got["velocity.signups_per_device"] == "3" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dry run after a signup whose caller left = %v, want 3 per IP and device (the late one counted)", got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestPrune(t *testing.T) {
	t.Parallel()
	s := openStore(t, filepath.Join(t.TempDir(), "velocity.db"))
	ctx := context.Background()
	q := []Query{{Key: "k", Window: 48 * time.Hour}}
	for i := range 5 {
		if _, err := s.Observe(ctx, t0.Add(time.Duration(i)*time.Hour), true, q); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Prune(ctx, t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Errorf("Prune(t0+1h) = %d, %v, want 2 rows", n, err)
	}
	c, err := s.Observe(ctx, t0.Add(5*time.Hour), false, q)
	if err != nil || c[0] != 4 {
		t.Errorf("Observe after Prune = %v, %v, want [4]", c, err)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(env(map[string]string{
		"WINDOW": "2h", "SIGNUPS_PER_IP_WINDOW": "30m", "SIGNUPS_PER_IP_THRESHOLD": "10", "IGNORE_EMAIL_DOMAINS": " Example.com ,",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.Rules {
		want := Rule{Window: 2 * time.Hour, Threshold: DefaultRules()[slices.IndexFunc(DefaultRules(), func(d Rule) bool { return d.Name == r.Name })].Threshold}
		if r.Name == "signups_per_ip" {
			want = Rule{Window: 30 * time.Minute, Threshold: 10}
		}
		if r.Window != want.Window || r.Threshold != want.Threshold || r.Signal != "velocity."+r.Name {
			t.Errorf("LoadConfig: rule %s = %v %d %s, want %v %d", r.Name, r.Window, r.Threshold, r.Signal, want.Window, want.Threshold)
		}
	}
	if !cfg.IgnoreEmailDomains["example.com"] || cfg.IgnoreEmailDomains["gmail.com"] || len(cfg.IgnoreEmailDomains) != 1 {
		t.Errorf("LoadConfig: IgnoreEmailDomains = %v, want only example.com", cfg.IgnoreEmailDomains)
	}
	if cfg.MaxWindow() != 2*time.Hour {
		t.Errorf("MaxWindow() = %v, want 2h", cfg.MaxWindow())
	}

	if cfg.CountLimit != DefaultCountLimit {
		t.Errorf("LoadConfig: CountLimit = %d, want %d", cfg.CountLimit, DefaultCountLimit)
	}
	// A limit below a threshold would keep that rule's score under 1.
	if _, err := LoadConfig(env(map[string]string{"COUNT_LIMIT": "10", "SIGNUPS_PER_EMAIL_DOMAIN_THRESHOLD": "20"})); err == nil ||
		!strings.Contains(err.Error(), "COUNT_LIMIT: 10 is below SIGNUPS_PER_EMAIL_DOMAIN_THRESHOLD (20)") {
		t.Errorf("LoadConfig(COUNT_LIMIT under a threshold) = %v, want it refused, naming both", err)
	}

	_, err = LoadConfig(env(map[string]string{"WINDOW": "soon", "SIGNUPS_PER_DEVICE_THRESHOLD": "1", "PRUNE_EVERY": "x"}))
	if err == nil {
		t.Fatal("LoadConfig(bad values) = nil error, want every problem")
	}
	for _, key := range []string{"WINDOW", "SIGNUPS_PER_DEVICE_THRESHOLD", "PRUNE_EVERY"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("LoadConfig(bad values) = %v, want it to name %s", err, key)
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	d := newDetector(t, sqliteBackend(t), nil)
	resp, err := d.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantSignals := []string{"velocity.signups_per_ip", "velocity.signups_per_device", "velocity.signups_per_email_domain",
		"velocity.payout_changes_per_account", "velocity.logins_per_device_accounts"}
	wantCheckpoints := []string{"signup", "payout_method_change", "login"}
	if resp.GetName() != "velocity" || resp.GetVersion() != "1.0.0" || resp.GetLatencyBudget().AsDuration() != 20*time.Millisecond ||
		!slices.Equal(resp.GetSignals(), wantSignals) || !slices.Equal(resp.GetCheckpoints(), wantCheckpoints) {
		t.Errorf("Describe() = %v, want velocity 1.0.0, 20ms, signals %v, checkpoints %v", resp, wantSignals, wantCheckpoints)
	}
}

func TestDetectWithoutNowUsesClock(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		d := newDetector(t, b, map[string]string{"WINDOW": "1h"})
		counts(t, d, signup("192.0.2.9", "", "", time.Now().Add(-2*time.Hour)))
		counts(t, d, signup("192.0.2.9", "", "", time.Now().Add(-time.Minute)))
		if got := counts(t, d, signup("192.0.2.9", "", "", time.Time{}))["velocity.signups_per_ip"]; got != "2" {
			t.Errorf("Detect(no now) = %s, want 2 (the event two hours ago is out of the window)", got)
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// BenchmarkVelocityDetect measures signup Detects (three keys) on each store
// from 1 and 16 concurrent callers: on keys spread over many IPs and devices,
// and as bursts of 50 signups in a row from one IP and device. Redis is a
// local server, so a call is mostly the round trip. It reports each call's
// latency distribution besides the mean (ns/op is wall time per call over all
// callers).
func BenchmarkVelocityDetect(b *testing.B) {
	for _, kind := range []struct {
		name string
		new  func(testing.TB) backend
	}{{"sqlite", sqliteBackend}, {"redis", redisBackend}} {
		b.Run(kind.name, func(b *testing.B) {
			d := newDetector(b, kind.new(b), nil)
			var clock atomic.Int64 // seconds after t0: every call a later time
			run := 0
			for _, c := range []struct {
				name    string
				callers int
				burst   bool
			}{{"callers=1", 1, false}, {"callers=16", 16, false}, {"callers=16-one-ip", 16, true}} {
				b.Run(c.name, func(b *testing.B) {
					run++
					benchCallers(b, c.callers, func(i int) error {
						r := signup(fmt.Sprintf("203.0.113.%d", i%250), fmt.Sprintf("dev-%d", i%1000), "x@acme.io",
							t0.Add(time.Duration(clock.Add(1))*time.Second))
						if c.burst {
							// bursts of 50 signups from one IP and device
							r.ip = fmt.Sprintf("10.%d.%d.%d", run%256, i/50/256%256, i/50%256)
							r.device = "farm-" + r.ip
						}
						_, err := d.Detect(context.Background(), r.proto())
						return err
					})
				})
			}
		})
	}
}

// benchCallers runs call(0..b.N-1) from callers goroutines at once and
// reports the calls' p50 and p99 latency.
func benchCallers(b *testing.B, callers int, call func(i int) error) {
	b.Helper()
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range callers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				start := time.Now()
				if err := call(i); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func TestLoadConfigBadWindowReportedOnce(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(env(map[string]string{"WINDOW": "soon", "SIGNUPS_PER_IP_WINDOW": "-1h"}))
	if err == nil || strings.Count(err.Error(), "WINDOW:") != 2 || !strings.Contains(err.Error(), "SIGNUPS_PER_IP_WINDOW:") {
		t.Errorf("LoadConfig(WINDOW=soon, SIGNUPS_PER_IP_WINDOW=-1h) = %v, want exactly those two problems", err)
	}
}
