package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gavel/gavel/internal/config"
	"github.com/gavel/gavel/plugins/conformance"
)

const detectorsUsage = `usage: gavel detectors [list|ping|check] [flags]

  gavel detectors list             each detector of a running gavel: version, health, restarts, breaker, latency
  gavel detectors ping             the same, after gavel health-checks every detector now
  gavel detectors check <binary>   check a detector binary against the detector protocol, without a running gavel

Run 'gavel detectors check --help' for check's flags; list and ping take the
client flags (--addr, --token, --ca, --cert, --key, --json, ...).
`

// runDetectorsCheck runs a detector binary outside gavel and checks it
// against the detector protocol (`gavel detectors check <binary>`): one line
// per check, exit 1 when any failed.
func runDetectorsCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("detectors check", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: gavel detectors check <binary> [--env KEY=VALUE]... [--json]

Runs a detector binary as gavel would and checks it against the detector
protocol (plugins/PROTOCOL.md): run by hand without the cookie, the handshake
line, its certificate, mutual TLS, the health service, Describe, Shutdown;
then under gavel's own detector host: Detect with sample requests at each
checkpoint it wants, the validity of every signal, health, and a restart
after the process is killed. Prints one line per check; exits 1 when any
check failed.

`)
		fs.PrintDefaults()
	}
	var (
		env          = fs.StringArray("env", nil, "KEY=VALUE passed as GAVEL_DETECTOR_<KEY>, as the detector's env settings are (repeatable)")
		dataDir      = fs.String("data-dir", "", "the detector's data folder (default: a temporary folder, removed after)")
		checkpoints  = fs.StringSlice("checkpoints", defaultCheckpoints(), "gavel's checkpoints: samples are sent at each the detector wants")
		timeout      = fs.Duration("timeout", 2*time.Second, "how long to wait for each call (Detect, health, Shutdown); answers over the declared latency budget are warnings")
		startTimeout = fs.Duration("start-timeout", 10*time.Second, "how long to wait for the handshake and Describe")
		verbose      = fs.BoolP("verbose", "v", false, "show the detector's stderr and the host's log")
		asJSON       = fs.Bool("json", false, "print the report as JSON")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 1 {
		return usageError("usage: gavel detectors check <binary> [--env KEY=VALUE]... [--json]")
	}
	opts := conformance.Options{Path: fs.Arg(0), DataDir: *dataDir, Checkpoints: *checkpoints,
		CallTimeout: *timeout, StartTimeout: *startTimeout, Env: map[string]string{}}
	for _, kv := range *env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageError("--env %q: want KEY=VALUE", kv)
		}
		opts.Env[strings.ToLower(k)] = v
	}
	if *verbose {
		opts.Log = newLogger(stderr, config.LogConfig{Level: "debug", Format: "text"})
	} else {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	rep, err := conformance.Run(ctx, opts)
	if err != nil {
		return usageError("%v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if rep.Failed() {
		return &exitError{code: exitFailure, err: errQuiet}
	}
	return nil
}

// defaultCheckpoints are gavel's configured checkpoints by default.
func defaultCheckpoints() []string {
	if cps, ok := config.Defaults()["decision.checkpoints"].([]string); ok {
		return cps
	}
	return nil
}
