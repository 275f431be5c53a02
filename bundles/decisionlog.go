package bundles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/logs"
	"github.com/open-policy-agent/opa/v1/server"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/gavel/gavel/decision"
)

// Defaults for the zero fields of DecisionLogs.
const (
	DefaultDecisionLogPath     = "/logs"
	DefaultDecisionLogBuffer   = 10000
	DefaultDecisionLogMinDelay = 5 * time.Second
	DefaultDecisionLogMaxDelay = 30 * time.Second
	// DefaultDecisionLogQueue is how many decisions wait for the worker
	// that hands them to OPA; past it Observe drops and counts.
	DefaultDecisionLogQueue = 1024
)

// collectorService is the name of the OPA service generated for the
// decision-log collector.
const collectorService = "decision_log_collector"

// maskPath is where the decision-log plugin looks for the mask policy.
const maskPath = "/system/log/mask"

var maskRef = ast.MustParseRef("data.system.log.mask")

// DecisionLogs ships decisions through OPA's decision-log plugin: each
// event is masked by the bundle's data.system.log.mask policy, held in an
// event buffer that drops the oldest past BufferEvents, and uploaded to
// the collector in gzip'd batches (OPA's decision-log protocol), or
// written to the engine's log.
type DecisionLogs struct {
	// URL is the collector's base URL; empty uploads nothing (Console only).
	URL string
	// Path is the resource events are POSTed to. Default "/logs".
	Path string
	// Token, when set, is sent as a bearer token.
	Token string
	// BufferEvents bounds OPA's buffer; the oldest events are dropped when
	// the collector cannot keep up. Default 10000.
	BufferEvents int
	// MinDelay and MaxDelay bound the wait between uploads (whole seconds,
	// rounded up). Defaults 5s and 30s.
	MinDelay time.Duration
	MaxDelay time.Duration
	// Console writes each masked event to the engine's log as well.
	Console bool
	// Queue bounds the decisions waiting to reach OPA. Default 1024.
	Queue int
}

func (d DecisionLogs) withDefaults() DecisionLogs {
	if d.Path == "" {
		d.Path = DefaultDecisionLogPath
	}
	if d.BufferEvents == 0 {
		d.BufferEvents = DefaultDecisionLogBuffer
	}
	if d.MinDelay == 0 {
		d.MinDelay = DefaultDecisionLogMinDelay
	}
	if d.MaxDelay == 0 {
		d.MaxDelay = max(DefaultDecisionLogMaxDelay, d.MinDelay)
	}
	if d.Queue == 0 {
		d.Queue = DefaultDecisionLogQueue
	}
	d.URL = strings.TrimRight(d.URL, "/") // OPA joins URL + "/" + path
	return d
}

func (d DecisionLogs) validate() []error {
	var errs []error
	if d.URL == "" && !d.Console {
		errs = append(errs, errors.New("decision logs: set a collector URL, console, or both"))
	}
	if d.URL != "" {
		u, err := url.Parse(d.URL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("decision logs URL: %w", err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("decision logs URL %q: want http:// or https://", d.URL))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("decision logs URL %q: no host", d.URL))
		}
	}
	if !strings.HasPrefix(d.Path, "/") {
		errs = append(errs, fmt.Errorf("decision logs path %q: want an absolute path such as /logs", d.Path))
	}
	if d.BufferEvents < 1 {
		errs = append(errs, fmt.Errorf("decision logs buffer %d: want at least 1 event", d.BufferEvents))
	}
	if d.Queue < 1 {
		errs = append(errs, fmt.Errorf("decision logs queue %d: want at least 1", d.Queue))
	}
	if d.MinDelay < time.Second {
		errs = append(errs, fmt.Errorf("decision logs min delay %v: want at least 1s", d.MinDelay))
	}
	if d.MaxDelay < d.MinDelay {
		errs = append(errs, fmt.Errorf("decision logs max delay %v is below min delay %v", d.MaxDelay, d.MinDelay))
	}
	return errs
}

// opaConfig adds the collector service and the decision_logs section to
// an OPA configuration document.
func (d DecisionLogs) opaConfig(doc map[string]any) {
	dl := map[string]any{
		"console":       d.Console,
		"mask_decision": maskPath,
		"reporting": map[string]any{
			// The default "size" buffer is unbounded; the event buffer
			// drops the oldest events past its limit.
			"buffer_type":              "event",
			"buffer_size_limit_events": d.BufferEvents,
			"min_delay_seconds":        seconds(d.MinDelay),
			"max_delay_seconds":        seconds(d.MaxDelay),
		},
	}
	if d.URL != "" {
		svc := map[string]any{"url": d.URL}
		if d.Token != "" {
			svc["credentials"] = map[string]any{"bearer": map[string]any{"token": d.Token}}
		}
		services, _ := doc["services"].(map[string]any)
		if services == nil {
			services = map[string]any{}
			doc["services"] = services
		}
		services[collectorService] = svc
		dl["service"] = collectorService
		dl["resource"] = d.Path
	}
	doc["decision_logs"] = dl
}

// DecisionLogStats counts the decision-log pipeline's work.
type DecisionLogStats struct {
	Enabled bool `json:"enabled"`
	// Queued decisions wait for the worker that hands them to OPA;
	// Dropped ones found that queue full.
	Queued  int   `json:"queued"`
	Dropped int64 `json:"dropped"`
	// Logged events reached OPA's decision logger (after masking).
	Logged int64 `json:"logged"`
	// Buffered events wait in OPA's buffer for upload; BufferDropped are
	// the oldest ones OPA dropped when the buffer was full.
	Buffered      int64 `json:"buffered"`
	BufferDropped int64 `json:"buffer_dropped"`
	// UploadedChunks and FailedChunks count OPA's upload attempts.
	UploadedChunks int64 `json:"uploaded_chunks"`
	FailedChunks   int64 `json:"failed_chunks"`
}

// OPA's counter names (plugins/logs), read for DecisionLogStats.
const (
	opaBufferDropped  = "decision_logs_dropped_buffer_size_limit_exceeded"
	opaChunksUploaded = "decision_logs_chunks_uploaded"
	opaChunksFailed   = "decision_logs_chunks_upload_failed"
)

// decisionLog hands committed decisions to OPA's decision-log plugin from
// a worker of its own: the plugin masks each event with a Rego evaluation
// in the caller, which the reply's path must not wait for.
type decisionLog struct {
	plugin  *logs.Plugin
	store   storage.Store   // the manager's, for the read transaction Log needs
	metrics metrics.Metrics // OPA's counters for the plugin
	bundle  string
	path    string // the entry point as an OPA decision path
	log     *slog.Logger

	queue   chan *decision.Record
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	dropped atomic.Int64
	logged  atomic.Int64
	state   atomic.Value // plugins.State last seen
}

// startDecisionLogs registers OPA's decision-log plugin with the manager
// (before it starts) and starts the worker that feeds it.
func (e *Engine) startDecisionLogs(m *plugins.Manager, d DecisionLogs, ol opaLogger) error {
	lcfg, err := logs.NewConfigBuilder().
		WithBytes(m.Config.DecisionLogs).
		WithServices(m.Services()).
		WithLogger(ol).
		Parse()
	if err != nil {
		return fmt.Errorf("OPA decision-log configuration: %w", err)
	}
	if lcfg == nil {
		return errors.New("OPA decision-log configuration: empty")
	}
	path, err := e.query.Ptr()
	if err != nil {
		return fmt.Errorf("decision logs: entry point %s: %w", e.cfg.Entrypoint, err)
	}
	om := metrics.New()
	p := logs.New(lcfg, m).WithMetrics(om)
	m.Register(logs.Name, p)
	dl := &decisionLog{
		plugin:  p,
		store:   m.Store,
		metrics: om,
		bundle:  e.cfg.Name,
		path:    path,
		log:     e.log,
		queue:   make(chan *decision.Record, d.Queue),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	m.RegisterPluginStatusListener("gavel-decision-logs", dl.onPluginStatus)
	e.dlog = dl
	go dl.work()
	dl.log.Info("decision logs on", "collector", d.URL, "resource", d.Path, "console", d.Console,
		"buffer_events", d.BufferEvents, "min_delay", d.MinDelay, "max_delay", d.MaxDelay)
	return nil
}

var _ decision.Observer = (*Engine)(nil)

// Observe queues a committed decision for the decision log and returns at
// once; when the queue is full the decision is dropped from the log (never
// from the ledger) and counted. Without decision logs it does nothing.
func (e *Engine) Observe(rec *decision.Record) {
	dl := e.dlog
	if dl == nil || rec == nil || rec.Replayed {
		return
	}
	select {
	case dl.queue <- rec:
	default:
		if n := dl.dropped.Add(1); n == 1 || n%1000 == 0 {
			dl.log.Warn("decision-log queue full: decisions dropped from the decision log", "dropped", n)
		}
	}
}

// DecisionLogStats reports the decision-log pipeline's counters.
func (e *Engine) DecisionLogStats() DecisionLogStats {
	dl := e.dlog
	if dl == nil {
		return DecisionLogStats{}
	}
	_, buffered := dl.plugin.BufferSize()
	return DecisionLogStats{
		Enabled:        true,
		Queued:         len(dl.queue),
		Dropped:        dl.dropped.Load(),
		Logged:         dl.logged.Load(),
		Buffered:       buffered,
		BufferDropped:  dl.counter(opaBufferDropped),
		UploadedChunks: dl.counter(opaChunksUploaded),
		FailedChunks:   dl.counter(opaChunksFailed),
	}
}

func (dl *decisionLog) counter(name string) int64 {
	n, _ := dl.metrics.Counter(name).Value().(uint64)
	return int64(n)
}

func (dl *decisionLog) work() {
	defer close(dl.done)
	for {
		select {
		case rec := <-dl.queue:
			dl.write(rec)
		case <-dl.stop:
			for {
				select {
				case rec := <-dl.queue:
					dl.write(rec)
				default:
					return
				}
			}
		}
	}
}

// close hands the queued decisions to OPA and stops the worker; the
// plugin's own Stop then flushes its buffer.
func (dl *decisionLog) close() {
	dl.once.Do(func() { close(dl.stop) })
	<-dl.done
}

// logTimeout bounds one event's masking (a Rego evaluation) in OPA.
const logTimeout = 5 * time.Second

func (dl *decisionLog) write(rec *decision.Record) {
	info, err := dl.info(rec)
	if err != nil {
		dl.log.Warn("decision not logged", "decision_id", rec.DecisionID, "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	// Log evaluates the mask and drop policies holding the plugin's lock.
	// Without a transaction of ours it opens its own read transaction under
	// that lock, while a bundle activation holds the store's write lock and
	// waits for the same plugin lock in its commit trigger: a deadlock. As
	// OPA's own server does, open the read transaction first and pass it in.
	txn, err := dl.store.NewTransaction(ctx)
	if err != nil {
		dl.log.Warn("decision not logged", "decision_id", rec.DecisionID, "error", err)
		return
	}
	defer dl.store.Abort(ctx, txn)
	info.Txn = txn
	// OPA reports its own mask and drop failures (and then does not log
	// the event); an error here is a configuration problem.
	if err := dl.plugin.Log(ctx, info); err != nil {
		dl.log.Warn("decision not logged", "decision_id", rec.DecisionID, "error", err)
		return
	}
	dl.logged.Add(1)
}

// info is the decision as OPA's decision logger sees one: gavel's decision
// id, the bundle revision that decided, the entry point's path, the input
// document, and the verdict in the policy's own result shape.
func (dl *decisionLog) info(rec *decision.Record) (*server.Info, error) {
	// OPA's mask removes fields from the input in place, and the record's
	// input is shared with the reply and the other observers: mask a copy.
	input, err := jsonCopy(rec.Input)
	if err != nil {
		return nil, fmt.Errorf("copy input: %w", err)
	}
	result, err := jsonCopy(verdictResult(rec.Verdict))
	if err != nil {
		return nil, fmt.Errorf("copy result: %w", err)
	}
	info := &server.Info{
		DecisionID: rec.DecisionID,
		Path:       dl.path,
		Timestamp:  rec.DecidedAt,
		Input:      &input,
		Results:    &result,
		Metrics: fixedMetrics{Metrics: metrics.NoOp(), all: map[string]any{
			"timer_gavel_decision_ns": rec.Latency.Nanoseconds(),
		}},
		Custom: map[string]any{
			"dry_run":  rec.DryRun,
			"fallback": rec.Fallback,
		},
	}
	if rev := rec.Verdict.BundleRevision; rev != "" {
		info.Bundles = map[string]server.BundleInfo{dl.bundle: {Revision: rev}}
	}
	return info, nil
}

// verdictResult is the verdict in the policy contract's shape
// ({action, restrictions, reasons, remedy, duration, strike}), without the
// catalog's texts and without evidence.
func verdictResult(v decision.Verdict) map[string]any {
	restrictions := make([]any, 0, len(v.Restrictions))
	for _, r := range v.Restrictions {
		h := map[string]any{"capability": r.Capability}
		if r.Duration > 0 {
			h["duration"] = r.Duration.String()
		}
		restrictions = append(restrictions, h)
	}
	reasons := make([]any, 0, len(v.Reasons))
	for _, r := range v.Reasons {
		reason := map[string]any{"code": r.Code, "action": r.Action.String()}
		if r.Rule != "" {
			reason["rule"] = r.Rule
		}
		reasons = append(reasons, reason)
	}
	var remedy any
	if r := v.Remedy; r != nil {
		m := map[string]any{"code": r.Code}
		if r.Checkpoint != "" {
			m["checkpoint"] = r.Checkpoint
		}
		remedy = m
	}
	duration := ""
	if v.Duration > 0 {
		duration = v.Duration.String()
	}
	out := map[string]any{
		"action":       v.Action.String(),
		"restrictions": restrictions,
		"reasons":      reasons,
		"remedy":       remedy,
		"duration":     duration,
		"strike":       v.Strike,
	}
	if r := v.Review; r != nil {
		codes := make([]any, len(r.Codes))
		for i, c := range r.Codes {
			codes[i] = c
		}
		out["review"] = map[string]any{"codes": codes, "sla": r.SLA.String()}
	}
	return out
}

// jsonCopy is a deep copy of v in plain JSON types, as OPA's mask expects.
func jsonCopy(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := util.UnmarshalJSON(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// fixedMetrics reports a decision's own measurements to OPA's logger,
// which reads only All.
type fixedMetrics struct {
	metrics.Metrics
	all map[string]any
}

func (f fixedMetrics) All() map[string]any { return f.all }

// onPluginStatus logs the decision-log plugin's state when it changes.
// Upload failures are logged by OPA itself (plugin=decision_logs).
func (dl *decisionLog) onPluginStatus(all map[string]*plugins.Status) {
	st, ok := all[logs.Name]
	if !ok || st == nil {
		return
	}
	if prev, _ := dl.state.Swap(st.State).(plugins.State); prev == st.State {
		return
	}
	args := []any{"state", string(st.State)}
	if st.Message != "" {
		args = append(args, "message", st.Message)
	}
	dl.log.Info("decision-log plugin state", args...)
}

// warnUnmasked says, at activation, that a bundle has no mask policy: its
// decision logs would carry the input's personal data unmasked.
func (e *Engine) warnUnmasked(rev string) {
	if e.dlog == nil {
		return
	}
	if c := e.manager.GetCompiler(); c == nil || len(c.GetRules(maskRef)) == 0 {
		e.log.Warn("bundle has no data.system.log.mask policy: decision logs carry personal data unmasked",
			"bundle_revision", rev)
	}
}
