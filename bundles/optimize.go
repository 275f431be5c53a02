package bundles

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/compile"
	"github.com/open-policy-agent/opa/v1/rego"
)

// optimize builds the entry point as `opa build -O=1 -e <entry point>`
// would, with OPA's own optimizer (package compile), and prepares it on the
// activation's data snapshot.
//
// The optimizer partially evaluates the entry point with input unknown and
// everything under data known: rules that depend only on the bundle's data
// (the catalog, the checkpoint tables) are worked out once here instead of
// on every decision, and small rules are inlined into the ones that use
// them. The result is the same decision for every input; the bundle's data
// cannot change under it, since an activation serves one snapshot of it
// (see snapshot). Level 1 is what `opa build -O=1` does; level 2 inlines
// deeper and fails on policies like gavel's own.
//
// Policy tests, the type check, coverage and `gavel bundle test` all run on
// the modules as written; only evaluation uses this. TestOptimizedSameDecisions
// holds the two to the same result over a corpus of generated inputs.
func (e *Engine) optimize(ctx context.Context, src *activation) (rego.PreparedEvalQuery, error) {
	var none rego.PreparedEvalQuery
	b := &bundle.Bundle{Data: src.data, Manifest: bundle.Manifest{Roots: &[]string{""}}}
	b.SetRegoVersion(ast.RegoV1)
	for id, m := range src.modules {
		b.Modules = append(b.Modules, bundle.ModuleFile{URL: id, Path: id, Parsed: m})
	}
	slices.SortFunc(b.Modules, func(x, y bundle.ModuleFile) int { return strings.Compare(x.URL, y.URL) })

	c := compile.New().
		WithTarget(compile.TargetRego).
		WithRegoVersion(ast.RegoV1).
		WithOptimizationLevel(1).
		WithEntrypoints(entrypointPath(e.query)).
		WithBundle(b)
	if err := c.Build(ctx); err != nil {
		return none, fmt.Errorf("optimise %s: %w", e.cfg.Entrypoint, err)
	}
	built := c.Bundle()
	optimized := make(map[string]*ast.Module, len(built.Modules))
	for _, m := range built.Modules {
		optimized[m.URL] = m.Parsed
	}
	compiler := ast.NewCompiler().WithCapabilities(ast.CapabilitiesForThisVersion())
	if compiler.Compile(optimized); compiler.Failed() {
		return none, fmt.Errorf("compile the optimised %s: %w", e.cfg.Entrypoint, compiler.Errors)
	}
	return e.prepareQuery(ctx, compiler, src.snap)
}

// entrypointPath is data.a.b.c as the compile package names it: a/b/c.
func entrypointPath(ref ast.Ref) string {
	parts := make([]string, 0, len(ref)-1)
	for _, t := range ref[1:] {
		if s, ok := t.Value.(ast.String); ok {
			parts = append(parts, string(s))
		} else {
			parts = append(parts, t.String())
		}
	}
	return strings.Join(parts, "/")
}

// optimizeLater optimises a's entry point from src in the background, within
// Config.OptimizeTimeout, and swaps the result in if a still serves. The
// activation does not wait for it: a bundle serves as written at once, and
// optimised a moment later. An optimisation that fails or runs out of time
// (partial evaluation can take long on some policies) leaves the bundle
// serving as written, with a warning. A later activation, or Stop, cancels
// it.
func (e *Engine) optimizeLater(a *active, src *activation) {
	if src == nil {
		return
	}
	e.optMu.Lock()
	defer e.optMu.Unlock()
	if e.stopped {
		return
	}
	if e.optCancel != nil {
		e.optCancel() // that bundle no longer serves
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.OptimizeTimeout)
	e.optCancel = cancel
	e.optimizing.Add(1)
	go func() {
		defer e.optimizing.Done()
		defer cancel()
		start := time.Now()
		pq, err := e.optimize(ctx, src)
		if err != nil {
			if e.active.Load() == a && !errors.Is(ctx.Err(), context.Canceled) {
				e.log.Warn("bundle serves as written: OPA's optimizer did not build its entry point",
					"bundle_revision", a.revision, "role", e.cfg.Role, "timeout", e.cfg.OptimizeTimeout, "error", err)
			}
			return
		}
		b := *a
		b.pq, b.optimized = pq, true
		if e.active.CompareAndSwap(a, &b) {
			e.log.Info("bundle entry point optimised", "bundle_revision", a.revision, "role", e.cfg.Role, "duration", time.Since(start))
		}
	}()
}
