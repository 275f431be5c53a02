package links

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/internal/pgtest"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

func postgresSchema(t testing.TB) string { return pgtest.Schema(t, "linkage_test") }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// backend opens a store; calling it again opens the same store anew (a
// restart, or another replica).
type backend func(t testing.TB) *Store

// eachBackend runs test on SQLite and, when GAVEL_TEST_POSTGRES_DSN is set, on
// PostgreSQL, each on a fresh store.
func eachBackend(t *testing.T, test func(t *testing.T, open backend)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "linkage.db")
		test(t, func(t testing.TB) *Store {
			t.Helper()
			s, err := OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatalf("OpenSQLite(%s) = %v", path, err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := postgresSchema(t)
		test(t, func(t testing.TB) *Store {
			t.Helper()
			s, err := OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatalf("OpenPostgres() = %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// ev is what a test sends: an account with some identifiers.
type ev struct {
	account, device, payout, docCountry, doc string
	at                                       time.Time
	dryRun                                   bool
}

func (e ev) attrs() *structpb.Struct {
	m := map[string]any{}
	if e.payout != "" {
		m["payout"] = map[string]any{"method": "bank", "account_hash": e.payout}
	}
	if e.doc != "" {
		m["document"] = map[string]any{"number": e.doc, "country": e.docCountry}
	}
	s, _ := structpb.NewStruct(m)
	return s
}

func (e ev) detect() *detectorv1.DetectRequest {
	at := e.at
	if at.IsZero() {
		at = t0
	}
	return &detectorv1.DetectRequest{
		Subject:    &detectorv1.Subject{Id: e.account},
		Checkpoint: "signup",
		Context:    &detectorv1.Context{DeviceId: e.device},
		Attributes: e.attrs(),
		Now:        timestamppb.New(at),
		DryRun:     e.dryRun,
	}
}

func (e ev) observe(decisionID, action string, overturned bool) *detectorv1.ObserveRequest {
	return &detectorv1.ObserveRequest{
		DecisionId: decisionID,
		SubjectId:  e.account,
		Checkpoint: "signup",
		Action:     action,
		Context:    &detectorv1.Context{DeviceId: e.device},
		Attributes: e.attrs(),
		DecidedAt:  timestamppb.New(t0),
		Overturned: overturned,
	}
}

// sig is a signal as the tests compare it.
type sig struct {
	Score    float64
	Value    string
	Via      string
	Accounts []string
}

func detect(t testing.TB, d *Detector, e ev) map[string]sig {
	t.Helper()
	resp, err := d.Detect(context.Background(), e.detect())
	if err != nil {
		t.Fatalf("Detect(%+v) = %v", e, err)
	}
	out := map[string]sig{}
	for _, s := range resp.GetSignals() {
		f := s.GetEvidence().GetFields()
		g := sig{Score: s.GetScore(), Value: s.GetValue(), Via: f["via"].GetStringValue()}
		for _, v := range f["linked_accounts"].GetListValue().GetValues() {
			g.Accounts = append(g.Accounts, v.GetStringValue())
		}
		slices.Sort(g.Accounts)
		if n := f["accounts"].GetNumberValue(); fmt.Sprint(n) != s.GetValue() {
			t.Errorf("Detect(%+v): %s evidence accounts %v, value %q: want them equal", e, s.GetName(), n, s.GetValue())
		}
		out[s.GetName()] = g
	}
	return out
}

func observe(t testing.TB, d *Detector, r *detectorv1.ObserveRequest) {
	t.Helper()
	if err := d.Observe(context.Background(), r); err != nil {
		t.Fatalf("Observe(%v) = %v", r, err)
	}
}

func diff(t testing.TB, what string, got, want map[string]sig) {
	t.Helper()
	for k, w := range want {
		if g := got[k]; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: %s = %+v, want %+v", what, k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected signal %s = %+v", what, k, got[k])
		}
	}
}

func TestSharedIdentifiers(t *testing.T) {
	eachBackend(t, func(t *testing.T, open backend) {
		d := NewDetector(open(t), Config{})
		none := sig{Score: 0, Value: "0"}
		steps := []struct {
			e    ev
			want map[string]sig
		}{
			{ev{account: "a", device: "dev-1", payout: "PAY-1", docCountry: "fr", doc: "12AB 34567"}, map[string]sig{
				SignalSharedDevice: none, SignalSharedPayout: none, SignalSharedDocument: none, SignalSuspendedLink: none}},
			// a's own identifiers again: still no other account
			{ev{account: "a", device: "dev-1", payout: "pay-1"}, map[string]sig{
				SignalSharedDevice: none, SignalSharedPayout: none, SignalSuspendedLink: none}},
			{ev{account: "b", device: "dev-1"}, map[string]sig{
				SignalSharedDevice: {0.5, "1", "", []string{"a"}}, SignalSuspendedLink: none}},
			// payout hashes are case-insensitive; document numbers ignore spacing and dashes
			{ev{account: "c", device: "dev-1", payout: " pay-1", docCountry: "FR", doc: "12ab-34567"}, map[string]sig{
				SignalSharedDevice:   {0.75, "2", "", []string{"a", "b"}},
				SignalSharedPayout:   {0.5, "1", "", []string{"a"}},
				SignalSharedDocument: {1, "1", "", []string{"a"}},
				SignalSuspendedLink:  none}},
			// the same number issued by another country is another document
			{ev{account: "d", docCountry: "DE", doc: "12AB34567"}, map[string]sig{
				SignalSharedDocument: none, SignalSuspendedLink: none}},
			// a dry run sees the links but leaves none behind
			{ev{account: "e", device: "dev-1", dryRun: true}, map[string]sig{
				SignalSharedDevice: {1, "3", "", []string{"a", "b", "c"}}, SignalSuspendedLink: none}},
			{ev{account: "f", device: "dev-1"}, map[string]sig{
				SignalSharedDevice: {1, "3", "", []string{"a", "b", "c"}}, SignalSuspendedLink: none}},
			// nothing to link by, or nobody to link
			{ev{account: "g"}, map[string]sig{}},
			{ev{device: "dev-1"}, map[string]sig{}},
		}
		for i, s := range steps {
			diff(t, fmt.Sprintf("step %d: Detect(%+v)", i, s.e), detect(t, d, s.e), s.want)
		}
	})
}

func TestSuspendedLink(t *testing.T) {
	eachBackend(t, func(t *testing.T, open backend) {
		d := NewDetector(open(t), Config{})
		a := ev{account: "a", device: "dev-a", payout: "pay-a", docCountry: "FR", doc: "DOC-A"}
		detect(t, d, a)
		observe(t, d, a.observe("dec-warn", "warn", false)) // not a suspension
		b := ev{account: "b", device: "dev-a"}
		if got := detect(t, d, b)[SignalSuspendedLink]; got.Score != 0 {
			t.Fatalf("Detect(b) before any suspension: suspended_link = %+v, want score 0", got)
		}

		observe(t, d, a.observe("dec-1", "suspend", false))
		observe(t, d, a.observe("dec-1", "suspend", false)) // delivered twice: idempotent
		if got, want := detect(t, d, b)[SignalSuspendedLink], (sig{1, "1", KindDevice, []string{"a"}}); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Detect(b on a's device) suspended_link = %+v, want %+v", got, want)
		}
		// the most severe link names the via
		c := ev{account: "c", device: "dev-a", docCountry: "FR", doc: "doc-a"}
		if got, want := detect(t, d, c)[SignalSuspendedLink], (sig{1, "1", KindDocument, []string{"a"}}); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Detect(c with a's document) suspended_link = %+v, want %+v", got, want)
		}

		// a second suspension, then the first overturned: still suspended
		observe(t, d, a.observe("dec-2", "suspend", false))
		observe(t, d, a.observe("dec-1", "suspend", true))
		if got := detect(t, d, b)[SignalSuspendedLink]; got.Score != 1 {
			t.Errorf("Detect(b) with one of a's two suspensions overturned: suspended_link = %+v, want score 1", got)
		}
		observe(t, d, a.observe("dec-2", "suspend", true))
		if got := detect(t, d, b)[SignalSuspendedLink]; got.Score != 0 || got.Value != "0" {
			t.Errorf("Detect(b) with every suspension of a overturned: suspended_link = %+v, want score 0", got)
		}
	})
}

// A suspension whose account's own Detect was missed (the detector was down)
// still links by the identifiers the decision was made with.
func TestObserveRecordsLinksOfSuspendedAccount(t *testing.T) {
	eachBackend(t, func(t *testing.T, open backend) {
		d := NewDetector(open(t), Config{})
		observe(t, d, ev{account: "x", payout: "pay-x"}.observe("dec-x", "suspend", false))
		got := detect(t, d, ev{account: "y", payout: "PAY-X"})
		diff(t, "Detect(y with x's payout)", got, map[string]sig{
			SignalSharedPayout:  {0.5, "1", "", []string{"x"}},
			SignalSuspendedLink: {1, "1", KindPayout, []string{"x"}},
		})
		if err := d.Observe(context.Background(), &detectorv1.ObserveRequest{SubjectId: "x", Action: "suspend"}); err == nil {
			t.Error("Observe(suspension without decision id) = nil, want an error")
		}
	})
}

func TestLinksExpire(t *testing.T) {
	eachBackend(t, func(t *testing.T, open backend) {
		d := NewDetector(open(t), Config{MaxAge: 24 * time.Hour})
		detect(t, d, ev{account: "a", device: "dev-1", at: t0})
		if got := detect(t, d, ev{account: "b", device: "dev-1", at: t0.Add(23 * time.Hour)})[SignalSharedDevice]; got.Value != "1" {
			t.Errorf("Detect 23h later: shared_device = %+v, want 1", got)
		}
		// a was last seen 25h before; b 2h before
		if got := detect(t, d, ev{account: "c", device: "dev-1", at: t0.Add(25 * time.Hour)})[SignalSharedDevice]; fmt.Sprint(got.Accounts) != "[b]" {
			t.Errorf("Detect 25h later: shared_device = %+v, want only b", got)
		}
	})
}

func TestRestartKeepsLinksAndSuspensions(t *testing.T) {
	eachBackend(t, func(t *testing.T, open backend) {
		s := open(t)
		d := NewDetector(s, Config{HashKey: "k1"})
		a := ev{account: "a", device: "dev-1"}
		detect(t, d, a)
		observe(t, d, a.observe("dec-1", "suspend", false))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		d = NewDetector(open(t), Config{HashKey: "k1"})
		if got, want := detect(t, d, ev{account: "b", device: "dev-1"})[SignalSuspendedLink], (sig{1, "1", KindDevice, []string{"a"}}); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Detect(b) after a restart: suspended_link = %+v, want %+v", got, want)
		}
		// another hash key is another set of identifiers
		other := NewDetector(open(t), Config{HashKey: "k2"})
		if got := detect(t, other, ev{account: "c", device: "dev-1"})[SignalSharedDevice]; got.Value != "0" {
			t.Errorf("Detect(c) under another hash key: shared_device = %+v, want 0", got)
		}
	})
}

// Many accounts on one device at once, through two store handles (two
// replicas, or two connections to one SQLite file): every link is kept.
func TestConcurrentDetect(t *testing.T) {
	eachBackend(t, func(t *testing.T, open backend) {
		replicas := []*Detector{NewDetector(open(t), Config{}), NewDetector(open(t), Config{})}
		const n = 24
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				e := ev{account: fmt.Sprintf("acct-%02d", i), device: "crowded", payout: fmt.Sprintf("pay-%d", i%3)}
				if _, err := replicas[i%2].Detect(context.Background(), e.detect()); err != nil {
					errs <- err
				}
				if i%5 == 0 {
					if err := replicas[i%2].Observe(context.Background(), e.observe("dec-"+e.account, "suspend", false)); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent call: %v", err)
		}
		got := detect(t, replicas[0], ev{account: "late", device: "crowded", payout: "pay-0"})
		if got[SignalSharedDevice].Value != fmt.Sprint(n) || got[SignalSharedPayout].Value != "8" ||
			got[SignalSuspendedLink].Value != "5" || got[SignalSuspendedLink].Via != KindPayout {
			t.Errorf("Detect after %d concurrent accounts = %+v, want %d on the device, 8 on pay-0, 5 suspended, via payout", n, got, n)
		}
	})
}

// The n-th of many accounts arriving at once on one device, through two store
// handles (two replicas on one PostgreSQL, two connections to one SQLite
// file), sees exactly the n-1 before it: the counts are 0..n-1, each once.
func TestConcurrentDetectCountsExactly(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, open backend) {
		replicas := []*Detector{NewDetector(open(t), Config{}), NewDetector(open(t), Config{})}
		const n = 30
		counts := make(chan string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				// two shared keys each: both locked, and no deadlock
				e := ev{account: fmt.Sprintf("acct-%02d", i), device: "burst-device", payout: "burst-payout",
					at: t0.Add(time.Duration(i%7) * time.Millisecond)}
				resp, err := replicas[i%2].Detect(context.Background(), e.detect())
				if err != nil {
					t.Errorf("Detect(%s) = %v", e.account, err)
					return
				}
				for _, s := range resp.GetSignals() {
					if s.GetName() == SignalSharedDevice {
						counts <- s.GetValue()
					}
				}
			})
		}
		wg.Wait()
		close(counts)
		var got []int
		for c := range counts {
			var v int
			fmt.Sscan(c, &v)
			got = append(got, v)
		}
		slices.Sort(got)
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(got, want) {
			t.Errorf("shared_device counts of %d concurrent accounts = %v, want 0..%d each once", n, got, n-1)
		}
	})
}

// A Detect whose caller has stopped waiting (its deadline passed) still
// records its link: the next account on the device sees it.
func TestDetectRecordsWhenTheCallerHasLeft(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, open backend) {
		s := open(t)
		d := NewDetector(s, Config{})
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
		defer cancel()
		late := ev{account: "late", device: "dev-late"}.detect()
		late.Subject.Profile = &detectorv1.Profile{FamilyName: "Laurent"}
		if _, err := d.Detect(ctx, late); err == nil {
			t.Logf("Detect(expired deadline) answered: the write was quicker than the check")
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := detect(t, d, ev{account: "probe", device: "dev-late", dryRun: true})
			facts, err := s.Accounts(context.Background(), []string{"late"})
			if err != nil {
				t.Fatal(err)
			}
			if got[SignalSharedDevice].Value == "1" && slices.Equal(got[SignalSharedDevice].Accounts, []string{"late"}) &&
				facts["late"].FamilyHash != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dry run after a Detect whose caller left = %+v, want the late account linked (and its family name recorded)", got[SignalSharedDevice])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestStoreHoldsNoIdentifierInClear(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "linkage.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDetector(s, Config{})
	detect(t, d, ev{account: "acct-1", device: "device-secret", payout: "payout-secret", docCountry: "FR", doc: "DOCSECRET"})
	rows, err := s.db.Query(`SELECT kind || key FROM linkage_links`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		rows.Scan(&v)
		if strings.Contains(strings.ToLower(v), "secret") {
			t.Errorf("stored key %q holds an identifier in clear", v)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	env := func(vars map[string]string) func(string, string) string {
		return func(k, def string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return def
		}
	}
	cfg, err := LoadConfig(env(nil))
	if err != nil || cfg.MaxAge != 8760*time.Hour || cfg.PostgresDSN != "" {
		t.Errorf("LoadConfig(defaults) = %+v, %v; want MaxAge 8760h, SQLite", cfg, err)
	}
	for _, bad := range []string{"soon", "-1h", "0s"} {
		if _, err := LoadConfig(env(map[string]string{"MAX_AGE": bad})); err == nil || !strings.Contains(err.Error(), "MAX_AGE") {
			t.Errorf("LoadConfig(MAX_AGE=%q) = %v, want an error naming MAX_AGE", bad, err)
		}
	}
	if _, err := OpenPostgres(context.Background(), "postgres://u:hunter2@[bad"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("OpenPostgres(bad DSN) = %v, want an error without the password", err)
	}
}

// BenchmarkLinkageDetect measures recorded Detects with a device, a payout account
// and a document, on a store already holding 10 000 accounts, from 1 and 16
// concurrent callers: on keys spread over many devices, and as bursts where
// 50 accounts in a row sign up on one device. It reports each call's latency
// distribution besides the mean (ns/op is wall time per call over all callers).
func BenchmarkLinkageDetect(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var s *Store
			var err error
			if name == "sqlite" {
				s, err = OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "linkage.db"))
			} else {
				s, err = OpenPostgres(context.Background(), postgresSchema(b))
			}
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			d := NewDetector(s, Config{})
			for i := range 10000 {
				e := ev{account: fmt.Sprintf("seed-%d", i), device: fmt.Sprintf("dev-%d", i%4000), payout: fmt.Sprintf("pay-%d", i%7000)}
				if _, err := d.Detect(context.Background(), e.detect()); err != nil {
					b.Fatal(err)
				}
			}
			run := 0
			for _, c := range []struct {
				name    string
				callers int
				burst   bool
			}{{"callers=1", 1, false}, {"callers=16", 16, false}, {"callers=16-one-device", 16, true}} {
				b.Run(c.name, func(b *testing.B) {
					run++
					prefix := fmt.Sprintf("r%d-%d", run, b.N)
					benchCallers(b, c.callers, func(i int) error {
						e := ev{account: fmt.Sprintf("%s-acct-%d", prefix, i), device: fmt.Sprintf("dev-%d", i%4000),
							payout: fmt.Sprintf("pay-%d", i%7000), docCountry: "FR", doc: fmt.Sprintf("%s-D%d", prefix, i)}
						if c.burst {
							e.device = fmt.Sprintf("%s-farm-%d", prefix, i/50) // bursts of 50 accounts
						}
						_, err := d.Detect(context.Background(), e.detect())
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
