package bundles

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestOptions selects and reports Rego tests.
type TestOptions struct {
	// Run keeps only the tests whose name matches this regular expression.
	Run string
	// Timeout bounds each test. Default 30s: longer than `opa test`'s 5s,
	// for CI machines under load.
	Timeout time.Duration
	// Trace records evaluation traces for failed tests.
	Trace bool
}

// TestReport is the outcome of a policy folder's Rego tests.
type TestReport struct {
	Results  []*tester.Result
	Coverage cover.Report
}

// Failed counts the tests that failed or errored.
func (r *TestReport) Failed() int {
	n := 0
	for _, tr := range r.Results {
		if !tr.Pass() && !tr.Skip {
			n++
		}
	}
	return n
}

// RunTests runs the Rego tests of a policy folder (loaded as a bundle, tests
// included, testdata/ left out) with OPA's tester, measuring coverage with
// OPA's cover package over every module, as `opa test --bundle --coverage`
// does. A folder that does not parse or compile is a *CompileError.
func RunTests(ctx context.Context, dir string, o TestOptions) (*TestReport, error) {
	if o.Run != "" {
		if _, err := regexp.Compile(o.Run); err != nil {
			return nil, fmt.Errorf("--run %q: %w", o.Run, err)
		}
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	b, err := LoadSource(dir, true)
	if err != nil {
		return nil, err
	}
	modules := maps.Clone(b.ParsedModules(dir))
	store := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)

	cov := cover.New()
	compiler := ast.NewCompiler().
		WithCapabilities(ast.CapabilitiesForThisVersion()).
		WithPathConflictsCheck(storage.NonEmpty(ctx, store, txn)).
		WithEnablePrintStatements(true).
		WithUseTypeCheckAnnotations(true)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetBundles(map[string]*bundle.Bundle{dir: b}).
		CapturePrintOutput(true).
		EnableTracing(o.Trace).
		SetCoverageQueryTracer(cov).
		SetTimeout(o.Timeout).
		Filter(o.Run)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return nil, compileError(dir, err)
	}
	r := &TestReport{}
	for tr := range ch {
		r.Results = append(r.Results, tr)
	}
	r.Coverage = cov.Report(modules)
	return r, nil
}
