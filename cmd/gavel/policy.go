package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/spf13/pflag"

	"github.com/gavel/gavel/bundles"
)

const policyUsage = `usage: gavel policy <test|check> [dir] [flags]

  test  [dir]   run the Rego tests with coverage (exit 4 on failures or low coverage, 3 on compile errors)
  check [dir]   strict compile, type-checked against the input schema (exit 3 on errors)

dir defaults to policies. Neither needs a running gavel or its configuration,
so a policy repository's CI can run them with the gavel binary alone.`

// runPolicy tests and checks a Rego policy folder with OPA's tester, cover
// and compiler packages.
func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, policyUsage)
		if len(args) == 0 {
			return &exitError{code: exitUsage, err: errQuiet}
		}
		return nil
	}
	switch args[0] {
	case "test":
		return runPolicyTest(ctx, args[1:], stdout, stderr)
	case "check":
		return runPolicyCheck(args[1:], stdout, stderr)
	}
	return usageError("unknown policy command %q (want test or check)", args[0])
}

// defaultSchema is the --schema flag, or <dir>/input.schema.json when the
// flag is empty and that file exists.
func defaultSchema(dir, flag string) string {
	if flag != "" {
		return flag
	}
	p := filepath.Join(dir, "input.schema.json")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

func runPolicyCheck(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("policy check", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	schema := fs.StringP("schema", "s", "", "input JSON schema (default: <dir>/input.schema.json when present)")
	strict := fs.Bool("strict", true, "strict mode: unused variables and imports, deprecated built-ins are errors")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	dir := "policies"
	if len(pos) == 1 {
		dir = pos[0]
	}
	sch := defaultSchema(dir, *schema)
	b, err := bundles.LoadSource(dir, true)
	if err == nil {
		_, err = bundles.Check(dir, b, sch, *strict)
	}
	if err != nil {
		return policyError(err)
	}
	with := "without an input schema"
	if sch != "" {
		with = "type-checked against " + sch
	}
	fmt.Fprintf(stdout, "%s: %d modules compile (strict: %v), %s\n", dir, len(b.Modules), *strict, with)
	return nil
}

func runPolicyTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("policy test", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	threshold := fs.Float64("threshold", 90, "minimum coverage in percent; below it the tests fail (0 disables)")
	run := fs.String("run", "", "run only the tests whose name matches this regular expression")
	verbose := fs.BoolP("verbose", "v", false, "print every test, failure traces and the lines not covered")
	coverage := fs.String("coverage-json", "", "also write OPA's JSON coverage report to this file")
	timeout := fs.Duration("timeout", 30*time.Second, "time limit for each test")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if *threshold < 0 || *threshold > 100 {
		return usageError("--threshold %v: want 0 to 100", *threshold)
	}
	dir := "policies"
	if len(pos) == 1 {
		dir = pos[0]
	}
	r, err := bundles.RunTests(ctx, dir, bundles.TestOptions{Run: *run, Trace: *verbose, Timeout: *timeout})
	if err != nil {
		if _, ok := err.(*bundles.CompileError); ok {
			return policyError(err)
		}
		return usageError("%v", err)
	}

	for _, tr := range r.Results {
		switch {
		case tr.Error != nil:
			fmt.Fprintf(stdout, "ERROR %s.%s (%s): %v\n", tr.Package, tr.Name, location(tr.Location), tr.Error)
		case tr.Fail:
			fmt.Fprintf(stdout, "FAIL  %s.%s (%s)\n", tr.Package, tr.Name, location(tr.Location))
		case *verbose && tr.Skip:
			fmt.Fprintf(stdout, "SKIP  %s.%s\n", tr.Package, tr.Name)
		case *verbose:
			fmt.Fprintf(stdout, "PASS  %s.%s (%v)\n", tr.Package, tr.Name, tr.Duration)
		}
		if len(tr.Output) > 0 && (tr.Fail || tr.Error != nil || *verbose) {
			fmt.Fprintf(stdout, "      %s\n", strings.ReplaceAll(strings.TrimSpace(string(tr.Output)), "\n", "\n      "))
		}
		if *verbose && tr.Fail && len(tr.Trace) > 0 {
			topdown.PrettyTraceWithLocation(stdout, tr.Trace)
		}
	}
	failed := r.Failed()
	fmt.Fprintf(stdout, "%s: %d passed, %d failed of %d tests\n", dir, len(r.Results)-failed, failed, len(r.Results))

	cov := r.Coverage
	if *verbose {
		files := make([]string, 0, len(cov.Files))
		for f := range cov.Files {
			files = append(files, f)
		}
		slices.Sort(files)
		for _, f := range files {
			fr := cov.Files[f]
			fmt.Fprintf(stdout, "  %6.2f%%  %s", fr.Coverage, f)
			if len(fr.NotCovered) > 0 {
				var lines []string
				for _, rg := range fr.NotCovered {
					if rg.Start.Row == rg.End.Row {
						lines = append(lines, fmt.Sprint(rg.Start.Row))
					} else {
						lines = append(lines, fmt.Sprintf("%d-%d", rg.Start.Row, rg.End.Row))
					}
				}
				fmt.Fprintf(stdout, "  (not covered: %s)", strings.Join(lines, ", "))
			}
			fmt.Fprintln(stdout)
		}
	}
	fmt.Fprintf(stdout, "coverage: %.2f%% (threshold %.2f%%)\n", cov.Coverage, *threshold)
	if *coverage != "" {
		data, err := json.MarshalIndent(cov, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*coverage, data, 0o644); err != nil {
			return err
		}
	}

	switch {
	case len(r.Results) == 0:
		return &exitError{code: exitPolicyTests, err: fmt.Errorf("%s: no tests ran", dir)}
	case failed > 0:
		return &exitError{code: exitPolicyTests, err: fmt.Errorf("%s: %d of %d tests failed", dir, failed, len(r.Results))}
	case cov.Coverage < *threshold:
		return &exitError{code: exitPolicyTests, err: fmt.Errorf("%s: coverage %.2f%% is below the threshold %.2f%%", dir, cov.Coverage, *threshold)}
	}
	return nil
}

func location(l *ast.Location) string {
	if l == nil {
		return "?"
	}
	return l.String()
}
