package lists_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/pgtest"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/lists"
)

const testKey = "test-hash-key-0123456789"

// backends opens a fresh ledger on each backend available: SQLite always,
// PostgreSQL when GAVEL_TEST_POSTGRES_DSN is set.
func backends(t *testing.T, run func(t *testing.T, open func(t *testing.T) *ledger.Ledger)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "ledger.db")
		run(t, func(t *testing.T) *ledger.Ledger {
			cfg := ledger.DefaultConfig()
			cfg.Path = path
			return openLedger(t, cfg)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := pgtest.Schema(t, "gavel_lists")
		run(t, func(t *testing.T) *ledger.Ledger {
			cfg := ledger.DefaultConfig()
			cfg.Driver, cfg.DSN, cfg.MaxConns = ledger.Postgres, dsn, 4
			return openLedger(t, cfg)
		})
	})
}

func openLedger(t *testing.T, cfg ledger.Config) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("ledger.Open = %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func request() *decision.Request {
	return &decision.Request{
		RequestID:  "r-1",
		Checkpoint: "signup",
		Subject: decision.Subject{ID: "acct-9", Profile: decision.Profile{
			Email: " Ana.Silva@Mail.Example.COM", Phone: "912 345 678", Country: "PT",
		}},
		Context: decision.Context{IP: "203.0.113.77", DeviceID: "dev-42"},
		Attributes: map[string]any{
			"payout":   map[string]any{"account_hash": "PAY-ABC"},
			"document": map[string]any{"number": "ab-123 456", "country": "PT"},
		},
	}
}

type matchKey struct{ List, Field, Entry, Note string }

func keys(ms []decision.ListMatch) map[matchKey]bool {
	out := map[matchKey]bool{}
	for _, m := range ms {
		e := m.Entry
		if strings.HasPrefix(e, "hmac:") {
			e = "hmac"
		}
		out[matchKey{m.List, m.Field, e, m.Note}] = true
	}
	return out
}

func TestListsEndToEnd(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) *ledger.Ledger) {
		ctx := t.Context()
		l := open(t)
		svc := lists.NewService(l, lists.NewHasher(testKey))
		create := func(name string, kind lists.Kind, purpose lists.Purpose, action string, exempts ...string) {
			t.Helper()
			if _, err := svc.Create(ctx, lists.Spec{Name: name, Kind: kind, Purpose: purpose, Action: action, Exempts: exempts}, "ops"); err != nil {
				t.Fatalf("Create(%s) = %v", name, err)
			}
		}
		add := func(name, note string, values ...string) {
			t.Helper()
			if _, err := svc.Add(ctx, name, values, note, time.Time{}, "ops"); err != nil {
				t.Fatalf("Add(%s, %v) = %v", name, values, err)
			}
		}
		create("bad-ips", lists.IP, lists.Block, "suspend")
		create("bad-emails", lists.Email, lists.Block, "")
		create("bad-domains", lists.EmailDomain, lists.Block, "challenge")
		create("bad-phones", lists.Phone, lists.Block, "restrict")
		create("bad-docs", lists.DocumentNumber, lists.Block, "suspend")
		create("bad-payouts", lists.PayoutAccount, lists.Block, "restrict")
		create("trusted-devices", lists.DeviceID, lists.Allow, "", "DEVICE_SHARED")
		create("vip", lists.SubjectID, lists.Allow, "", "MODEL_RISK", "SIGNUP_VELOCITY")

		add("bad-ips", "abuse range", "203.0.113.0/24", "2001:db8::/32", "198.51.100.7")
		add("bad-emails", "chargebacks", "ana.silva@mail.example.com")
		add("bad-domains", "", "example.com")
		add("bad-phones", "", "+351 912-345-678")
		add("bad-docs", "", "AB123456")
		add("bad-payouts", "", "pay-abc")
		add("trusted-devices", "office", "dev-42")
		add("vip", "", "acct-9")

		m := lists.NewMatcher(l, lists.NewHasher(testKey), nil)
		if err := m.Load(ctx); err != nil {
			t.Fatalf("Load = %v", err)
		}
		got := keys(m.Match(ctx, request(), time.Now()))
		want := map[matchKey]bool{
			{"bad-ips", "context.ip", "203.0.113.0/24", "abuse range"}:     true,
			{"bad-emails", "subject.profile.email", "hmac", "chargebacks"}: true,
			{"bad-domains", "subject.profile.email", "example.com", ""}:    true,
			{"bad-phones", "subject.profile.phone", "hmac", ""}:            true,
			{"bad-docs", "attributes.document.number", "hmac", ""}:         true,
			{"bad-payouts", "attributes.payout.account_hash", "hmac", ""}:  true,
			{"trusted-devices", "context.device_id", "dev-42", "office"}:   true,
			{"vip", "subject.id", "acct-9", ""}:                            true,
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Match (-want +got):\n%s", d)
		}
		for _, mt := range m.Match(ctx, request(), time.Now()) {
			if mt.List == "bad-ips" && mt.Action != "suspend" {
				t.Errorf("bad-ips match action = %q, want suspend", mt.Action)
			}
			if mt.List == "vip" && !cmp.Equal(mt.Exempts, []string{"MODEL_RISK", "SIGNUP_VELOCITY"}) {
				t.Errorf("vip match exempts = %v", mt.Exempts)
			}
		}

		// Personal values are stored as keyed hashes only.
		_, es, _, err := svc.Entries(ctx, "bad-emails", 10, "")
		if err != nil || len(es) != 1 || !strings.HasPrefix(es[0].Key, "hmac:") || strings.Contains(es[0].Key, "ana") {
			t.Errorf("Entries(bad-emails) = %+v, %v; want one hmac: key", es, err)
		}

		// A second replica, on its own connection, sees changes by syncing.
		replica := lists.NewMatcher(open(t), lists.NewHasher(testKey), nil)
		if err := replica.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := svc.Remove(ctx, "bad-ips", []string{"203.0.113.0/24"}, "ops"); n != 1 || err != nil {
			t.Fatalf("Remove = %d, %v", n, err)
		}
		add("bad-ips", "single", "203.0.113.77")
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		go replica.Run(runCtx, 50*time.Millisecond)
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := keys(replica.Match(ctx, request(), time.Now()))
			if got[matchKey{"bad-ips", "context.ip", "203.0.113.77/32", "single"}] &&
				!got[matchKey{"bad-ips", "context.ip", "203.0.113.0/24", "abuse range"}] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica never saw the change: %v", got)
			}
			time.Sleep(20 * time.Millisecond)
		}

		// Expired entries do not match.
		if _, err := svc.Add(ctx, "bad-domains", []string{"mail.example.com"}, "temporary", time.Now().Add(time.Hour), "ops"); err != nil {
			t.Fatal(err)
		}
		if err := m.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if !keys(m.Match(ctx, request(), time.Now()))[matchKey{"bad-domains", "subject.profile.email", "mail.example.com", "temporary"}] {
			t.Errorf("unexpired entry does not match")
		}
		if keys(m.Match(ctx, request(), time.Now().Add(2*time.Hour)))[matchKey{"bad-domains", "subject.profile.email", "mail.example.com", "temporary"}] {
			t.Errorf("expired entry still matches")
		}

		// Every change is audited.
		_, cs, err := svc.History(ctx, "bad-ips", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, c := range cs {
			ops = append(ops, string(c.Op)+":"+c.Actor)
		}
		if d := cmp.Diff([]string{"add:ops", "remove:ops", "add:ops", "add:ops", "add:ops", "create:ops"}, ops); d != "" {
			t.Errorf("History(bad-ips) ops (-want +got):\n%s", d)
		}
	})
}

func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) *ledger.Ledger) {
		ctx := t.Context()
		svc := lists.NewService(open(t), lists.NewHasher(testKey))
		for _, sp := range []lists.Spec{
			{Name: "ips", Kind: lists.IP, Purpose: lists.Block},
			{Name: "emails", Kind: lists.Email, Purpose: lists.Block, Action: "suspend"},
		} {
			if _, err := svc.Create(ctx, sp, "ops"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Create(ctx, lists.Spec{Name: "ips", Kind: lists.IP, Purpose: lists.Block}, "ops"); !errors.Is(err, lists.ErrExists) {
			t.Errorf("Create(twice) = %v, want ErrExists", err)
		}
		var verr decision.ValidationError
		_, err := svc.Create(ctx, lists.Spec{Name: "Bad Name", Kind: "mac", Purpose: "deny", Action: "ban"}, "ops")
		if !errors.As(err, &verr) || len(verr) != 3 {
			t.Errorf("Create(bad spec) = %v, want 3 field errors (name, kind, purpose)", err)
		}
		_, err = svc.Create(ctx, lists.Spec{Name: "allow", Kind: lists.IP, Purpose: lists.Allow}, "ops")
		if !errors.As(err, &verr) || verr[0].Field != "exempts" {
			t.Errorf("Create(allow without exempts) = %v, want exempts error", err)
		}
		cases := []struct {
			list, value, field, reason string
		}{
			{"ips", "10.0.0.0/7", "values[1]", "wider than /8"},
			{"ips", "2001:db8::/31", "values[1]", "wider than /32"},
			{"ips", "10.0.0.1/8", "values[1]", "host bits"},
			{"ips", "not-an-ip", "values[1]", "not an IP address"},
			{"emails", "192.0.2.1", "values[1]", "not an email address"},
			{"emails", "ana@@example.com", "values[1]", "not an email address"},
			{"emails", "ana@localhost", "values[1]", "not a domain"},
		}
		for _, c := range cases {
			good := map[string]string{"ips": "192.0.2.0/24", "emails": "ok@example.com"}[c.list]
			_, err := svc.Add(ctx, c.list, []string{good, c.value}, "", time.Time{}, "ops")
			if !errors.As(err, &verr) || len(verr) != 1 || verr[0].Field != c.field || !strings.Contains(verr[0].Reason, c.reason) {
				t.Errorf("Add(%s, %q) = %v, want %s: …%s…", c.list, c.value, err, c.field, c.reason)
			}
		}
		// Nothing was added by the refused calls.
		if l, err := svc.Get(ctx, "ips"); err != nil || l.Entries != 0 {
			t.Errorf("Get(ips) = %d entries, %v; want 0", l.Entries, err)
		}
		if _, err := svc.Add(ctx, "nope", []string{"x"}, "", time.Time{}, "ops"); !errors.Is(err, lists.ErrNotFound) {
			t.Errorf("Add(unknown list) = %v, want ErrNotFound", err)
		}

		rows := []lists.Row{{Line: 1, Value: "192.0.2.1"}, {Line: 2, Value: "1.0.0.0/4"}, {Line: 3, Value: "198.51.100.0/24"}, {Line: 4, Value: "x"}}
		_, err = svc.Import(ctx, "ips", rows, false, "t.csv", "ops")
		if !errors.As(err, &verr) || len(verr) != 2 || verr[0].Field != "line 2" || verr[1].Field != "line 4" {
			t.Errorf("Import(strict) = %v, want lines 2 and 4", err)
		}
		if l, _ := svc.Get(ctx, "ips"); l.Entries != 0 {
			t.Errorf("strict import with bad lines imported %d entries", l.Entries)
		}
		res, err := svc.Import(ctx, "ips", rows, true, "t.csv", "ops")
		if err != nil || res.Imported != 2 || len(res.Skipped) != 2 {
			t.Errorf("Import(skip bad) = %+v, %v; want 2 imported, 2 skipped", res, err)
		}
	})
}

func TestImportReachesMatcher(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) *ledger.Ledger) {
		ctx := t.Context()
		l := open(t)
		h := lists.NewHasher(testKey)
		svc := lists.NewService(l, h)
		if _, err := svc.Create(ctx, lists.Spec{Name: "emails", Kind: lists.Email, Purpose: lists.Block, Action: "suspend"}, "ops"); err != nil {
			t.Fatal(err)
		}
		m := lists.NewMatcher(l, h, nil)
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
		var rows []lists.Row
		for i := range 12000 {
			rows = append(rows, lists.Row{Line: i + 1, Value: "user" + itoa(i) + "@example.org", Note: "batch"})
		}
		if res, err := svc.Import(ctx, "emails", rows, false, "big.csv", "ops"); err != nil || res.Imported != 12000 {
			t.Fatalf("Import = %+v, %v", res, err)
		}
		if err := m.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if st := m.Status(); st.Entries != 12000 || st.Lists != 1 {
			t.Errorf("Status = %+v, want 12000 entries in 1 list", st)
		}
		req := request()
		req.Subject.Profile.Email = "USER11999@example.org"
		if ms := m.Match(ctx, req, time.Now()); len(ms) != 1 || ms[0].List != "emails" || ms[0].Note != "batch" {
			t.Errorf("Match(imported email) = %+v", ms)
		}
		// Export by paging returns every entry once; it re-imports as is.
		var all []lists.Entry
		tok := ""
		for {
			_, es, next, err := svc.Entries(ctx, "emails", 1000, tok)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, es...)
			if next == "" {
				break
			}
			tok = next
		}
		if len(all) != 12000 {
			t.Errorf("paged entries = %d, want 12000", len(all))
		}
		if _, err := svc.Create(ctx, lists.Spec{Name: "copy", Kind: lists.Email, Purpose: lists.Block}, "ops"); err != nil {
			t.Fatal(err)
		}
		back := make([]lists.Row, len(all))
		for i, e := range all {
			back[i] = lists.Row{Line: i + 1, Value: e.Key, Note: e.Note}
		}
		if res, err := svc.Import(ctx, "copy", back, false, "export.csv", "ops"); err != nil || res.Imported != 12000 {
			t.Fatalf("re-import = %+v, %v", res, err)
		}
		if err := m.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if ms := m.Match(ctx, req, time.Now()); len(ms) != 2 {
			t.Errorf("Match after re-import = %d matches, want 2 (emails, copy)", len(ms))
		}
	})
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}
