// Command gavel is the enforcement decision point: `gavel serve` runs it, and
// the other commands talk to a running gavel or work on policies.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, distinct so scripts and CI can tell failures apart.
const (
	exitOK          = 0
	exitFailure     = 1 // runtime error: server unreachable, RPC failed
	exitUsage       = 2 // bad flags or bad configuration
	exitPolicy      = 3 // the policy bundle did not load or compile
	exitPolicyTests = 4 // the policy's tests failed
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the decision service", runServe},
		{"decide", "ask a running gavel for a decision", runDecide},
		{"get", "show a stored decision (user or reviewer view)", runGet},
		{"detectors", "list the detectors of a running gavel and their health", runDetectors},
		{"status", "show a running gavel's bundles, detectors and ledger", runStatus},
		{"search", "find decisions across subjects: time, checkpoint, action, reason, appeal, shadow", runSearch},
		{"appeal", "file, list, show and resolve appeals of decisions", runAppeal},
		{"standing", "show an account's standing now: holds, suspension, strikes, appeals", runStanding},
		{"enforce", "suspend, restrict, lift or reinstate an account by hand (review role)", runEnforce},
		{"queue", "work the review queue: list, show, claim, note and resolve cases and appeals", runQueue},
		{"lists", "create, edit, import and export the runtime block and allow lists", runLists},
		{"events", "the events to the marketplace: each endpoint's deliveries, dead letters, redrive", runEvents},
		{"rules", "show each reason code's track record: fired, appealed, overturned", runRules},
		{"sor", "export statements of reasons (DSA Transparency Database JSON lines)", runSOR},
		{"replay", "re-evaluate stored decisions under a candidate bundle and report the changes", runReplay},
		{"outcomes", "export decisions resolved on appeal as labelled examples for the fraud model (make model OUTCOMES=...)", runOutcomes},
		{"bundle", "build, sign, verify and inspect policy bundles", runBundle},
		{"policy", "run a policy folder's Rego tests with coverage, or check it", runPolicy},
		{"version", "print gavel's version", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gavel <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "  completion bash|zsh|fish  print a shell completion script")
	fmt.Fprintln(w, "\nRun 'gavel <command> --help' for a command's flags.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, args, stdout, stderr)
}

// errQuiet marks an exit whose message was already printed.
var errQuiet = errors.New("")
