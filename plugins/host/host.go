// Package host runs gavel's detector binaries and gathers their signals for
// the decision engine: it implements decision.SignalSource. Each detector is
// a go-plugin gRPC process (AutoMTLS, SHA-256 pinned, minimal environment)
// owned by a supervisor goroutine that starts it, describes it, watches it and
// restarts it with backoff when it dies. Collect, the hot path, reads each
// detector's running instance through an atomic pointer and takes no lock.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavel/gavel/decision"
)

// State is a detector's health.
type State string

const (
	StateOK          State = "ok"
	StateUnavailable State = "unavailable"
	StateStarting    State = "starting"
)

// Health is what an operator sees of one detector.
type Health struct {
	Name        string        `json:"name"`
	Version     string        `json:"version,omitempty"`
	State       State         `json:"state"`
	Restarts    int           `json:"restarts"`
	LastError   string        `json:"last_error,omitempty"`
	Checkpoints []string      `json:"checkpoints,omitempty"` // empty: all
	Signals     []string      `json:"signals,omitempty"`
	Budget      time.Duration `json:"budget"`  // the detector's declared latency budget
	Timeout     time.Duration `json:"timeout"` // effective per-call deadline
	LastLatency time.Duration `json:"last_latency"`
	// Breaker is the circuit breaker's state: "closed", "open" (not called
	// until the cool-down ends) or "half-open" (the next call probes).
	Breaker string `json:"breaker"`
	// ConsecutiveFailures counts failed calls (error or timeout) in a row.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// PingLatency is the health check's round trip, set by Ping only.
	PingLatency time.Duration `json:"ping_latency,omitempty"`
	// PingError is why the health check failed, set by Ping only.
	PingError string `json:"ping_error,omitempty"`
	// BreakerOpened counts how often the breaker opened.
	BreakerOpened int `json:"breaker_opened"`
	// Mode is ModeProcess (a go-plugin binary) or ModeInProcess.
	Mode   string `json:"mode"`
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	PID    int    `json:"pid,omitempty"`
}

// Host runs detectors. It is safe for concurrent use.
type Host struct {
	cfg  Config
	log  *slog.Logger
	dets []*detector

	ctx     context.Context // the supervisors' lifetime
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started atomic.Bool
	closed  sync.Once

	obs *observeQueue // committed decisions for observing detectors (observe.go)
}

var _ decision.SignalSource = (*Host)(nil)

// New validates cfg and returns a host; Start runs the detectors.
func New(cfg Config, log *slog.Logger) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("detector host configuration: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Host{cfg: cfg, log: log, obs: newObserveQueue(ObserveQueue)}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	for _, dc := range cfg.Detectors {
		d, err := newDetector(dc, cfg, log)
		if err != nil {
			return nil, err
		}
		h.dets = append(h.dets, d)
	}
	return h, nil
}

// Start starts every detector and waits for each to answer its handshake and
// Describe (or fail to). A detector that is missing, fails its SHA-256 pin or
// its handshake is an error naming it; with OnFailure "refuse" (or Required
// set) Start stops everything and returns all such errors joined; otherwise
// it logs them and the supervisors keep retrying in the background.
func (h *Host) Start(ctx context.Context) error {
	if !h.started.CompareAndSwap(false, true) {
		return errors.New("detector host already started")
	}
	if h.cfg.DataDir != "" {
		for _, d := range h.dets {
			if err := os.MkdirAll(filepath.Join(h.cfg.DataDir, d.cfg.Name), 0o700); err != nil {
				return fmt.Errorf("detector %q: data folder: %w", d.cfg.Name, err)
			}
		}
	}
	h.wg.Go(func() { h.forward(h.ctx) })
	firsts := make([]chan error, len(h.dets))
	for i, d := range h.dets {
		firsts[i] = make(chan error, 1)
		h.wg.Go(func() { d.supervise(h.ctx, firsts[i]) })
	}
	var fatal []error
	for i, d := range h.dets {
		var err error
		select {
		case err = <-firsts[i]:
		case <-ctx.Done():
			h.Close()
			return fmt.Errorf("start detectors: %w", ctx.Err())
		}
		if err == nil {
			continue
		}
		if h.cfg.OnFailure == OnFailureRefuse || d.cfg.Required {
			fatal = append(fatal, err)
			continue
		}
		h.log.Warn("detector unavailable at start; degrading and retrying",
			"detector", d.cfg.Name, "error", err)
	}
	if len(fatal) > 0 {
		h.Close()
		return errors.Join(fatal...)
	}
	return nil
}

// Close stops the supervisors and kills every detector process, waiting for
// them to exit. It is safe to call more than once.
//
// It does not call plugin.CleanupClients: that kills every managed client of
// the process and may run only once, so it belongs to main, after Close.
func (h *Host) Close() error {
	h.closed.Do(func() {
		h.cancel()
		h.wg.Wait()
	})
	return nil
}

// Status reports every detector's health, in configuration order.
func (h *Host) Status() []Health {
	out := make([]Health, len(h.dets))
	for i, d := range h.dets {
		out[i] = d.health()
	}
	return out
}

// Ping health-checks every running detector concurrently (a failure makes
// its supervisor check it at once) and then reports Status, with each
// answered health check's round trip in PingLatency and a failed one's
// error in PingError.
func (h *Host) Ping(ctx context.Context) []Health {
	var wg sync.WaitGroup
	rtts := make([]time.Duration, len(h.dets))
	errs := make([]error, len(h.dets))
	for i, d := range h.dets {
		inst := d.inst.Load()
		if inst == nil {
			continue
		}
		wg.Go(func() {
			start := time.Now()
			if errs[i] = inst.ping(ctx); errs[i] != nil {
				d.log.Warn("detector health check failed", "error", errs[i])
				d.nudge()
				return
			}
			rtts[i] = time.Since(start)
		})
	}
	wg.Wait()
	out := h.Status()
	for i := range out {
		out[i].PingLatency = rtts[i]
		if errs[i] != nil {
			out[i].PingError = errs[i].Error()
		}
	}
	return out
}

func (d *detector) health() Health {
	st := d.status.Load()
	h := Health{
		Name:        d.cfg.Name,
		State:       st.state,
		Restarts:    int(d.restarts.Load()),
		LastError:   st.err,
		LastLatency: time.Duration(d.lastLatency.Load()),
		Path:        d.path,
		Mode:        ModeProcess,
		SHA256:      st.sha256,
		Timeout:     d.cfg.Timeout,

		Breaker:             d.brk.state(time.Now()),
		ConsecutiveFailures: int(d.brk.failures.Load()),
		BreakerOpened:       int(d.brk.opened.Load()),
	}
	desc := st.desc
	if inst := d.inst.Load(); inst != nil {
		desc = inst.desc
		h.PID = inst.pid
		h.Timeout = inst.timeout
	}
	if d.cfg.Open != nil {
		h.Mode = ModeInProcess
	}
	if desc != nil {
		h.Version = desc.version
		h.Signals = slices.Clone(desc.signalList)
		h.Checkpoints = slices.Clone(desc.checkpointList)
		h.Budget = desc.budget
	}
	return h
}
