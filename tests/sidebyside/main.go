// Command sidebyside is `make bench`: gavel raced against `opa run --server`
// on the same machine, the same policy (this repo's policies/, built with
// the pinned opa CLI) and the same input document, by the same load
// generator (tests/loadgen) over loopback HTTP/1.1 with the same number of
// connections. It prints one table: throughput, p50, p99 and peak RSS of
// each server, each against its reference (OPA, or the limit), and for
// every gavel run the share of decisions that were whole — a decision with
// detectors skipped, late or failed, a fallback, a shed request or an
// error is counted in its own column, never as a fast answer.
//
// Rows:
//   - closed loop (conns workers back to back): OPA, gavel on SQLite over
//     Connect JSON and over Connect binary protobuf, gavel on PostgreSQL
//     (when GAVEL_TEST_POSTGRES_DSN is set);
//   - open loop at -rate decisions/s, latency from each request's scheduled
//     send time: OPA, gavel without detectors, gavel with the built-in
//     detectors in-process and as go-plugin processes;
//   - replay of the decisions the SQLite run stored, against the limit
//     cores ÷ median evaluation time of the same decisions.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/policies"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	"github.com/gavel/gavel/tests/loadgen"
)

var (
	binDir        = flag.String("bin", "bin", "folder holding gavel and gavel-detector-*")
	opaBin        = flag.String("opa", "bin/opa", "the pinned opa CLI")
	policyDir     = flag.String("policies", "policies", "the policy folder built into the bundle")
	duration      = flag.Duration("duration", 10*time.Second, "measured time of each closed-loop run")
	openFor       = flag.Duration("open-duration", 15*time.Second, "measured time of each open-loop run")
	warmup        = flag.Duration("warmup", 2*time.Second, "unmeasured load before each run")
	steadyMax     = flag.Duration("steady-max", 2*time.Minute, "the longest unmeasured load before the in-process detectors' row, which waits for gavel's retry index to fill (its steady-state memory)")
	conns         = flag.Int("conns", 16, "connections (and closed-loop workers) for every server")
	openConns     = flag.Int("open-conns", 512, "connections for open-loop runs, and the most requests outstanding: above gavel's server.max_in_flight (256), so overload reaches gavel (and is shed as resource_exhausted) instead of queueing inside the client")
	rate          = flag.Float64("rate", 1000, "open-loop decisions per second")
	only          = flag.String("only", "", "comma-separated row keys to run (opa,sqlite,sqlite-alone,proto,postgres,opa-open,open,inproc,plugin,overhead,replay); empty: all")
	outFile       = flag.String("out", "", "also write the table (Markdown) to this file")
	defaultIs     = flag.String("default-detectors", "in process", "how the gavel under test runs its built-in detectors by default, for the row's label")
	replayN       = flag.Int("replay-decisions", 0, "replay at least this many stored decisions: the run's decisions are copied under new ids until the ledger holds as many (0: only the run's)")
	replayProfile = flag.String("replay-cpuprofile", "", "write a CPU profile of the replay (the harness process) to this file")
)

func main() {
	flag.Parse()
	if abs, err := filepath.Abs(*opaBin); err == nil {
		*opaBin = abs
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

func want(key string) bool {
	if *only == "" {
		return true
	}
	return slices.Contains(strings.Split(*only, ","), key)
}

// row is one line of the table.
type row struct {
	name, load  string
	res         *loadgen.Result
	rss         int64         // peak, bytes, server and its children
	cpu         time.Duration // CPU time of the server and its children during the run
	rssNote     string
	ref         string  // what ratio compares with
	ratio       float64 // throughput ratio to ref; 0: none
	p99Ratio    float64
	gavel       bool
	note        string
	replayRate  float64
	replayLimit float64
	overhead    time.Duration // p50 of Decide minus evaluation
	overhead99  time.Duration
	eval        time.Duration // p50 of evaluation
}

func run() error {
	work, err := os.MkdirTemp("", "gavel-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ctx := context.Background()
	stamp := time.Now().UTC()

	bundle := filepath.Join(work, "bundle.tar.gz")
	if out, err := exec.Command(*opaBin, "build", "-b", *policyDir, "-o", bundle).CombinedOutput(); err != nil {
		return fmt.Errorf("opa build: %v\n%s", err, out)
	}
	opaVersion := "opa"
	if out, err := exec.Command(*opaBin, "version").Output(); err == nil {
		opaVersion = "`opa run --server` " + strings.TrimPrefix(strings.SplitN(string(out), "\n", 2)[0], "Version: ")
	}

	var rows []row
	offEnv := detectorsOff()

	// gavel on SQLite: the input document for OPA, then the closed- and
	// open-loop runs on the same server.
	sq, err := startGavel(work, "sqlite", offEnv)
	if err != nil {
		return err
	}
	input, action, err := captureInput(sq.url)
	if err != nil {
		sq.stop()
		return err
	}
	slog.Info("captured the input document of a gavel decision", "bytes", len(input), "action", action)

	opa, err := startOPA(work, bundle)
	if err != nil {
		sq.stop()
		return err
	}
	opaBody := append(append([]byte(`{"input":`), input...), '}')
	if got, err := opaAction(opa.url, opaBody); err != nil || got != action {
		sq.stop()
		opa.stop()
		return fmt.Errorf("OPA decides %q on gavel's input document (error %v), gavel decided %q: not the same policy", got, err, action)
	}
	opaDo := opaDoer(opa.url, opaBody, *conns)
	// OPA's closed loop runs before gavel's closed-loop rows and again
	// after them: the machine's speed drifts over minutes, and a ratio to
	// one run of OPA minutes earlier would carry that drift. gavel's rows
	// are compared with the mean of the two; the second says how far apart
	// they were.
	var opaRuns []row
	var closed []int // gavel's closed-loop rows, compared with OPA's once both runs are in
	if want("opa") {
		opaRuns = append(opaRuns, closedRow(ctx, opaVersion, opa, opaDo, false))
		rows = append(rows, opaRuns[0])
	}
	if want("sqlite") {
		closed = append(closed, len(rows))
		rows = append(rows, closedRow(ctx, "gavel, SQLite ledger, Connect JSON", sq, gavelDoer(sq.url, false, false, *conns), true))
	}
	if want("sqlite-alone") {
		// The same server but every decision committed in a transaction
		// of its own: what the SQLite group commit buys, side by side.
		g, err := startGavel(work, "sqlite-alone", append(slices.Clone(offEnv), "GAVEL_LEDGER__SQLITE__COMMIT_BATCH=1"))
		if err != nil {
			sq.stop()
			opa.stop()
			return err
		}
		closed = append(closed, len(rows))
		rows = append(rows, closedRow(ctx, "gavel, SQLite ledger, Connect JSON, each decision committed alone (commit_batch 1)", g, gavelDoer(g.url, false, false, *conns), true))
		g.stop()
	}
	if want("proto") {
		closed = append(closed, len(rows))
		rows = append(rows, closedRow(ctx, "gavel, SQLite ledger, Connect protobuf", sq, gavelDoer(sq.url, true, false, *conns), true))
	}
	if want("opa") && len(closed) > 0 {
		again := closedRow(ctx, opaVersion+", again after gavel's closed-loop rows", opa, opaDo, false)
		again.note = fmt.Sprintf("%.2f× the first run's throughput; gavel's closed-loop rows are compared with the mean of the two", again.res.Throughput()/opaRuns[0].res.Throughput())
		opaRuns = append(opaRuns, again)
		rows = append(rows, again)
	}
	opaRef := meanRef(opaRuns)
	for _, i := range closed {
		rows[i] = against(rows[i], opaRef)
	}
	var opaOpen row
	if want("opa-open") {
		opaOpen = openRow(ctx, opaVersion, opa, opaDoer(opa.url, opaBody, *openConns), false)
		rows = append(rows, opaOpen)
	}
	opa.stop()
	if want("open") {
		r := openRow(ctx, "gavel, SQLite, no detectors", sq, gavelDoer(sq.url, false, false, *openConns), true)
		rows = append(rows, against(r, meanRef([]row{opaOpen})))
	}
	sq.stop()

	if want("postgres") {
		if dsn := os.Getenv("GAVEL_TEST_POSTGRES_DSN"); dsn == "" {
			slog.Warn("GAVEL_TEST_POSTGRES_DSN not set: no PostgreSQL row")
		} else {
			r, err := postgresRow(ctx, work, dsn, offEnv)
			if err != nil {
				return err
			}
			rows = append(rows, against(r, opaRef))
		}
	}
	if want("inproc") {
		g, err := startGavel(work, "inproc", nil)
		if err != nil {
			return err
		}
		do := gavelDoer(g.url, false, true, *openConns)
		filled := fillRetryIndex(ctx, "gavel, SQLite, 7 detectors", do)
		r := openRow(ctx, "gavel, SQLite, 7 detectors, default configuration ("+*defaultIs+")", g, do, true)
		g.stop()
		r.note = "p99 goal ≤ 10 ms, RSS goal ≤ 200 MB; " + filled
		rows = append(rows, r)
	}
	if want("plugin") {
		g, err := startGavel(work, "plugin", pluginEnv())
		if err != nil {
			return err
		}
		r := openRow(ctx, "gavel, SQLite, 7 detectors as go-plugin processes", g, gavelDoer(g.url, false, true, *openConns), true)
		g.stop()
		rows = append(rows, r)
	}
	if want("overhead") {
		r, err := overheadRow(ctx)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if want("replay") {
		r, err := replayRow(ctx, filepath.Join(sq.dataDir, "ledger.db"))
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	return printTable(stamp, rows)
}

// ---- servers ----

type server struct {
	name    string
	cmd     *exec.Cmd
	url     string
	dataDir string
	done    chan error
	logs    *bytes.Buffer
	mu      *sync.Mutex
}

func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

var servingLine = regexp.MustCompile(`msg="gavel serving" addr=(\S+)`)

// detectorsOff is the environment that turns every built-in detector off.
func detectorsOff() []string {
	var env []string
	for _, d := range builtinDetectors() {
		env = append(env, "GAVEL_DETECTORS__PLUGINS__"+strings.ToUpper(d)+"__ENABLED=false")
	}
	return env
}

// pluginEnv runs every built-in detector as a go-plugin process.
func pluginEnv() []string {
	var env []string
	for _, d := range builtinDetectors() {
		env = append(env, "GAVEL_DETECTORS__PLUGINS__"+strings.ToUpper(d)+"__MODE=process")
	}
	return env
}

func builtinDetectors() []string {
	return []string{"document", "email", "geo", "linkage", "model", "phone", "velocity"}
}

func startGavel(work, name string, env []string, args ...string) (*server, error) {
	bin, err := filepath.Abs(*binDir)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(work, "gavel-"+name)
	// Info: the level of "gavel serving"; decisions are logged at debug.
	cmd := exec.Command(filepath.Join(bin, "gavel"), append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "info"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GAVEL_DETECTORS__DIR=" + bin}, env...)
	// The Go runtime's memory knobs reach gavel (not OPA): GOMEMLIMIT=150MiB
	// make bench shows what a soft memory limit does to RSS and latency. So
	// do the admission knobs (GAVEL_SERVER__LATENCY_TARGET=20ms, …), and
	// the side port with Go's profiles (GAVEL_SERVER__METRICS_LISTEN=
	// 127.0.0.1:9464 GAVEL_SERVER__PPROF=true, with -only naming one gavel
	// row, then go tool pprof its /debug/pprof/profile during the run).
	for _, k := range []string{"GOMEMLIMIT", "GOGC", "GAVEL_SERVER__MAX_IN_FLIGHT", "GAVEL_SERVER__LATENCY_TARGET", "GAVEL_SERVER__MIN_IN_FLIGHT",
		"GAVEL_SERVER__METRICS_LISTEN", "GAVEL_SERVER__PPROF"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	s := &server{name: "gavel " + name, cmd: cmd, dataDir: dataDir, done: make(chan error, 1), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	addr, err := s.start(func(line string) string {
		if m := servingLine.FindStringSubmatch(line); m != nil {
			return m[1]
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	s.url = "http://" + addr
	return s, nil
}

func startOPA(work, bundle string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(*opaBin, "run", "--server", "--addr", addr, "--disable-telemetry", "--log-level", "error", "--bundle", bundle)
	cmd.Dir = work
	s := &server{name: "opa", cmd: cmd, url: "http://" + addr, done: make(chan error, 1), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	if _, err := s.start(nil); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/health?bundles")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("opa did not become healthy within 60s:\n%s", s.logs)
}

// start runs the command; with match, it waits for the line that yields
// the address.
func (s *server) start(match func(string) string) (string, error) {
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	s.cmd.Stdout = io.Discard
	if err := s.cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", s.name, err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			if s.logs.Len() < 1<<20 {
				s.logs.WriteString(line + "\n")
			}
			s.mu.Unlock()
			if match != nil {
				if a := match(line); a != "" {
					addrc <- a
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { s.done <- s.cmd.Wait() }()
	if match == nil {
		return "", nil
	}
	select {
	case a := <-addrc:
		return a, nil
	case err := <-s.done:
		return "", fmt.Errorf("%s exited before serving: %v\n%s", s.name, err, s.logs)
	case <-time.After(120 * time.Second):
		_ = s.cmd.Process.Kill()
		return "", fmt.Errorf("%s did not serve within 120s\n%s", s.name, s.logs)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ---- requests ----

func transport(n int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n,
			DisableCompression: true, ForceAttemptHTTP2: false,
		},
		Timeout: 30 * time.Second,
	}
}

const decidePath = "/gavel.decision.v1.DecisionService/Decide"

var runID = strconv.FormatInt(time.Now().UnixNano(), 36)

// decideRequest is one fresh decision: a new request id and subject every
// time. With detectors false, the signals are sent inline (what the
// captured input document holds); with detectors true, none are, and the
// profile and context give every detector something to look at.
func decideRequest(seq int64, detectors bool) *decisionv1.DecideRequest {
	id := fmt.Sprintf("%s-%d-%d", runID, seq, rand.Int64())
	r := &decisionv1.DecideRequest{
		RequestId:  "bench-" + id,
		Checkpoint: "signup",
		Subject: &decisionv1.Subject{
			Id: "acct-" + id, Kind: "freelancer",
			Profile: &decisionv1.Profile{
				GivenName: "Amelia", FamilyName: "Laurent", Country: "FR",
				Email: fmt.Sprintf("amelia.%d@mailinator.com", seq),
			},
		},
		Context: &decisionv1.RequestContext{
			Ip:       fmt.Sprintf("198.51.%d.%d", seq/250%250, seq%250+1),
			DeviceId: "dev-" + id,
		},
	}
	if detectors {
		r.Subject.Profile.Phone = "+33 6 12 34 56 78"
		r.Context.Ip = fmt.Sprintf("5.9.%d.%d", seq/250%250, seq%250+1)
		r.Context.UserAgent = "Mozilla/5.0 (X11; Linux x86_64)"
	} else {
		r.Signals = []*decisionv1.Signal{
			{Name: "email.disposable", Score: 1, Value: "mailinator.com", Confidence: 1},
			{Name: "email.free_provider", Score: 0.1, Value: "mailinator.com", Confidence: 1},
			{Name: "velocity.signups_per_ip", Score: 0.2, Value: "2", Confidence: 1},
		}
	}
	return r
}

// gavelAnswer is the part of a DecideResponse the harness classifies.
type gavelAnswer struct {
	DecisionID string `json:"decisionId"`
	Action     string `json:"action"`
	Fallback   bool   `json:"fallback"`
	Detectors  []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"detectors"`
}

// Outcomes of a gavel decision.
const (
	whole       loadgen.Outcome = "whole"     // every expected detector answered in time, no fallback
	fallback    loadgen.Outcome = "fallback"  // the failure action, marked
	skipped     loadgen.Outcome = "skipped"   // a detector not called: breaker open or not running
	late        loadgen.Outcome = "late"      // a detector timed out
	failed      loadgen.Outcome = "failed"    // a detector answered an error or garbage
	missingDets loadgen.Outcome = "missing"   // fewer detector reports than expected
	undefined   loadgen.Outcome = "undefined" // OPA: no result
	answered    loadgen.Outcome = "answered"  // OPA: a result
	resultCount                 = 6           // detectors that run at signup (document does not)
)

func classify(a *gavelAnswer, detectors bool) loadgen.Outcome {
	if a.Fallback {
		return fallback
	}
	if !detectors {
		return whole
	}
	if len(a.Detectors) < resultCount {
		return missingDets
	}
	out := whole
	for _, d := range a.Detectors {
		switch d.Status {
		case "DETECTOR_STATUS_OK":
		case "DETECTOR_STATUS_UNAVAILABLE":
			return skipped
		case "DETECTOR_STATUS_TIMEOUT":
			out = late
		default:
			if out == whole {
				out = failed
			}
		}
	}
	return out
}

// rpcError is a Connect error answer, classed by its code.
type rpcError struct {
	code   string
	status int
}

func (e *rpcError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.code, e.status) }

func init() {
	loadgen.ErrorClass = func(err error) string {
		var re *rpcError
		if errors.As(err, &re) {
			return re.code
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "client timeout"
		}
		return "transport"
	}
}

func gavelDoer(base string, binary, detectors bool, n int) loadgen.Do {
	client := transport(n)
	u := base + decidePath
	return func(ctx context.Context, seq int64) (loadgen.Outcome, error) {
		req := decideRequest(seq, detectors)
		var body []byte
		var err error
		ct := "application/json"
		if binary {
			ct = "application/proto"
			body, err = proto.Marshal(req)
		} else {
			body, err = decideJSON(req)
		}
		if err != nil {
			return "", err
		}
		hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		hr.Header.Set("Content-Type", ct)
		resp, err := client.Do(hr)
		if err != nil {
			return "", err
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			var e struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(raw, &e)
			return "", &rpcError{code: cmpOr(e.Code, "http"), status: resp.StatusCode}
		}
		var a gavelAnswer
		if binary {
			var pr decisionv1.DecideResponse
			if err := proto.Unmarshal(raw, &pr); err != nil {
				return "", err
			}
			a.Fallback = pr.GetFallback()
			for _, d := range pr.GetDetectors() {
				a.Detectors = append(a.Detectors, struct {
					Name   string `json:"name"`
					Status string `json:"status"`
				}{d.GetName(), d.GetStatus().String()})
			}
		} else if err := json.Unmarshal(raw, &a); err != nil {
			return "", err
		}
		return classify(&a, detectors), nil
	}
}

// decideJSON writes a DecideRequest as Connect's JSON, with encoding/json
// (the client's cost is not gavel's).
func decideJSON(r *decisionv1.DecideRequest) ([]byte, error) {
	p := r.GetSubject().GetProfile()
	sigs := make([]map[string]any, 0, len(r.GetSignals()))
	for _, s := range r.GetSignals() {
		sigs = append(sigs, map[string]any{"name": s.Name, "score": s.Score, "value": s.Value, "confidence": s.Confidence})
	}
	return json.Marshal(map[string]any{
		"requestId":  r.GetRequestId(),
		"checkpoint": r.GetCheckpoint(),
		"subject": map[string]any{
			"id": r.GetSubject().GetId(), "kind": r.GetSubject().GetKind(),
			"profile": map[string]any{"givenName": p.GetGivenName(), "familyName": p.GetFamilyName(), "country": p.GetCountry(), "email": p.GetEmail(), "phone": p.GetPhone()},
		},
		"context": map[string]any{"ip": r.GetContext().GetIp(), "deviceId": r.GetContext().GetDeviceId(), "userAgent": r.GetContext().GetUserAgent()},
		"signals": sigs,
	})
}

func opaDoer(base string, body []byte, n int) loadgen.Do {
	client := transport(n)
	u := base + "/v1/data/gavel/enforcement/decision"
	return func(ctx context.Context, _ int64) (loadgen.Outcome, error) {
		hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(hr)
		if err != nil {
			return "", err
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", &rpcError{code: "http", status: resp.StatusCode}
		}
		var out struct {
			Result *struct {
				Action string `json:"action"`
			} `json:"result"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			return "", err
		}
		if out.Result == nil || out.Result.Action == "" {
			return undefined, nil
		}
		return answered, nil
	}
}

func opaAction(base string, body []byte) (string, error) {
	resp, err := http.Post(base+"/v1/data/gavel/enforcement/decision", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Result struct {
			Action string `json:"action"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Result.Action, nil
}

// captureInput makes one decision with inline signals and reads back, in
// the reviewer view, the input document its policy evaluated.
func captureInput(base string) (json.RawMessage, string, error) {
	client := transport(1)
	body, _ := decideJSON(decideRequest(0, false))
	resp, err := client.Post(base+decidePath, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("decide: HTTP %d: %s", resp.StatusCode, raw)
	}
	var a gavelAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, "", err
	}
	q, _ := json.Marshal(map[string]any{"decisionId": a.DecisionID, "view": "VIEW_REVIEWER"})
	resp, err = client.Post(base+"/gavel.decision.v1.DecisionService/GetDecision", "application/json", bytes.NewReader(q))
	if err != nil {
		return nil, "", err
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GetDecision: HTTP %d: %s", resp.StatusCode, raw)
	}
	var g struct {
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(raw, &g); err != nil || len(g.Input) == 0 {
		return nil, "", fmt.Errorf("GetDecision: no input document in the reviewer view (%v)", err)
	}
	// gavel's action enum, as the policy names it.
	action := strings.ToLower(strings.TrimPrefix(a.Action, "ACTION_"))
	return g.Input, action, nil
}

// ---- runs ----

func closedRow(ctx context.Context, name string, s *server, do loadgen.Do, gavel bool) row {
	slog.Info("closed loop", "row", name, "conns", *conns, "duration", *duration)
	loadgen.Closed(ctx, *conns, *warmup, do)
	peak, cpu0 := sampleRSS(s.pid()), treeCPU(s.pid())
	res := loadgen.Closed(ctx, *conns, *duration, do)
	return row{name: name, load: fmt.Sprintf("closed, %d conns", *conns), res: res, rss: peak(), cpu: treeCPU(s.pid()) - cpu0, gavel: gavel}
}

func openRow(ctx context.Context, name string, s *server, do loadgen.Do, gavel bool) row {
	slog.Info("open loop", "row", name, "rate", *rate, "duration", *openFor)
	loadgen.Open(ctx, *rate, *warmup, *openConns, do)
	peak, cpu0 := sampleRSS(s.pid()), treeCPU(s.pid())
	res := loadgen.Open(ctx, *rate, *openFor, *openConns, do)
	return row{name: name, load: fmt.Sprintf("open, %.0f/s", *rate), res: res, rss: peak(), cpu: treeCPU(s.pid()) - cpu0, gavel: gavel}
}

// fillRetryIndex offers the open-loop load, unmeasured, until gavel has
// answered decision.RecentRequests decisions (at most -steady-max): gavel
// keeps that many to answer retries during a ledger outage, and its memory
// reaches its steady state only once they are kept. It says, for the row,
// whether it did.
func fillRetryIndex(ctx context.Context, row string, do loadgen.Do) string {
	start := time.Now()
	var answered int64
	for answered < decision.RecentRequests && time.Since(start) < *steadyMax {
		answered += loadgen.Open(ctx, *rate, 5*time.Second, *openConns, do).Answered()
	}
	took := time.Since(start).Round(time.Second)
	if answered < decision.RecentRequests {
		slog.Warn("steady state not reached before the measured run", "row", row, "answered", answered, "took", took)
		return fmt.Sprintf("measured before steady state: %d of the %d decisions gavel keeps for retries were answered in %s", answered, decision.RecentRequests, took)
	}
	slog.Info("steady state: retry index filled", "row", row, "answered", answered, "took", took)
	return fmt.Sprintf("measured at steady state, after %d decisions (%s) filled the %d gavel keeps for retries", answered, took, decision.RecentRequests)
}

// ref is what a gavel row is compared with: OPA's throughput and p99, the
// mean of its runs.
type ref struct {
	throughput float64
	p99        float64 // nanoseconds
}

// meanRef is the mean of OPA's runs; none (rows not run) is the zero ref.
func meanRef(runs []row) ref {
	var m ref
	n := 0
	for _, r := range runs {
		if r.res == nil {
			continue
		}
		m.throughput += r.res.Throughput()
		m.p99 += float64(r.res.Quantile(0.99))
		n++
	}
	if n > 0 {
		m.throughput /= float64(n)
		m.p99 /= float64(n)
	}
	return m
}

func against(r row, opa ref) row {
	if opa.throughput == 0 {
		return r
	}
	r.ref = "OPA"
	r.ratio = r.res.Throughput() / opa.throughput
	if opa.p99 > 0 {
		r.p99Ratio = float64(r.res.Quantile(0.99)) / opa.p99
	}
	return r
}

func postgresRow(ctx context.Context, work, dsn string, env []string) (row, error) {
	schema := "gavel_bench_" + hex.EncodeToString(binary8())
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return row{}, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return row{}, fmt.Errorf("create schema on %s: %w", "GAVEL_TEST_POSTGRES_DSN", err)
	}
	defer admin.ExecContext(context.WithoutCancel(ctx), "DROP SCHEMA "+schema+" CASCADE")
	sdsn := dsn + " search_path=" + schema
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return row{}, err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		sdsn = u.String()
	}
	g, err := startGavel(work, "postgres", env, "--ledger-driver", "postgres", "--ledger-dsn", sdsn)
	if err != nil {
		return row{}, err
	}
	defer g.stop()
	r := closedRow(ctx, "gavel, PostgreSQL ledger, Connect JSON", g, gavelDoer(g.url, false, false, *conns), true)
	r.rssNote = "gavel only"
	return r, nil
}

func binary8() []byte {
	b := make([]byte, 6)
	for i := range b {
		b[i] = byte(rand.N(256))
	}
	return b
}

// replayRow replays the decisions stored in the SQLite ledger at path
// under the repo's policies, and compares the rate with the limit: cores ÷
// the median time to evaluate one of the same decisions, one at a time.
func replayRow(ctx context.Context, path string) (row, error) {
	if *replayN > 0 {
		if err := topUp(ctx, path, *replayN); err != nil {
			return row{}, err
		}
	}
	cfg := ledger.DefaultConfig()
	cfg.Path = path
	l, err := ledger.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return row{}, err
	}
	defer l.Close()
	eng, stop, err := policyEngine(ctx)
	if err != nil {
		return row{}, err
	}
	defer stop()
	// The replay runs as gavel replay does, with its collector target;
	// the limit is measured under the same one.
	defer replay.TuneGC()()
	// The limit: evaluate a sample of the stored inputs one at a time,
	// three passes over the same sample, and keep the fastest pass's median
	// (the strictest limit: a pass slowed by the machine does not lower it).
	var sample []map[string]any
	for s, err := range l.Scan(ctx, ledger.Filter{}, 500) {
		if err != nil {
			return row{}, err
		}
		if len(s.Record.Input) == 0 {
			continue
		}
		sample = append(sample, s.Record.Input)
		if len(sample) == 2000 {
			break
		}
	}
	if len(sample) == 0 {
		return row{}, errors.New("replay: no stored decisions to replay")
	}
	var median, mean time.Duration
	evals := make([]time.Duration, len(sample))
	for pass := range 3 {
		for i, in := range sample {
			t0 := time.Now()
			if _, err := eng.Evaluate(ctx, in); err != nil {
				return row{}, fmt.Errorf("evaluate a stored decision: %w", err)
			}
			evals[i] = time.Since(t0)
		}
		slices.Sort(evals)
		if m := evals[len(evals)/2]; pass == 0 || m < median {
			var sum time.Duration
			for _, e := range evals {
				sum += e
			}
			median, mean = m, sum/time.Duration(len(evals))
		}
	}
	// What this machine's cores give when every one of them evaluates the
	// same sample at once (no ledger, no decoding): the limit assumes they
	// add up, and the replay can do no better than they do.
	var next atomic.Int64
	var wg sync.WaitGroup
	cores := runtime.GOMAXPROCS(0)
	evalErrs := make(chan error, cores)
	t0 := time.Now()
	for range cores {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(3*len(sample)); i = next.Add(1) - 1 {
				if _, err := eng.Evaluate(ctx, sample[i%int64(len(sample))]); err != nil {
					evalErrs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(evalErrs)
	if err := <-evalErrs; err != nil {
		return row{}, fmt.Errorf("evaluate a stored decision: %w", err)
	}
	parallel := float64(3*len(sample)) / time.Since(t0).Seconds()
	// The sample's memory goes back before the replay's peak is sampled.
	sample = nil
	debug.FreeOSMemory()
	limit := float64(cores) / median.Seconds()

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := sampleRSS(os.Getpid())
	if *replayProfile != "" {
		f, err := os.Create(*replayProfile)
		if err != nil {
			return row{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return row{}, err
		}
	}
	rep, err := replay.Run(ctx, l, eng, replay.Options{})
	if *replayProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return row{}, err
	}
	rate := float64(rep.Replayed) / rep.Elapsed.Seconds()
	return row{
		name: fmt.Sprintf("gavel replay, %d stored decisions", rep.Replayed), load: fmt.Sprintf("%d workers", cores),
		rss: peak(), rssNote: "the harness process", gavel: true,
		replayRate: rate, replayLimit: limit, ref: "limit", ratio: rate / limit,
		note: fmt.Sprintf("limit %.0f/s = %d cores ÷ median eval %v; mean eval %v, so every core evaluating without a pause would reach %.2f× of it; the %d cores evaluating the same sample at once reached %.0f/s (%.2f× the limit), and the replay %.2f× of that",
			limit, cores, median.Round(time.Microsecond), mean.Round(time.Microsecond), median.Seconds()/mean.Seconds(), cores, parallel, parallel/limit, rate/parallel),
	}, nil
}

// topUp copies the decisions stored in the SQLite ledger at path, under new
// decision and request ids and the same input documents, until it holds n.
func topUp(ctx context.Context, path string, n int) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	var base int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM decisions").Scan(&base); err != nil {
		return fmt.Errorf("count stored decisions: %w", err)
	}
	if base == 0 {
		return errors.New("replay: no stored decisions to copy")
	}
	start := time.Now()
	have := base
	// Each round of copies is moved later than the round before by the
	// span of the originals, and copied in time order, so that time order
	// is the order of insertion, as in a ledger that grew by deciding: a
	// replay reads the file front to back, not one row of every round for
	// each time.
	var span float64
	if err := db.QueryRowContext(ctx, `SELECT (julianday(max(decided_at)) - julianday(min(decided_at))) * 86400
		FROM decisions`).Scan(&span); err != nil {
		return fmt.Errorf("span of stored decisions: %w", err)
	}
	shift := int64(math.Ceil(span)) + 1
	for round := 1; have < n; round++ {
		// decided_at is fixed width, "2006-01-02T15:04:05.000000Z": the
		// seconds move, the microseconds stay.
		res, err := db.ExecContext(ctx, `INSERT INTO decisions (decision_id, request_id, subject_id, checkpoint,
			decided_at, action, codes, fallback, dry_run, bundle_revision, latency_ns, record)
			SELECT decision_id || '-copy' || ?1, request_id || '-copy' || ?1, subject_id, checkpoint,
			strftime('%Y-%m-%dT%H:%M:%S', decided_at, '+' || (?1 * ?3) || ' seconds') || substr(decided_at, 20),
			action, codes, fallback, dry_run, bundle_revision, latency_ns, record
			FROM decisions WHERE decision_id NOT LIKE '%-copy%' ORDER BY decided_at, decision_id LIMIT ?2`,
			round, min(base, n-have), shift)
		if err != nil {
			return fmt.Errorf("copy stored decisions: %w", err)
		}
		added, _ := res.RowsAffected()
		have += int(added)
	}
	slog.Info("ledger topped up for replay", "stored", base, "now", have, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// policyEngine is the repo's policies in gavel's embedded engine, as
// `policy.source: embedded`.
func policyEngine(ctx context.Context) (*bundles.Engine, func(), error) {
	dir, err := os.MkdirTemp("", "gavel-bench-bundle-")
	if err != nil {
		return nil, nil, err
	}
	if err := policies.WriteBundle(dir); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	eng, err := bundles.New(ctx, bundles.Config{Source: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	stop := func() { eng.Stop(context.Background()); os.RemoveAll(dir) }
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := eng.WaitReady(wctx); err != nil {
		stop()
		return nil, nil, err
	}
	// Measure the entry point gavel serve evaluates: the optimised one
	// (policy.optimize), built in the background after activation.
	for !eng.Status()[0].Optimized {
		if wctx.Err() != nil {
			stop()
			return nil, nil, fmt.Errorf("the policy's entry point was not optimised within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return eng, stop, nil
}

// timedEvaluator times each evaluation of the policy, one Decide at a time.
type timedEvaluator struct {
	decision.Evaluator
	last time.Duration
}

func (t *timedEvaluator) Evaluate(ctx context.Context, input map[string]any) (decision.Verdict, error) {
	start := time.Now()
	v, err := t.Evaluator.Evaluate(ctx, input)
	t.last = time.Since(start)
	return v, err
}

// discardLedger keeps nothing: Decide without a ledger, for the overhead row only.
type discardLedger struct{}

func (discardLedger) History(context.Context, string, time.Time) (decision.History, error) {
	return decision.History{}, nil
}
func (discardLedger) Commit(_ context.Context, rec *decision.Record, _ *decision.Basis) (*decision.Record, bool, error) {
	return rec, false, nil
}
func (discardLedger) Standing(context.Context, string, time.Time) (*decision.Standing, error) {
	return nil, decision.ErrNotFound
}
func (discardLedger) ByRequestID(context.Context, string) (*decision.Record, error) {
	return nil, decision.ErrNotFound
}
func (discardLedger) Get(context.Context, string) (*decision.Record, error) {
	return nil, decision.ErrNotFound
}
func (discardLedger) List(context.Context, string, int, string) ([]*decision.Record, string, error) {
	return nil, "", nil
}

// overheadRow is Decide in-process with the ledger off, one call at a time,
// minus the policy's own evaluation of the same decision: what gavel adds
// to OPA's evaluation (validation, input document, verdict, record).
func overheadRow(ctx context.Context) (row, error) {
	eng, stop, err := policyEngine(ctx)
	if err != nil {
		return row{}, err
	}
	defer stop()
	te := &timedEvaluator{Evaluator: eng}
	e, err := decision.New(decision.Config{
		Checkpoints: []string{"signup"}, FailureAction: decision.Challenge,
		PolicyTimeout: time.Second, SignalTimeout: time.Second,
	}, nil, te, discardLedger{}, nil)
	if err != nil {
		return row{}, err
	}
	n := 5000
	over := make([]time.Duration, 0, n)
	evals := make([]time.Duration, 0, n)
	for i := range n + 500 {
		req := decisionFromProto(decideRequest(int64(i), false))
		start := time.Now()
		rec, err := e.Decide(ctx, req)
		el := time.Since(start)
		if err != nil {
			return row{}, err
		}
		if rec.Fallback {
			return row{}, fmt.Errorf("overhead: Decide fell back: %s", rec.Cause)
		}
		if i >= 500 { // warm-up
			over = append(over, el-te.last)
			evals = append(evals, te.last)
		}
	}
	slices.Sort(over)
	slices.Sort(evals)
	return row{
		name: "Decide in-process, ledger off: overhead over evaluation", load: fmt.Sprintf("%d sequential", n),
		overhead: over[len(over)/2], overhead99: over[len(over)*99/100], eval: evals[len(evals)/2],
	}, nil
}

// decisionFromProto is the domain request the edge would make of r.
func decisionFromProto(r *decisionv1.DecideRequest) *decision.Request {
	p := r.GetSubject().GetProfile()
	req := &decision.Request{
		RequestID: r.GetRequestId(), Checkpoint: r.GetCheckpoint(),
		Subject: decision.Subject{ID: r.GetSubject().GetId(), Kind: r.GetSubject().GetKind(), Profile: decision.Profile{
			GivenName: p.GetGivenName(), FamilyName: p.GetFamilyName(), Country: p.GetCountry(), Email: p.GetEmail(), Phone: p.GetPhone(),
		}},
		Context: decision.Context{IP: r.GetContext().GetIp(), DeviceID: r.GetContext().GetDeviceId(), UserAgent: r.GetContext().GetUserAgent()},
	}
	for _, s := range r.GetSignals() {
		req.Signals = append(req.Signals, decision.Signal{Name: s.GetName(), Score: s.GetScore(), Value: s.GetValue(), Confidence: s.GetConfidence()})
	}
	return req
}

// sampleRSS samples the resident memory of pid and its children every
// 100 ms until the returned function is called, which returns the peak.
func sampleRSS(pid int) func() int64 {
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if n := treeRSS(pid); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak.Load()
	}
}

// treeCPU is the CPU time (user and system) pid and its direct children
// have used so far, from /proc (clock ticks of 10 ms).
func treeCPU(pid int) time.Duration {
	total := cpuOf(strconv.Itoa(pid))
	for _, child := range children(pid) {
		total += cpuOf(child)
	}
	return total
}

// children are pid's direct children, from the kernel's list of each of
// its threads' children: a few small reads, where a scan of /proc reads
// the stat of every process on the machine, ten times a second while RSS
// is sampled, on the cores the measured server runs on. Without that list
// (a kernel built without it, or a thread that ended as it was read), the
// scan.
func children(pid int) []string {
	if kids, ok := threadChildren(pid); ok {
		return kids
	}
	return scanChildren(pid)
}

func scanChildren(pid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if f := statFields(e.Name()); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name())
		}
	}
	return out
}

func threadChildren(pid int) ([]string, bool) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, false
	}
	var out []string
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			return nil, false
		}
		out = append(out, strings.Fields(string(b))...)
	}
	return out, true
}

func cpuOf(pid string) time.Duration {
	f := statFields(pid)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// statFields are the fields of /proc/PID/stat after the command name:
// [0] state, [1] parent, ..., [11] utime, [12] stime.
func statFields(pid string) []string {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

// treeRSS is the resident memory of pid and its direct children, in bytes.
func treeRSS(pid int) int64 {
	total := rssOf(strconv.Itoa(pid))
	for _, child := range children(pid) {
		total += rssOf(child)
	}
	return total
}

func rssOf(pid string) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ---- the table ----

func printTable(stamp time.Time, rows []row) error {
	host, _ := os.Hostname()
	cpu := cpuModel()
	var md strings.Builder
	fmt.Fprintf(&md, "`make bench`, %s, %s (%d cores, %s), Go %s\n\n", stamp.Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), cpu, strings.TrimPrefix(runtime.Version(), "go"))
	fmt.Fprintf(&md, "| | load | throughput | p50 | p99 | peak RSS | CPU per answer | vs | whole | detectors skipped / late / failed | fallback | errors |\n")
	fmt.Fprintf(&md, "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|\n")
	for _, r := range rows {
		if r.eval > 0 {
			fmt.Fprintf(&md, "| %s | %s | | %s (p99 %s) | | | | %.2f× goal | | | | policy eval p50 %s; goal ≤ 100 µs p50 |\n",
				r.name, r.load, us(r.overhead), us(r.overhead99), float64(r.overhead)/float64(100*time.Microsecond), us(r.eval))
			continue
		}
		if r.replayRate > 0 {
			fmt.Fprintf(&md, "| %s | %s | %.0f/s | | | %s | | %.2f× limit | | | | %s |\n",
				r.name, r.load, r.replayRate, mb(r.rss, r.rssNote), r.ratio, r.note)
			continue
		}
		vs := ""
		if r.ratio > 0 {
			vs = fmt.Sprintf("%.2f× %s (p99 %.2f×)", r.ratio, r.ref, r.p99Ratio)
		}
		wholeCol, degraded, fb := "", "", ""
		if r.gavel {
			wholeCol = pct(r.res.Fraction(whole))
			degraded = fmt.Sprintf("%s / %s / %s", pct(r.res.Fraction(skipped)+r.res.Fraction(missingDets)), pct(r.res.Fraction(late)), pct(r.res.Fraction(failed)))
			fb = pct(r.res.Fraction(fallback))
		} else if n := r.res.Outcomes[undefined]; n > 0 {
			wholeCol = fmt.Sprintf("%d undefined", n)
		}
		errs := errorText(r.res)
		if r.note != "" {
			errs = strings.TrimPrefix(errs+"; "+r.note, "; ")
		}
		perAnswer := ""
		if n := r.res.Answered(); n > 0 && r.cpu > 0 {
			perAnswer = us(r.cpu / time.Duration(n))
		}
		fmt.Fprintf(&md, "| %s | %s | %.0f/s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.name, r.load, r.res.Throughput(), ms(r.res.Quantile(0.5)), ms(r.res.Quantile(0.99)),
			mb(r.rss, r.rssNote), perAnswer, vs, wholeCol, degraded, fb, errs)
	}
	fmt.Println()
	fmt.Print(md.String())
	if *outFile != "" {
		return os.WriteFile(*outFile, []byte(md.String()), 0o644)
	}
	return nil
}

func errorText(r *loadgen.Result) string {
	var parts []string
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.Errors[k]))
	}
	if r.Missed > 0 {
		parts = append(parts, fmt.Sprintf("not sent (client saturated) %d", r.Missed))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func pct(f float64) string {
	if f == 0 {
		return "0 %"
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64) + " %"
}

func us(d time.Duration) string {
	return strconv.FormatInt(d.Microseconds(), 10) + " µs"
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + " ms"
}

func mb(n int64, note string) string {
	s := fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	if note != "" {
		s += " (" + note + ")"
	}
	return s
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
