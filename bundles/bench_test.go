package bundles

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavel/gavel/policies"
)

func BenchmarkEvaluate(b *testing.B) {
	cases := []struct {
		name  string
		input map[string]any
	}{
		{"allow", signupInput(nil, nil)},
		{"challenge", signupInput(disposable(), nil)},
		{"restrict", signupInput(disposable(), map[string]any{"payout_name": "Someone Else"})},
	}
	for _, bundle := range []struct {
		name, dir string
		optimize  bool
	}{{"fixture", fixtureDir, false}, {"policies/as-written", policiesDir, false}, {"policies/optimised", policiesDir, true}} {
		b.Run(bundle.name, func(b *testing.B) {
			if bundle.dir == policiesDir {
				requirePolicies(b)
			}
			e := startEngine(b, Config{Source: bundle.dir, NoOptimize: !bundle.optimize})
			if bundle.optimize {
				for !currentStatus(e).Optimized {
					time.Sleep(10 * time.Millisecond)
				}
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					ctx := context.Background()
					if _, err := e.Evaluate(ctx, c.input); err != nil {
						b.Fatalf("Evaluate() error = %v", err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if _, err := e.Evaluate(ctx, c.input); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkEvaluate's policies/optimised waits for the optimiser, which
// TestOptimizedSameDecisions fails on if it never finishes.

// BenchmarkActivate reloads gavel's policy bundle from its folder: OPA reads,
// compiles and activates it, and gavel prepares the entry point, without and
// with the input schema type check. The difference is what the check adds
// to an activation; typecheck times the check alone.
func BenchmarkActivate(b *testing.B) {
	requirePolicies(b)
	for _, c := range []struct {
		name   string
		schema []byte
	}{{"no-schema", nil}, {"schema", policies.InputSchema()}} {
		b.Run(c.name, func(b *testing.B) {
			var activations atomic.Int64
			e := startEngine(b, Config{
				Source:      policiesDir,
				InputSchema: c.schema,
				Polling:     Polling{Min: time.Hour, Max: time.Hour},
				OnLoad: func(r LoadResult) {
					if r.Activated {
						activations.Add(1)
					}
				},
			})
			ctx := context.Background()
			before, n := activations.Load(), int64(0)
			for b.Loop() {
				if err := e.Reload(ctx); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if got := activations.Load() - before; got != n {
				b.Fatalf("%d reloads activated %d bundles, want one each; Status() = %+v", n, got, currentStatus(e))
			}
		})
	}
	b.Run("typecheck", func(b *testing.B) {
		e := startEngine(b, Config{Source: policiesDir, InputSchema: policies.InputSchema()})
		ctx := context.Background()
		compiler := e.manager.GetCompiler()
		txn, err := e.manager.Store.NewTransaction(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer e.manager.Store.Abort(ctx, txn)
		for b.Loop() {
			modules, err := e.sourceModules(ctx, txn, compiler)
			if err != nil {
				b.Fatal(err)
			}
			if err := e.typeCheck(modules); err != nil {
				b.Fatal(err)
			}
		}
	})
}
