package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/trace"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/plugins"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

const (
	watchInterval = 200 * time.Millisecond // how often the supervisor checks Exited
	pingEvery     = 25                     // watch ticks between health checks (5s)
	pingTimeout   = 2 * time.Second
)

// detector is one configured detector and its supervisor's shared state.
// Only the supervisor writes inst and status; everyone may read them.
type detector struct {
	cfg          DetectorConfig
	path         string // "" in process
	env          []string
	dataDir      string // the detector's data folder; "" for the system's temporary folder
	startTimeout time.Duration
	backoffMin   time.Duration
	backoffMax   time.Duration
	log          *slog.Logger
	hclog        hclog.Logger

	tracer      trace.Tracer             // nil: no spans
	inst        atomic.Pointer[instance] // nil unless running
	status      atomic.Pointer[snapshot]
	restarts    atomic.Int64
	lastLatency atomic.Int64
	kick        chan struct{} // asks the supervisor to check the instance now
	brk         breaker       // consecutive call failures (breaker.go)
	grace       time.Duration // how long past its timeout a call stays open (collect.go)
	inflight    atomic.Int64  // Detect calls still open, awaited or not (collect.go)
	lastHeard   atomic.Int64  // unix nanoseconds of the last answer or error from the process (collect.go)
	limits      decision.Limits
	maxEvidence int // bytes of one signal's evidence, marshalled

	observed, observeFailed atomic.Int64 // Observe calls (observe.go)

	pin []byte // supervisor only
}

// snapshot is the supervisor's view, replaced as a whole.
type snapshot struct {
	state  State
	err    string
	sha256 string
	desc   *description // last known, kept while unavailable
}

// instance is one running detector: a go-plugin process, or an in-process
// detector (client and conn nil, local set).
type instance struct {
	client  *plugin.Client
	conn    *grpc.ClientConn
	local   io.Closer // in-process: released by kill; may be nil
	rpc     detectorv1.DetectorServiceClient
	desc    *description
	timeout time.Duration // the configured timeout
	pid     int           // 0 in process
	inProc  bool
}

// exited reports whether the process has exited; an in-process detector
// never does.
func (i *instance) exited() bool { return !i.inProc && i.client.Exited() }

// kill stops the process, or releases an in-process detector.
func (i *instance) kill(log *slog.Logger) {
	if !i.inProc {
		i.client.Kill()
		return
	}
	if i.local != nil {
		if err := i.local.Close(); err != nil {
			log.Warn("in-process detector did not close cleanly", "error", err)
		}
	}
}

// description is what Describe said, prepared for the hot path.
type description struct {
	version        string
	signals        map[string]struct{}
	signalList     []string
	checkpoints    map[string]struct{} // empty: all
	checkpointList []string
	budget         time.Duration
	observes       bool // wants Observe calls (observe.go)
}

func (d *description) wants(checkpoint string) bool {
	if len(d.checkpoints) == 0 {
		return true
	}
	_, ok := d.checkpoints[checkpoint]
	return ok
}

// passEnv is all of gavel's environment a detector sees.
var passEnv = []string{"PATH", "HOME", "TMPDIR", "LANG"}

func newDetector(dc DetectorConfig, cfg Config, log *slog.Logger) (*detector, error) {
	var path string
	if dc.Open == nil {
		var err error
		if path, err = filepath.Abs(dc.Path); err != nil {
			return nil, fmt.Errorf("detector %q: path: %w", dc.Name, err)
		}
	}
	env := make([]string, 0, len(passEnv)+1+len(dc.Env))
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	var dataDir string
	if cfg.DataDir != "" {
		dataDir = filepath.Join(cfg.DataDir, dc.Name)
		env = append(env, plugins.EnvDataDir+"="+dataDir)
	}
	keys := make([]string, 0, len(dc.Env))
	for k := range dc.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, plugins.EnvPrefix+strings.ToUpper(k)+"="+dc.Env[k])
	}
	l := log.With("detector", dc.Name)
	d := &detector{
		cfg:          dc,
		path:         path,
		env:          env,
		dataDir:      dataDir,
		startTimeout: cfg.StartTimeout,
		backoffMin:   cfg.RestartBackoffMin,
		backoffMax:   cfg.RestartBackoffMax,
		log:          l,
		hclog:        newHCLogger(l),
		kick:         make(chan struct{}, 1),
		brk:          breaker{limit: int64(cfg.BreakerFailures), cooldown: cfg.BreakerCooldown},
		grace:        cfg.BreakerGrace,
		limits:       cfg.Limits,
		tracer:       cfg.Tracer,
		maxEvidence:  cfg.MaxEvidenceBytes,
	}
	if dc.SHA256 != "" {
		d.pin, _ = hex.DecodeString(dc.SHA256) // validated
	}
	d.status.Store(&snapshot{state: StateStarting, sha256: strings.ToLower(dc.SHA256)})
	return d, nil
}

// nudge asks the supervisor to check the instance without waiting.
func (d *detector) nudge() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *detector) setStatus(state State, err error, desc *description) {
	s := &snapshot{state: state, sha256: hex.EncodeToString(d.pin), desc: desc}
	if err != nil {
		s.err = err.Error()
	}
	d.status.Store(s)
}

// supervise runs the detector until ctx ends: start, watch, and restart with
// exponential backoff and jitter. The first start's outcome goes to first.
//
// It holds its OS thread for its whole life: Pdeathsig fires when the thread
// that started the child exits, so the child must be started, and outlived,
// by this thread. The thread is never unlocked, so it exits with the
// goroutine, after the child has been killed.
func (d *detector) supervise(ctx context.Context, first chan<- error) {
	runtime.LockOSThread()
	backoff := d.backoffMin
	var desc *description
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			d.restarts.Add(1)
		}
		inst, err := d.start()
		if err != nil {
			// Start reports the first failure; later ones are logged when the
			// reason changes, then quietly while it stays the same.
			if attempt > 0 && d.status.Load().err != err.Error() {
				d.log.Warn("detector failed to restart", "error", err, "attempt", attempt)
			} else {
				d.log.Debug("detector start failed", "error", err, "attempt", attempt)
			}
			d.setStatus(StateUnavailable, err, desc)
		} else {
			desc = inst.desc
			d.inst.Store(inst)
			d.setStatus(StateOK, nil, desc)
			d.log.Info("detector running", "version", desc.version, "pid", inst.pid,
				"signals", desc.signalList, "checkpoints", desc.checkpointList, "timeout", inst.timeout)
		}
		if first != nil { // after the state is published, so Start's caller sees it
			first <- err
			first = nil
		}
		if err == nil {
			up := time.Now()
			cause := d.watch(ctx, inst)
			d.inst.Store(nil)
			if cause == nil { // closing
				inst.kill(d.log)
				d.setStatus(StateUnavailable, errors.New("detector host closed"), desc)
				return
			}
			d.setStatus(StateUnavailable, cause, desc)
			d.log.Warn("detector died; restarting", "error", cause, "pid", inst.pid)
			inst.kill(d.log)
			if time.Since(up) > d.backoffMax {
				backoff = d.backoffMin
			}
		}
		wait := backoff + rand.N(backoff/4+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(wait, d.backoffMax)):
		}
		backoff = min(2*backoff, d.backoffMax)
	}
}

// watch returns the reason the instance is no longer usable, or nil when ctx
// ends first.
func (d *detector) watch(ctx context.Context, inst *instance) error {
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	failures := 0
	for n := 1; ; n++ {
		check := false
		select {
		case <-ctx.Done():
			return nil
		case <-d.kick:
			check = true
		case <-tick.C:
			check = n%pingEvery == 0
		}
		if inst.exited() {
			return fmt.Errorf("detector %q: process %d exited", d.cfg.Name, inst.pid)
		}
		if !check {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err := inst.ping(pctx)
		cancel()
		switch {
		case err == nil:
			failures = 0
		case ctx.Err() != nil:
			return nil
		default:
			if failures++; failures >= 2 || inst.exited() {
				return fmt.Errorf("detector %q: health check: %w", d.cfg.Name, err)
			}
		}
	}
}

// ping is go-plugin's health check, under ctx. An in-process detector is
// as healthy as gavel.
func (i *instance) ping(ctx context.Context) error {
	if i.inProc {
		return ctx.Err()
	}
	_, err := healthpb.NewHealthClient(i.conn).Check(ctx,
		&healthpb.HealthCheckRequest{Service: plugin.GRPCServiceName})
	return err
}

// start runs the binary, checks its pin, completes the handshake and asks
// Describe. Errors name the detector and why.
func (d *detector) start() (*instance, error) {
	if d.cfg.Open != nil {
		return d.startInProcess()
	}
	name := d.cfg.Name
	if _, err := os.Stat(d.path); err != nil {
		return nil, fmt.Errorf("detector %q: binary: %w", name, err)
	}
	if d.pin == nil {
		sum, err := fileSHA256(d.path)
		if err != nil {
			return nil, fmt.Errorf("detector %q: binary: %w", name, err)
		}
		d.pin = sum
		d.log.Warn("detector binary has no SHA-256 pin in configuration; pinning this one for restarts",
			"path", d.path, "sha256", hex.EncodeToString(sum))
	}
	cmd := exec.Command(d.path)
	cmd.Env = d.env
	cmd.SysProcAttr = sysProcAttr()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugins.Handshake,
		Plugins:          plugins.PluginSet(nil),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: d.pin, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true,
		SkipHostEnv:      true,
		StartTimeout:     d.startTimeout,
		Logger:           d.hclog,
	})
	inst, err := d.connect(client)
	if err != nil {
		client.Kill()
		return nil, err
	}
	return inst, nil
}

// startInProcess constructs an in-process detector and asks Describe, as
// start does for a binary.
func (d *detector) startInProcess() (*instance, error) {
	name := d.cfg.Name
	ctx, cancel := context.WithTimeout(context.Background(), d.startTimeout)
	defer cancel()
	det, closer, err := d.cfg.Open(ctx, envReader(d.cfg.Env), d.dataDir)
	if err != nil {
		return nil, fmt.Errorf("detector %q: in process: %w", name, err)
	}
	rpc := &localClient{d: det, name: name, log: d.log}
	inst := &instance{rpc: rpc, local: closer, inProc: true}
	resp, err := rpc.Describe(ctx, &detectorv1.DescribeRequest{})
	if err == nil {
		inst.desc, err = describe(resp)
	}
	if err != nil {
		inst.kill(d.log)
		return nil, fmt.Errorf("detector %q: Describe: %w", name, err)
	}
	inst.timeout = d.cfg.Timeout // the declared budget is reported, not a deadline (see connect)
	return inst, nil
}

func (d *detector) connect(client *plugin.Client) (*instance, error) {
	name := d.cfg.Name
	proto, err := client.Client()
	if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		got, _ := fileSHA256(d.path)
		return nil, fmt.Errorf("detector %q: binary %s has SHA-256 %x, not the pinned %x; refusing to run it",
			name, d.path, got, d.pin)
	}
	if err != nil {
		return nil, fmt.Errorf("detector %q: handshake: %w", name, err)
	}
	grpcClient, ok := proto.(*plugin.GRPCClient)
	if !ok {
		return nil, fmt.Errorf("detector %q: handshake: not a gRPC plugin", name)
	}
	raw, err := proto.Dispense(plugins.PluginName)
	if err != nil {
		return nil, fmt.Errorf("detector %q: dispense: %w", name, err)
	}
	rpc := raw.(detectorv1.DetectorServiceClient)
	ctx, cancel := context.WithTimeout(context.Background(), d.startTimeout)
	defer cancel()
	resp, err := rpc.Describe(ctx, &detectorv1.DescribeRequest{})
	if err != nil {
		return nil, fmt.Errorf("detector %q: Describe: %w", name, err)
	}
	desc, err := describe(resp)
	if err != nil {
		return nil, fmt.Errorf("detector %q: Describe: %w", name, err)
	}
	if resp.GetName() != "" && resp.GetName() != name {
		d.log.Info("detector describes itself under another name", "described_name", resp.GetName())
	}
	// The declared latency budget is the detector's promise, reported in
	// its health; it no longer shortens the deadline: the checkpoint's
	// budget (Config.Budgets), shared by all detectors of a decision, does.
	timeout := d.cfg.Timeout
	pid, _ := strconv.Atoi(client.ID())
	return &instance{
		client:  client,
		conn:    grpcClient.Conn,
		rpc:     rpc,
		desc:    desc,
		timeout: timeout,
		pid:     pid,
	}, nil
}

// describe checks a Describe answer.
func describe(r *detectorv1.DescribeResponse) (*description, error) {
	d := &description{
		version:     r.GetVersion(),
		observes:    r.GetObserves(),
		signals:     make(map[string]struct{}, len(r.GetSignals())),
		checkpoints: make(map[string]struct{}, len(r.GetCheckpoints())),
	}
	if len(r.GetSignals()) == 0 {
		return nil, errors.New("declares no signals")
	}
	for _, s := range r.GetSignals() {
		if !decision.ValidSignalName(s) {
			return nil, fmt.Errorf("signal name %q must be dotted lower-case, e.g. \"email.disposable\"", s)
		}
		if _, dup := d.signals[s]; !dup {
			d.signals[s] = struct{}{}
			d.signalList = append(d.signalList, s)
		}
	}
	for _, c := range r.GetCheckpoints() {
		if _, dup := d.checkpoints[c]; !dup && c != "" {
			d.checkpoints[c] = struct{}{}
			d.checkpointList = append(d.checkpointList, c)
		}
	}
	if b := r.GetLatencyBudget(); b != nil {
		if err := b.CheckValid(); err != nil {
			return nil, fmt.Errorf("latency budget: %w", err)
		}
		d.budget = max(b.AsDuration(), 0)
	}
	return d, nil
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
