package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/internal/logcollector"
	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// decisionLogEnv points gavel's decision logs at a collector with short
// delays (OPA counts whole seconds).
func decisionLogEnv(url string, extra ...string) []string {
	return append([]string{
		"GAVEL_DECISION_LOGS__URL=" + url,
		"GAVEL_DECISION_LOGS__MIN_DELAY=1s",
		"GAVEL_DECISION_LOGS__MAX_DELAY=2s",
	}, extra...)
}

// actionName is a response action as the policy names it: ACTION_WARN → warn.
func actionName(a decisionv1.Action) string {
	return strings.ToLower(strings.TrimPrefix(a.String(), "ACTION_"))
}

// TestDecisionLogsReachCollector: a real Decide reaches the collector over
// OPA's upload protocol, with gavel's decision id and verdict, and with the
// personal data masked by the bundle's data.system.log.mask.
func TestDecisionLogsReachCollector(t *testing.T) {
	c, srv := logcollector.New(t)
	url := srv.URL
	g := startGavel(t, decisionLogEnv(url, "GAVEL_DECISION_LOGS__TOKEN=collector-token")...)
	client := g.decisions()

	const email = "amelia.laurent@mailinator.com"
	req := signup(email)
	resp, err := client.Decide(ctxT(t), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("Decide() = %v", err)
	}
	dry := signup(email)
	dry.DryRun = true
	dryResp, err := client.Decide(ctxT(t), connect.NewRequest(dry))
	if err != nil {
		t.Fatalf("Decide(dry run) = %v", err)
	}

	id := resp.Msg.GetDecisionId()
	eventually(t, time.Minute, "both decisions at the collector", func() (bool, string) {
		return c.Event(id) != nil && c.Event(dryResp.Msg.GetDecisionId()) != nil, c.State()
	})
	ev := c.Event(id)
	if got, _ := logcollector.Dig(ev, "result", "action"); got != actionName(resp.Msg.GetAction()) {
		t.Errorf("event result.action = %v, want %s (the reply's %v)", got, actionName(resp.Msg.GetAction()), resp.Msg.GetAction())
	}
	if got, _ := logcollector.Dig(ev, "bundles", "gavel", "revision"); got != resp.Msg.GetBundleRevision() || got == "" {
		t.Errorf("event bundles.gavel.revision = %v, want the reply's %q", got, resp.Msg.GetBundleRevision())
	}
	if got, _ := logcollector.Dig(ev, "input", "subject", "id"); got != req.GetSubject().GetId() {
		t.Errorf("event input.subject.id = %v, want %s", got, req.GetSubject().GetId())
	}
	reasons, _ := logcollector.Dig(ev, "result", "reasons")
	if fmt.Sprint(reasons) == "[]" || !strings.Contains(fmt.Sprint(reasons), codes(resp.Msg)[0]) {
		t.Errorf("event result.reasons = %v, want the reply's %v", reasons, codes(resp.Msg))
	}
	for _, keys := range [][]string{{"input", "subject", "profile"}, {"input", "context", "ip"}, {"input", "context", "device_id"}} {
		if v, ok := logcollector.Dig(ev, keys...); ok {
			t.Errorf("event %s = %v, want it masked", strings.Join(keys, "."), v)
		}
	}
	raw, _ := json.Marshal(ev)
	for _, pii := range []string{email, "Laurent", req.GetContext().GetIp()} {
		if strings.Contains(string(raw), pii) {
			t.Errorf("event carries %q: %s", pii, raw)
		}
	}
	if v, _ := logcollector.Dig(c.Event(dryResp.Msg.GetDecisionId()), "custom", "dry_run"); v != true {
		t.Errorf("dry-run event custom.dry_run = %v, want true", v)
	}
	if up := c.Uploads(); !slices.Equal(up, []string{"POST /logs Bearer collector-token"}) {
		t.Errorf("uploads seen %q, want only POST /logs with the bearer token", up)
	}
}

// TestDecisionLogsCollectorDown: with the collector down decisions go on as
// before; OPA's failed uploads show in gavel's log and metrics, and once the
// collector is back the newest decision arrives.
func TestDecisionLogsCollectorDown(t *testing.T) {
	c, srv := logcollector.New(t)
	url := srv.URL
	c.Down.Store(true)
	g := startGavel(t, decisionLogEnv(url, "GAVEL_DECISION_LOGS__BUFFER_EVENTS=2")...)
	client := g.decisions()

	var last string
	for i := range 6 {
		resp, err := client.Decide(ctxT(t), connect.NewRequest(signup(fmt.Sprintf("down-%d@mailinator.com", i))))
		if err != nil {
			t.Fatalf("Decide() %d with the collector down = %v", i, err)
		}
		if resp.Msg.GetFallback() {
			t.Errorf("Decide() %d with the collector down fell back: %v", i, codes(resp.Msg))
		}
		last = resp.Msg.GetDecisionId()
	}
	eventually(t, time.Minute, "a failed upload in gavel's log", func() (bool, string) {
		return strings.Contains(g.Logs(), "log upload failed, server replied with HTTP 503"), c.State()
	})
	metrics := scrape(t, g.addr+"/metrics")
	for _, series := range []string{`gavel_decision_logs_dropped_total{stage="buffer"}`, `gavel_decision_logs_upload_failures_total`} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics has no %s", series)
		}
	}

	st, err := g.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if dl := st.Msg.GetDecisionLogs(); dl.GetFailedChunks() == 0 || dl.GetLogged() != 6 {
		t.Errorf("GetStatus decision_logs = %v, want 6 logged and failed uploads counted", dl)
	}

	c.Down.Store(false)
	eventually(t, time.Minute, "the newest decision at the collector once it is back", func() (bool, string) {
		return c.Event(last) != nil, c.State()
	})
}

func scrape(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}
