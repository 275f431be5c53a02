// Package server is gavel's RPC edge and process wiring: it opens the ledger,
// starts the detector host and the policy engine, and serves the Connect,
// gRPC and gRPC-Web protocols, gRPC health, reflection and metrics on one
// port. Handlers turn protos into domain values and back; errors become
// Connect codes here and nowhere else.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/console"
	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/admission"
	"github.com/gavel/gavel/internal/auth"
	"github.com/gavel/gavel/internal/certs"
	"github.com/gavel/gavel/internal/codec"
	"github.com/gavel/gavel/internal/config"
	"github.com/gavel/gavel/internal/health"
	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/internal/tracing"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/journal"
	"github.com/gavel/gavel/lists"
	"github.com/gavel/gavel/plugins/builtin"
	"github.com/gavel/gavel/plugins/host"
	"github.com/gavel/gavel/policies"
	"github.com/gavel/gavel/proto/gavel/admin/v1/adminv1connect"
	"github.com/gavel/gavel/proto/gavel/appeal/v1/appealv1connect"
	"github.com/gavel/gavel/proto/gavel/decision/v1/decisionv1connect"
	"github.com/gavel/gavel/proto/gavel/enforcement/v1/enforcementv1connect"
	"github.com/gavel/gavel/proto/gavel/events/v1/eventsv1connect"
	"github.com/gavel/gavel/proto/gavel/lists/v1/listsv1connect"
	"github.com/gavel/gavel/proto/gavel/replay/v1/replayv1connect"
	"github.com/gavel/gavel/proto/gavel/review/v1/reviewv1connect"
	"github.com/gavel/gavel/review"
)

// Version is stamped at build time.
var Version = "dev"

var errBadPageToken = ledger.ErrBadPageToken

// ErrPolicy marks a start-up failure of the policy bundle (it did not load,
// verify or compile), so the command can exit with its own code.
var ErrPolicy = errors.New("policy bundle")

// Server is one running gavel: build it with New, then Run it; Close
// releases everything New opened.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	started time.Time

	ledger    *ledger.Ledger
	host      *host.Host
	policy    *bundles.Engine
	shadow    *bundles.Engine // nil unless policy.shadow is set
	engine    *decision.Engine
	journal   *journal.Journal // decisions made while the ledger was away
	replays   *replay.Service
	health    *health.Checker
	metrics   *metrics
	admission *admission.Controller
	tracing   *tracing.Tracing
	certs     *certs.Reloader // nil without TLS

	// lists are the runtime lists; listMatcher follows their changes until
	// stopLists, then closes listsStopped.
	lists        *lists.Service
	listMatcher  *lists.Matcher
	stopLists    context.CancelFunc
	listsStopped chan struct{}

	// stopEvents stops the events' delivery loop; eventsStopped is closed
	// when it has recorded what was in flight.
	stopEvents    context.CancelFunc
	eventsStopped chan struct{}

	// stopDrain stops the journal's drainer; drained is closed when it has.
	stopDrain context.CancelFunc
	drained   chan struct{}

	ln          net.Listener
	http        *http.Server
	metricsLn   net.Listener // server.metrics_listen, when set
	metricsHTTP *http.Server
	closeOnce   sync.Once
}

// New opens the ledger, starts the detectors and loads the policy bundle. It
// fails with an error naming the part that could not start.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (s *Server, err error) {
	return newServer(ctx, cfg, log, nil)
}

// newServer is New with tracing given (tests trace into memory); nil
// starts it as configured.
func newServer(ctx context.Context, cfg *config.Config, log *slog.Logger, tr *tracing.Tracing) (s *Server, err error) {
	s = &Server{cfg: cfg, log: log, started: time.Now(), metrics: newMetrics(), tracing: tr}
	s.admission = admission.New(admissionConfig(cfg), s.metrics.registry)
	if s.tracing == nil {
		if s.tracing, err = tracing.New(ctx, cfg.Tracing, Version); err != nil {
			return nil, err
		}
	}
	// A failed New returns a nil *Server: close what this one opened.
	defer func(opened *Server) {
		if err != nil {
			opened.Close()
		}
	}(s)

	lc := ledger.DefaultConfig()
	lc.Driver = cfg.Ledger.Driver
	lc.Path = cfg.LedgerPath()
	lc.DSN = string(cfg.Ledger.DSN)
	lc.MaxConns = cfg.Ledger.MaxConns
	lc.StrikeTTL = cfg.Ledger.StrikeTTL
	lc.StoreInput = cfg.Ledger.StoreInput
	lc.SQLiteSynchronous = cfg.Ledger.SQLite.Synchronous
	lc.SQLiteCommitBatch = cfg.Ledger.SQLite.CommitBatch
	lc.ClearFor = cfg.Appeals.ClearFor
	if lc.ClearFor == 0 {
		lc.ClearFor = cfg.Appeals.Window // an overturn holds for as long as the decision could be appealed
	}
	s.ledger, err = ledger.Open(ctx, lc, log.With("part", "ledger"))
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}

	if s.host, err = s.startDetectors(ctx); err != nil {
		return nil, err
	}

	source := cfg.Policy.Source
	if source == "embedded" {
		dir := filepath.Join(cfg.DataDir, "bundles", "embedded")
		if err := policies.WriteBundle(dir); err != nil {
			return nil, fmt.Errorf("write the embedded policy bundle: %w", err)
		}
		source = dir
	}
	signing, err := policySigning(cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	s.policy, err = bundles.New(ctx, bundles.Config{
		Name:       "gavel",
		Source:     source,
		Entrypoint: cfg.Policy.Entrypoint,
		PersistDir: filepath.Join(cfg.DataDir, "bundles", "persist"),
		Polling:    bundles.Polling{Min: cfg.Policy.Polling.Min, Max: cfg.Policy.Polling.Max},
		Signing:    signing,
		// The input document is gavel's, so its schema ships in the binary.
		InputSchema:  policies.InputSchema(),
		OnLoad:       s.metrics.onBundleLoad,
		DecisionLogs: decisionLogs(cfg.DecisionLogs),
		NoOptimize:   !cfg.Policy.Optimize,
	}, log.With("part", "policy"))
	if err != nil {
		return nil, fmt.Errorf("%w: start policy engine: %w", ErrPolicy, err)
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.Policy.ReadyWait)
	err = s.policy.WaitReady(wctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w from %s: %w", ErrPolicy, cfg.Policy.Source, err)
	}

	failure, _ := decision.ParseAction(cfg.Decision.FailureAction)
	s.engine, err = s.newEngine(decision.Config{
		Checkpoints:   cfg.Decision.Checkpoints,
		FailureAction: failure,
		PolicyTimeout: cfg.Decision.PolicyTimeout,
		SignalTimeout: cfg.Decision.SignalTimeout,
		LedgerTimeout: cfg.Ledger.Timeout,
	}, s.traced())
	if err != nil {
		return nil, fmt.Errorf("decision engine: %w", err)
	}
	s.engine.SetCatalog(s.policy) // manual actions take their texts from the active bundle's catalog
	s.engine.AddObserver(s.host)  // committed decisions reach detectors that observe
	if cfg.DecisionLogs.Enabled() {
		s.engine.AddObserver(s.policy) // and OPA's decision log, dry runs included
		s.metrics.decisionLogs(s.policy.DecisionLogStats)
	}
	if err := s.startJournal(); err != nil {
		return nil, err
	}
	if err := s.startLists(ctx); err != nil {
		return nil, err
	}
	if err := s.startEvents(); err != nil {
		return nil, err
	}
	if err := s.startShadow(ctx); err != nil {
		return nil, err
	}
	if s.replays, err = s.newReplayService(); err != nil {
		return nil, fmt.Errorf("replay service: %w", err)
	}
	return s, nil
}

// newEngine builds the decision engine on the ledger, detectors and policy,
// each traced when tracing is on (the engine itself knows no tracing).
func (s *Server) newEngine(cfg decision.Config, deps engineDeps) (*decision.Engine, error) {
	return decision.New(cfg, deps.signals, deps.policy, deps.ledger, s.log.With("part", "decision"))
}

type engineDeps struct {
	signals decision.SignalSource
	policy  decision.Evaluator
	ledger  decision.Ledger
}

func (s *Server) traced() engineDeps {
	if !s.tracing.Enabled() {
		return engineDeps{signals: s.host, policy: s.policy, ledger: s.ledger}
	}
	tr := s.tracing.Tracer()
	return engineDeps{
		signals: tracing.Signals(s.host, tr),
		policy:  tracing.Policy(s.policy, tr),
		ledger:  tracing.Ledger(s.ledger, tr),
	}
}

// drainEvery is how often the journal drainer tries the ledger while the
// journal holds decisions.
const drainEvery = time.Second

// startJournal opens the decision journal under <data_dir>/journal, so the
// engine keeps answering (with the failure action) when the ledger cannot
// be read or written, and starts replaying journaled decisions into the
// ledger, at once for any a previous run left.
func (s *Server) startJournal() error {
	j, err := journal.Open(filepath.Join(s.cfg.DataDir, "journal"), s.log.With("part", "journal"))
	if err != nil {
		return err
	}
	s.journal = j
	s.engine.SetJournal(j)
	s.metrics.ledgerMetrics(s.ledger, j.Pending)
	ctx, cancel := context.WithCancel(context.Background())
	s.stopDrain, s.drained = cancel, make(chan struct{})
	go func() {
		defer close(s.drained)
		j.Run(ctx, s.ledger, drainEvery)
	}()
	return nil
}

// startShadow starts the shadow bundle, when one is configured, and has the
// decision engine evaluate it beside the active one into the ledger. A
// shadow that is not ready in time is not an error: until its bundle
// activates its verdicts are recorded as errors, and status shows why.
func (s *Server) startShadow(ctx context.Context) error {
	sh, ok := s.cfg.ShadowPolicy()
	if !ok {
		return nil
	}
	// The shadow is held to the same signing rules as the active bundle,
	// judged by its own source.
	sp := s.cfg.Policy
	sp.Source = sh.Source
	signing, err := policySigning(sp)
	if err != nil {
		return fmt.Errorf("%w: shadow: %w", ErrPolicy, err)
	}
	if signing == nil && sp.SigningRequired() {
		return fmt.Errorf("%w: policy.shadow.source %s must be signed: set policy.signing.key_id and a public key", ErrPolicy, sh.Source)
	}
	s.shadow, err = bundles.New(ctx, bundles.Config{
		Name:        "gavel-shadow",
		Role:        "shadow",
		Source:      sh.Source,
		Entrypoint:  sh.Entrypoint,
		PersistDir:  filepath.Join(s.cfg.DataDir, "bundles", "persist-shadow"),
		Polling:     bundles.Polling{Min: sh.Polling.Min, Max: sh.Polling.Max},
		Signing:     signing,
		InputSchema: policies.InputSchema(),
		OnLoad:      s.metrics.onBundleLoad,
		NoOptimize:  !s.cfg.Policy.Optimize,
	}, s.log.With("part", "shadow"))
	if err != nil {
		return fmt.Errorf("%w: start shadow policy engine: %w", ErrPolicy, err)
	}
	// Wait for the shadow as for the active bundle, so the first decisions
	// are shadowed too; a shadow that does not come serves no one, so
	// gavel starts without it.
	wctx, cancel := context.WithTimeout(ctx, s.cfg.Policy.ReadyWait)
	if err := s.shadow.WaitReady(wctx); err != nil {
		s.log.Warn("shadow bundle not active yet; decisions are not shadowed until it is", "source", sh.Source, "error", err)
	}
	cancel()
	s.engine.SetShadow(s.shadow, s.ledger)
	return nil
}

func (s *Server) startDetectors(ctx context.Context) (*host.Host, error) {
	hc := host.Config{
		DataDir:           filepath.Join(s.cfg.DataDir, "detectors"),
		StartTimeout:      s.cfg.Detectors.StartTimeout,
		RestartBackoffMin: s.cfg.Detectors.RestartBackoffMin,
		RestartBackoffMax: s.cfg.Detectors.RestartBackoffMax,
		BreakerFailures:   s.cfg.Detectors.BreakerFailures,
		BreakerCooldown:   s.cfg.Detectors.BreakerCooldown,
		BreakerGrace:      s.cfg.Detectors.BreakerGrace,
		OnFailure:         s.cfg.Detectors.OnFailure,
		Budgets:           host.Budgets(s.cfg.Detectors.Budgets),
	}
	if s.tracing.Enabled() {
		hc.Tracer = s.tracing.Tracer()
	}
	names := make([]string, 0, len(s.cfg.Detectors.Plugins))
	for name, d := range s.cfg.Detectors.Plugins {
		if d.Enabled {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		d := s.cfg.Detectors.Plugins[name]
		dc := host.DetectorConfig{Name: name, SHA256: d.SHA256, Timeout: s.cfg.DetectorTimeout(name), Env: d.Env, Required: d.Required}
		if d.Mode == config.ModeInProcess {
			dc.Open, _ = builtin.Opener(name) // checked by config.Validate
		} else {
			path, err := s.cfg.DetectorPath(name)
			if err != nil {
				return nil, err
			}
			dc.Path = path
		}
		hc.Detectors = append(hc.Detectors, dc)
	}
	h, err := host.New(hc, s.log.With("part", "detectors"))
	if err != nil {
		return nil, fmt.Errorf("detector host: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		h.Close()
		return nil, fmt.Errorf("start detectors: %w", err)
	}
	return h, nil
}

// procedureRoles says which roles may call each procedure. A procedure not
// listed needs an authenticated caller with any role; every procedure of
// every service mounted on the mux is authenticated either way (see
// internal/auth), so a new service only adds its entries here.
func procedureRoles() map[string][]string {
	return map[string][]string{
		decisionv1connect.DecisionServiceDecideProcedure:          {roleDecide},
		decisionv1connect.DecisionServiceGetDecisionProcedure:     {roleRead, roleReview, roleAdmin},
		decisionv1connect.DecisionServiceListDecisionsProcedure:   {roleRead, roleReview, roleAdmin},
		decisionv1connect.DecisionServiceSearchDecisionsProcedure: {roleRead, roleReview, roleAdmin},
		adminv1connect.AdminServiceGetStatusProcedure:             {roleAdmin},
		adminv1connect.AdminServiceGetRuleStatsProcedure:          {roleAdmin, roleReview, roleRead},
		adminv1connect.AdminServiceExportStatementsProcedure:      {roleAdmin},
		// The marketplace files on the account holder's behalf; only a
		// human reviewer's desk resolves (DSA Art. 20(6)).
		appealv1connect.AppealServiceFileAppealProcedure:    {roleDecide, roleReview},
		appealv1connect.AppealServiceGetAppealProcedure:     {roleReview, roleRead},
		appealv1connect.AppealServiceListAppealsProcedure:   {roleReview, roleRead},
		appealv1connect.AppealServiceResolveAppealProcedure: {roleReview},
		appealv1connect.AppealServiceClaimAppealProcedure:   {roleReview},
		replayv1connect.ReplayServiceStartReplayProcedure:   {roleAdmin},
		replayv1connect.ReplayServiceGetReplayProcedure:     {roleAdmin},
		// Standing is read like a decision; manual actions are a reviewer's.
		enforcementv1connect.EnforcementServiceGetStandingProcedure: {roleRead, roleReview, roleAdmin},
		enforcementv1connect.EnforcementServiceSuspendProcedure:     {roleReview, roleAdmin},
		enforcementv1connect.EnforcementServiceRestrictProcedure:    {roleReview, roleAdmin},
		enforcementv1connect.EnforcementServiceLiftProcedure:        {roleReview, roleAdmin},
		enforcementv1connect.EnforcementServiceReinstateProcedure:   {roleReview, roleAdmin},
		// Lists are operator-curated: changes need admin or review.
		listsv1connect.ListServiceCreateListProcedure:    {roleAdmin, roleReview},
		listsv1connect.ListServiceAddEntriesProcedure:    {roleAdmin, roleReview},
		listsv1connect.ListServiceRemoveEntriesProcedure: {roleAdmin, roleReview},
		listsv1connect.ListServiceImportEntriesProcedure: {roleAdmin, roleReview},
		listsv1connect.ListServiceGetListProcedure:       {roleAdmin, roleReview, roleRead},
		listsv1connect.ListServiceListListsProcedure:     {roleAdmin, roleReview, roleRead},
		listsv1connect.ListServiceListEntriesProcedure:   {roleAdmin, roleReview, roleRead},
		listsv1connect.ListServiceListChangesProcedure:   {roleAdmin, roleReview, roleRead},
		// The review queue: reading for read, review and admin; changes for
		// review and admin (an appeal only for review: the handler checks).
		reviewv1connect.ReviewServiceListQueueProcedure: {roleRead, roleReview, roleAdmin},
		reviewv1connect.ReviewServiceGetItemProcedure:   {roleRead, roleReview, roleAdmin},
		reviewv1connect.ReviewServiceClaimProcedure:     {roleReview, roleAdmin},
		reviewv1connect.ReviewServiceAddNoteProcedure:   {roleReview, roleAdmin},
		reviewv1connect.ReviewServiceResolveProcedure:   {roleReview, roleAdmin},
		// The events' status and dead letters are an operator's.
		eventsv1connect.EventServiceGetEventStatusProcedure:    {roleAdmin, roleRead},
		eventsv1connect.EventServiceListDeliveriesProcedure:    {roleAdmin, roleRead},
		eventsv1connect.EventServiceRedriveDeliveriesProcedure: {roleAdmin},
	}
}

// handlerOptions are the options every Connect handler is built with:
// decoding bounded in size and in depth (gavel's attribute depth limit).
func (s *Server) handlerOptions() []connect.HandlerOption {
	opts := []connect.HandlerOption{
		connect.WithReadMaxBytes(s.cfg.Server.MaxRequestBytes),
		connect.WithCompressMinBytes(1024),
	}
	opts = append(opts, codec.Options(decision.DefaultLimits().MaxAttributeDepth)...)
	traced, err := s.tracing.HandlerOptions()
	if err != nil {
		s.log.Error("tracing off: cannot instrument the handlers", "error", err)
	}
	return append(opts, traced...)
}

// Handler returns everything gavel serves on its one port. Every request
// passes the edge first — authentication, then admission (rate limits and
// the in-flight cap) — before any handler reads its body, whatever service
// it is for.
func (s *Server) Handler() http.Handler {
	opts := s.handlerOptions()
	mux := http.NewServeMux()
	mux.Handle(decisionv1connect.NewDecisionServiceHandler(&decisionHandler{engine: s.engine, shadows: s.ledger, search: s.ledger, log: s.log, metrics: s.metrics, appealWindow: s.cfg.Appeals.Window, deciders: newDeciders(s.cfg.Server.MaxInFlight)}, opts...))
	mux.Handle(adminv1connect.NewAdminServiceHandler(&adminHandler{s: s}, opts...))
	mux.Handle(listsv1connect.NewListServiceHandler(&listsHandler{svc: s.lists, log: s.log}, opts...))
	// Candidate bundles are bigger than requests: their own limit.
	replayOpts := append(slices.Clone(opts), connect.WithReadMaxBytes(int(s.cfg.Replay.MaxBundleBytes)+64<<10))
	mux.Handle(replayv1connect.NewReplayServiceHandler(&replayHandler{svc: s.replays, checkpoints: checkpointSet(s.engine.Checkpoints()), log: s.log}, replayOpts...))

	appeals := &appealHandler{ledger: s.ledger, observer: s.host, window: s.cfg.Appeals.Window, claimTTL: s.cfg.Appeals.ClaimTTL, clearFor: s.cfg.Appeals.ClearFor, log: s.log, now: time.Now}
	queue := review.New(s.ledger, s.engine, s.cfg.Review, review.Options{
		ClaimTTL: s.cfg.Appeals.ClaimTTL, ClearFor: s.cfg.Appeals.ClearFor, Overturned: appeals.overturned,
	})
	mux.Handle(appealv1connect.NewAppealServiceHandler(appeals, opts...))
	mux.Handle(reviewv1connect.NewReviewServiceHandler(&reviewHandler{svc: queue, log: s.log, appealWindow: s.cfg.Appeals.Window}, opts...))
	services := []string{decisionv1connect.DecisionServiceName, adminv1connect.AdminServiceName, appealv1connect.AppealServiceName, replayv1connect.ReplayServiceName, enforcementv1connect.EnforcementServiceName, listsv1connect.ListServiceName, reviewv1connect.ReviewServiceName}
	mux.Handle(eventsv1connect.NewEventServiceHandler(&eventsHandler{s: s, store: s.ledger, log: s.log}, opts...))
	services = append(services, eventsv1connect.EventServiceName)
	mux.Handle(enforcementv1connect.NewEnforcementServiceHandler(&enforcementHandler{engine: s.engine, log: s.log, appealWindow: s.cfg.Appeals.Window}, opts...))
	s.health = health.New(services, s.readinessProbes()...)
	mux.Handle(grpchealth.NewHandler(s.health))
	mux.Handle("/healthz", s.health.Liveness())
	mux.Handle("/readyz", s.health.Readiness())
	if s.cfg.Server.Reflection {
		reflector := grpcreflect.NewStaticReflector(append(services, grpchealth.HealthV1ServiceName)...)
		mux.Handle(grpcreflect.NewHandlerV1(reflector))
		mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	}
	authn := auth.New(s.cfg.Auth, procedureRoles(), "/"+grpchealth.HealthV1ServiceName+"/")
	if s.cfg.Server.Metrics && s.cfg.Server.MetricsListen == "" {
		mux.Handle("/metrics", authn.Require(s.metrics.handler(), roleMetrics, roleAdmin))
	}
	api := authn.Middleware(s.admission.Middleware(mux))
	if s.cfg.Console.Enabled {
		s.mountConsole(mux, authn, api)
	}
	return api
}

// mountConsole serves the console under /console/ on mux. The console
// calls api — the RPC handlers behind the same authentication and
// admission as every caller — in process, with the signed-in user's token.
func (s *Server) mountConsole(mux *http.ServeMux, authn *auth.Authenticator, api http.Handler) {
	c, err := console.New(s.cfg.Console, console.Deps{
		API:  api,
		Open: s.cfg.Auth.Disabled(),
		Authenticate: func(token string) (console.Principal, bool) {
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			p, ok := authn.Authenticate(r)
			return console.Principal{Name: p.Name, Roles: p.Roles}, ok
		},
		Log:            s.log.With("part", "console"),
		MaxUploadBytes: s.cfg.Replay.MaxBundleBytes,
	})
	if err != nil {
		s.log.Error("console not served", "error", err)
		return
	}
	mux.Handle(console.Prefix, c)
}

func checkpointSet(cps []string) map[string]bool {
	m := make(map[string]bool, len(cps))
	for _, c := range cps {
		m[c] = true
	}
	return m
}

// Listen binds the configured address (port 0 picks a free one).
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Server.Listen, err)
	}
	if t := s.cfg.Server.TLS; t.Enabled() {
		s.certs, err = certs.New(certs.Config{
			CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile,
			RequireClientCert: t.ClientCAFile != "" && t.ClientAuth != "optional",
		}, s.log.With("part", "tls"))
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, s.certs.TLSConfig())
	}
	s.ln = ln
	if m := s.cfg.Server.MetricsListen; m != "" && s.cfg.Server.Metrics {
		if s.metricsLn, err = net.Listen("tcp", m); err != nil {
			s.ln.Close()
			return fmt.Errorf("listen for metrics on %s: %w", m, err)
		}
	}
	return nil
}

// MetricsAddr is the address metrics are served on when
// server.metrics_listen is set, once Listen has run.
func (s *Server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}

// admissionConfig is each caller's rate and the in-flight cap.
func admissionConfig(cfg *config.Config) admission.Config {
	ac := admission.Config{
		MaxInFlight: cfg.Server.MaxInFlight, LatencyTarget: cfg.Server.LatencyTarget, MinInFlight: cfg.Server.MinInFlight,
		Callers: map[string]admission.Limit{},
	}
	for name, t := range cfg.Auth.Tokens {
		ac.Callers[name] = admission.Limit{Rate: t.Limit.Rate, Burst: t.Limit.BurstOrDefault()}
	}
	for name, c := range cfg.Auth.Clients {
		ac.Callers[name] = admission.Limit{Rate: c.Limit.Rate, Burst: c.Limit.BurstOrDefault()}
	}
	return ac
}

// Addr is the address being served, once Listen has run.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Run serves until ctx is done, then stops taking requests, lets in-flight
// decisions finish (up to server.shutdown_timeout) and closes everything.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if s.certs != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	s.http = &http.Server{
		Handler:           s.Handler(),
		Protocols:         &protocols,
		ReadHeaderTimeout: s.cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.Server.ReadTimeout,
		WriteTimeout:      s.cfg.Server.WriteTimeout,
		IdleTimeout:       s.cfg.Server.IdleTimeout,
		MaxHeaderBytes:    s.cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.AuthDisabled() {
		s.log.Warn("no auth tokens configured: serving without authentication on a loopback address only", "addr", s.Addr())
	}
	s.log.Info("gavel serving", "addr", s.Addr(), "version", Version, "ledger", s.ledger.Backend(),
		"bundle_revision", s.revision(), "auth", !s.cfg.AuthDisabled(), "tls", s.certs != nil,
		"mtls", s.cfg.Server.TLS.ClientCAFile != "")

	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.ln) }()
	if s.metricsLn != nil {
		s.metricsHTTP = &http.Server{
			Handler: sideHandler(s.metrics.handler(), s.cfg.Server.Pprof), ReadHeaderTimeout: s.cfg.Server.ReadHeaderTimeout,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		go s.metricsHTTP.Serve(s.metricsLn)
		s.log.Info("metrics serving", "addr", s.MetricsAddr())
	}
	select {
	case err := <-served:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing in-flight decisions", "timeout", s.cfg.Server.ShutdownTimeout)
	s.health.Stopping() // readiness: NOT_SERVING from now on
	if s.metricsHTTP != nil {
		defer s.metricsHTTP.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.Close()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("gavel stopped")
	return nil
}

// revision is the active bundle's revision.
func (s *Server) revision() string {
	for _, st := range s.policy.Status() {
		if st.Role == "active" {
			return st.Revision
		}
	}
	return ""
}

// Close releases the detectors, the policy engine and the ledger.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.stopDrain != nil {
			s.stopDrain()
			<-s.drained
		}
		if s.stopLists != nil {
			s.stopLists()
			<-s.listsStopped
		}
		if s.stopEvents != nil {
			s.stopEvents()
			<-s.eventsStopped
		}
		if s.engine != nil {
			s.engine.Close() // queued shadow verdicts reach the ledger before it closes
		}
		if s.shadow != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.shadow.Stop(ctx)
			cancel()
		}
		if s.policy != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.policy.Stop(ctx)
			cancel()
		}
		if s.host != nil {
			s.host.Close()
		}
		if s.replays != nil {
			s.replays.Close()
		}
		if s.journal != nil {
			if err := s.journal.Close(); err != nil {
				s.log.Warn("close journal", "error", err)
			}
		}
		if s.ledger != nil {
			s.ledger.Close()
		}
		if s.tracing != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.tracing.Shutdown(ctx); err != nil {
				s.log.Warn("flush traces", "error", err)
			}
			cancel()
		}
	})
}
