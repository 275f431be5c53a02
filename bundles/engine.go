package bundles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/plugins"
	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/gavel/gavel/decision"
)

// ErrNotReady means no bundle has been activated yet: the engine cannot
// decide and the caller applies its failure action.
var ErrNotReady = errors.New("no policy bundle is active")

var _ decision.Evaluator = (*Engine)(nil)

// Engine evaluates the enforcement policy of one bundle. It owns an OPA
// plugin manager and store; OPA's bundle plugin loads and activates bundles,
// and on each activation the engine prepares the entry point once and swaps
// it in atomically. Evaluate is safe for concurrent use and takes no lock.
type Engine struct {
	cfg     Config
	src     source
	query   ast.Ref
	schemas *ast.SchemaSet // the input schema; nil: no type check
	log     *slog.Logger
	manager *plugins.Manager
	plugin  *bundleplugin.Plugin
	dlog    *decisionLog // nil unless Config.DecisionLogs is set

	active    atomic.Pointer[active]
	ready     chan struct{}
	readyOnce sync.Once
	// refusedFirst is closed when the first bundle read from a local
	// source is refused before any activated: no later attempt will do
	// better without someone changing the files, so WaitReady stops.
	refusedFirst chan struct{}
	refuseOnce   sync.Once

	mu       sync.Mutex
	refused  problem // set when gavel refused an activation OPA accepted
	loadFail problem // set from OPA's bundle status (download, verification, compile)

	stopWatch context.CancelFunc
	watchDone chan struct{}
	stopOnce  sync.Once

	optMu      sync.Mutex
	optCancel  context.CancelFunc // the optimisation under way, if any
	stopped    bool
	optimizing sync.WaitGroup
}

// active is one activated bundle: its prepared query, evaluated against a
// snapshot of the bundle's data, and its reason catalog.
type active struct {
	pq          rego.PreparedEvalQuery
	catalog     catalog
	revision    string
	activatedAt time.Time
	optimized   bool // pq evaluates the optimised entry point (optimize.go)
}

type problem struct {
	msg string
	at  time.Time
}

// Status is the state of one engine's bundle.
type Status struct {
	Role        string    `json:"role"`
	Name        string    `json:"name"`
	Revision    string    `json:"revision,omitempty"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	Ready       bool      `json:"ready"`
	// Optimized: the active bundle's entry point is evaluated as OPA's
	// optimizer built it (`opa build -O=1`), not as written.
	Optimized   bool      `json:"optimized"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// New starts an engine on cfg's bundle source. It returns once OPA's plugins
// are started, without waiting for the bundle: use WaitReady to wait for
// the first activation. Until then Evaluate returns ErrNotReady.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	src, _ := parseSource(cfg.Source)
	query, _ := parseEntrypoint(cfg.Entrypoint)
	schemas, _ := inputSchema(cfg.InputSchema)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("bundle", cfg.Name)

	raw, err := cfg.opaConfig(src)
	if err != nil {
		return nil, fmt.Errorf("bundle %q: OPA configuration: %w", cfg.Name, err)
	}
	ol := opaLogger{log}
	m, err := plugins.New(raw, cfg.Name, inmem.New(), plugins.Logger(ol), plugins.ConsoleLogger(ol))
	if err != nil {
		return nil, fmt.Errorf("bundle %q: OPA plugin manager: %w", cfg.Name, err)
	}
	pcfg, err := bundleplugin.NewConfigBuilder().
		WithBytes(m.Config.Bundles).
		WithServices(m.Services()).
		WithKeyConfigs(m.PublicKeys()).
		Parse()
	if err != nil {
		return nil, fmt.Errorf("bundle %q: OPA bundle configuration: %w", cfg.Name, err)
	}
	e := &Engine{
		cfg:     cfg,
		src:     src,
		query:   query,
		schemas: schemas,
		log:     log,
		manager: m,
		ready:   make(chan struct{}),

		refusedFirst: make(chan struct{}),
	}
	e.plugin = bundleplugin.New(pcfg, m)
	m.Register(bundleplugin.Name, e.plugin)
	m.RegisterCompilerTrigger(e.onCompile)
	e.plugin.Register(e, e.onStatus)
	if cfg.DecisionLogs != nil {
		if err := e.startDecisionLogs(m, *cfg.DecisionLogs, ol); err != nil {
			return nil, fmt.Errorf("bundle %q: %w", cfg.Name, err)
		}
	}

	// The local watcher fingerprints the source before OPA first reads it,
	// so a change made while OPA starts is not missed.
	var watch func()
	if src.local() {
		var wctx context.Context
		wctx, e.stopWatch = context.WithCancel(context.WithoutCancel(ctx))
		e.watchDone = make(chan struct{})
		watch = e.watcher(wctx, fingerprint(src.path))
	}
	if err := m.Start(context.WithoutCancel(ctx)); err != nil {
		if e.stopWatch != nil {
			e.stopWatch()
		}
		if e.dlog != nil {
			e.dlog.close()
		}
		m.Stop(ctx)
		return nil, fmt.Errorf("start bundle %q: %w", cfg.Name, err)
	}
	if watch != nil {
		go watch()
	}
	return e, nil
}

// ErrRefused is WaitReady's answer when the first bundle of a local source
// (a folder or a file:// tarball) was refused.
var ErrRefused = errors.New("refused")

// WaitReady waits until a bundle is active or ctx is done. Give ctx a
// deadline: a source that never yields a good bundle never becomes ready.
// For a local source whose bundle exists but is refused (it does not
// verify or compile), it returns at once with ErrRefused: waiting would
// not help.
func (e *Engine) WaitReady(ctx context.Context) error {
	select {
	case <-e.ready:
		return nil
	case <-e.refusedFirst:
		select {
		case <-e.ready:
			return nil
		default:
		}
		err := fmt.Errorf("bundle %q from %s %w", e.cfg.Name, e.cfg.Source, ErrRefused)
		if s := e.Status()[0]; s.LastError != "" {
			err = fmt.Errorf("%w: %s", err, s.LastError)
		}
		return err
	case <-ctx.Done():
	}
	err := fmt.Errorf("bundle %q not active: %w", e.cfg.Name, ctx.Err())
	if s := e.Status()[0]; s.LastError != "" {
		err = fmt.Errorf("%w (last error: %s)", err, s.LastError)
	}
	return err
}

// Reload asks OPA to load the bundle again now. For a local source it
// returns the load or activation error; a bundle server's errors show in
// Status.
func (e *Engine) Reload(ctx context.Context) error {
	if err := e.plugin.Trigger(ctx); err != nil {
		return fmt.Errorf("reload bundle %q: %w", e.cfg.Name, err)
	}
	return nil
}

// Stop stops the watcher and OPA's plugins. Evaluate keeps answering with
// the last active bundle. With decision logs, the decisions queued are
// handed to OPA first, and OPA tries to upload its buffer until ctx's
// deadline. Observe after Stop logs nothing.
func (e *Engine) Stop(ctx context.Context) {
	e.stopOnce.Do(func() {
		e.optMu.Lock()
		e.stopped = true
		if e.optCancel != nil {
			e.optCancel()
		}
		e.optMu.Unlock()
		e.optimizing.Wait()
		if e.stopWatch != nil {
			e.stopWatch()
			<-e.watchDone
		}
		if e.dlog != nil {
			e.dlog.close()
		}
		e.manager.Stop(ctx)
	})
}

// Status reports the engine's bundle: what serves, and the last problem.
func (e *Engine) Status() []Status {
	s := Status{Role: e.cfg.Role, Name: e.cfg.Name}
	if a := e.active.Load(); a != nil {
		s.Ready = true
		s.Revision = a.revision
		s.ActivatedAt = a.activatedAt
		s.Optimized = a.optimized
	}
	e.mu.Lock()
	last := e.refused
	if e.loadFail.msg != "" && (last.msg == "" || e.loadFail.at.After(last.at)) {
		last = e.loadFail
	}
	e.mu.Unlock()
	s.LastError, s.LastErrorAt = last.msg, last.at
	return []Status{s}
}

// Evaluate evaluates the entry point on input (plain JSON types) and returns
// the verdict with catalog texts joined. An undefined or malformed result
// is an error, never an allow; the verdict then carries only the bundle
// revision, when one is active.
func (e *Engine) Evaluate(ctx context.Context, input map[string]any) (decision.Verdict, error) {
	a := e.active.Load()
	if a == nil {
		return decision.Verdict{}, fmt.Errorf("evaluate bundle %q: %w", e.cfg.Name, ErrNotReady)
	}
	failed := decision.Verdict{BundleRevision: a.revision}
	if err := ctx.Err(); err != nil {
		return failed, fmt.Errorf("evaluate bundle %q: %w", e.cfg.Name, err)
	}
	in, err := ast.InterfaceToValue(input)
	if err != nil {
		return failed, fmt.Errorf("evaluate bundle %q: input: %w", e.cfg.Name, err)
	}
	rs, err := a.pq.Eval(ctx, rego.EvalParsedInput(in))
	if err != nil && ctx.Err() != nil {
		// OPA reports a cancelled evaluation without wrapping ctx's error.
		return failed, fmt.Errorf("evaluate bundle %q revision %q: %w", e.cfg.Name, a.revision, ctx.Err())
	}
	if err != nil {
		return failed, fmt.Errorf("evaluate bundle %q revision %q: %w", e.cfg.Name, a.revision, err)
	}
	switch {
	case len(rs) == 0:
		return failed, fmt.Errorf("evaluate bundle %q revision %q: %s is undefined", e.cfg.Name, a.revision, e.cfg.Entrypoint)
	case len(rs) > 1 || len(rs[0].Expressions) != 1:
		return failed, fmt.Errorf("evaluate bundle %q revision %q: %s has %d results, want one", e.cfg.Name, a.revision, e.cfg.Entrypoint, len(rs))
	}
	v, err := a.catalog.verdict(rs[0].Expressions[0].Value)
	if err != nil {
		return failed, fmt.Errorf("evaluate bundle %q revision %q: %w", e.cfg.Name, a.revision, err)
	}
	v.BundleRevision = a.revision
	return v, nil
}

// onCompile runs inside OPA's store commit whenever the bundle plugin has
// activated a bundle (OPA has compiled it already). It prepares the entry
// point against the new compiler and a snapshot of the new data; if gavel
// cannot use the bundle, the previous one keeps serving.
func (e *Engine) onCompile(txn storage.Transaction) {
	ctx := context.Background()
	rev, err := bundle.ReadBundleRevisionFromStore(ctx, e.manager.Store, txn, e.cfg.Name)
	if storage.IsNotFound(err) {
		return // OPA initialising its empty store: no bundle yet
	}
	if err != nil {
		e.refuse(rev, fmt.Errorf("activate bundle %q: read revision: %w", e.cfg.Name, err))
		return
	}
	a, src, err := e.prepare(ctx, txn, rev)
	if err != nil {
		e.refuse(rev, fmt.Errorf("activate bundle %q revision %q: %w", e.cfg.Name, rev, err))
		return
	}
	e.active.Store(a)
	e.mu.Lock()
	e.refused, e.loadFail = problem{}, problem{} // this activation resolves both
	e.mu.Unlock()
	e.optimizeLater(a, src)
	e.readyOnce.Do(func() { close(e.ready) })
	e.log.Info("bundle activated", "bundle_revision", rev, "role", e.cfg.Role)
	e.warnUnmasked(rev)
	e.loaded(LoadResult{Activated: true, Revision: rev})
}

func (e *Engine) loaded(r LoadResult) {
	if r.Err != nil && e.src.local() && e.active.Load() == nil {
		// A source that is not there yet may appear; one that is there
		// and refused will not improve by waiting.
		if _, err := os.Stat(e.src.path); err == nil {
			e.refuseOnce.Do(func() { close(e.refusedFirst) })
		}
	}
	if e.cfg.OnLoad != nil {
		r.Role = e.cfg.Role
		e.cfg.OnLoad(r)
	}
}

// activation is what an activated bundle was prepared from, kept for the
// optimizer (optimize.go); nil when the engine does not optimise.
type activation struct {
	modules map[string]*ast.Module // sourceModules
	data    map[string]any
	snap    storage.Store
}

func (e *Engine) prepare(ctx context.Context, txn storage.Transaction, rev string) (*active, *activation, error) {
	compiler := e.manager.GetCompiler()
	if compiler == nil || len(compiler.GetRules(e.query)) == 0 {
		return nil, nil, fmt.Errorf("entry point %s is not defined", e.cfg.Entrypoint)
	}
	var modules map[string]*ast.Module
	if e.schemas != nil || !e.cfg.NoOptimize {
		var err error
		if modules, err = e.sourceModules(ctx, txn, compiler); err != nil {
			return nil, nil, err
		}
	}
	if err := e.typeCheck(modules); err != nil {
		return nil, nil, err
	}
	raw, err := e.manager.Store.Read(ctx, txn, storage.RootPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read data: %w", err)
	}
	data, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("read data: want an object, got %T", raw)
	}
	cat, err := readCatalog(data)
	if err != nil {
		return nil, nil, err
	}
	snap, err := snapshot(ctx, data)
	if err != nil {
		return nil, nil, err
	}
	pq, err := e.prepareQuery(ctx, compiler, snap)
	if err != nil {
		return nil, nil, err
	}
	a := &active{pq: pq, catalog: cat, revision: rev, activatedAt: time.Now().UTC()}
	if e.cfg.NoOptimize {
		return a, nil, nil
	}
	return a, &activation{modules: modules, data: data, snap: snap}, nil
}

// prepareQuery prepares the entry point on compiler's modules and the
// activation's data snapshot.
func (e *Engine) prepareQuery(ctx context.Context, compiler *ast.Compiler, snap storage.Store) (rego.PreparedEvalQuery, error) {
	pq, err := rego.New(
		rego.Query(e.cfg.Entrypoint),
		rego.Compiler(compiler),
		rego.Store(snap),
	).PrepareForEval(ctx)
	if err != nil {
		return pq, fmt.Errorf("prepare %s: %w", e.cfg.Entrypoint, err)
	}
	return pq, nil
}

// sourceModules parses each activated module again from the text OPA
// stored, with its annotations: OPA drops them (from a persisted bundle
// whatever the parser options), and the type check needs them. The
// optimizer starts from these too, not from the compiler's rewritten ASTs.
func (e *Engine) sourceModules(ctx context.Context, txn storage.Transaction, compiler *ast.Compiler) (map[string]*ast.Module, error) {
	opts := e.manager.ParserOptions()
	opts.ProcessAnnotation = true
	modules := make(map[string]*ast.Module, len(compiler.Modules))
	for id, compiled := range compiler.Modules {
		raw, err := e.manager.Store.GetPolicy(ctx, txn, id)
		if err != nil {
			return nil, fmt.Errorf("read module %s: %w", id, err)
		}
		file := id
		if loc := compiled.Package.Location; loc != nil && loc.File != "" {
			file = loc.File
		}
		if modules[id], err = ast.ParseModuleWithOpts(file, string(raw), opts); err != nil {
			return nil, fmt.Errorf("parse module %s: %w", file, err)
		}
	}
	return modules, nil
}

// typeCheck type-checks the activated modules (sourceModules) against the
// input schema with the compiler Check uses, so a policy that reads a field
// the input does not have (input.subjct.id) is refused like one that does
// not compile. A module's own schema annotation wins over the input schema.
func (e *Engine) typeCheck(modules map[string]*ast.Module) error {
	if e.schemas == nil {
		return nil
	}
	start := time.Now()
	c := checker(e.schemas, false)
	c.Compile(modules)
	e.log.Debug("bundle type-checked against the input schema", "modules", len(modules), "duration", time.Since(start))
	if c.Failed() {
		ce := &CompileError{Bundle: e.cfg.Name, Errors: c.Errors}
		return fmt.Errorf("input schema type check: %d error(s):\n  %s", len(c.Errors), strings.Join(ce.Lines(), "\n  "))
	}
	return nil
}

// snapshot copies the bundle's data into a store of its own, so the
// prepared query keeps reading the data it was activated with even if a
// later bundle that gavel refuses has already been written to OPA's store,
// and evaluations never wait on an activation's write lock.
func snapshot(ctx context.Context, data map[string]any) (storage.Store, error) {
	s := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(true), inmem.OptReturnASTValuesOnRead(true))
	err := storage.Txn(ctx, s, storage.WriteParams, func(txn storage.Transaction) error {
		return s.Write(ctx, txn, storage.AddOp, storage.RootPath, data)
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot data: %w", err)
	}
	return s, nil
}

func (e *Engine) refuse(rev string, err error) {
	e.mu.Lock()
	e.refused = problem{msg: err.Error(), at: time.Now().UTC()}
	e.mu.Unlock()
	serving := ""
	if a := e.active.Load(); a != nil {
		serving = a.revision
	}
	e.log.Error("bundle refused", "bundle_revision", rev, "serving_revision", serving, "error", err)
	e.loaded(LoadResult{Revision: rev, Err: err})
}

// onStatus receives OPA's bundle status after every load attempt. OPA logs
// its own failures; this only records them for Status.
func (e *Engine) onStatus(s bundleplugin.Status) {
	msg := statusMessage(s)
	e.mu.Lock()
	if msg == "" {
		e.loadFail = problem{}
	} else {
		e.loadFail = problem{msg: msg, at: time.Now().UTC()}
	}
	e.mu.Unlock()
	if msg != "" {
		e.loaded(LoadResult{Err: errors.New(msg)})
	}
}

func statusMessage(s bundleplugin.Status) string {
	if s.Code == "" && s.Message == "" && len(s.Errors) == 0 {
		return ""
	}
	msg := s.Message
	if len(s.Errors) > 0 {
		msg = errors.Join(s.Errors...).Error()
	}
	msg = explain(errors.New(msg), nil).Error()
	if s.HTTPCode != "" {
		msg = fmt.Sprintf("%s (HTTP %s)", msg, s.HTTPCode)
	}
	return fmt.Sprintf("load bundle %q: %s", s.Name, msg)
}

var _ decision.Catalog = (*Engine)(nil)

// Reason returns the active bundle's catalog entry for a reason code.
func (e *Engine) Reason(code string) (decision.Reason, bool) {
	a := e.active.Load()
	if a == nil {
		return decision.Reason{}, false
	}
	r, ok := a.catalog.reasons[code]
	return r, ok
}

// Capabilities returns the capabilities the active bundle's catalog lists.
func (e *Engine) Capabilities() []string {
	a := e.active.Load()
	if a == nil {
		return nil
	}
	return a.catalog.capabilities
}
