package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/internal/config"
	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/policies"
)

// runReplay re-evaluates stored decisions under a candidate bundle and
// reports what would have changed (`gavel replay --bundle candidate.tar.gz`).
// It reads the ledger that `gavel serve` with the same configuration writes.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: gavel replay --bundle CANDIDATE [--since T] [--until T] [--checkpoint C] [--json] [--html FILE]

Re-evaluates stored decisions under a candidate bundle and reports what would
change. By default it reads the ledger of the configuration gavel serve uses
(--config, --data-dir, --ledger-driver, --ledger-dsn); with --remote the
running gavel replays its own ledger (--addr, --token, --ca, --cert, --key).

`)
		fs.PrintDefaults()
	}
	// Only the settings that name the ledger: replay serves nothing and
	// evaluates the candidate, not the configured policy.
	for _, name := range localFlags {
		fs.AddFlag(serveFlags().Lookup(name))
	}
	var conn clientFlags
	conn.registerConnection(fs)
	var (
		bundle     = fs.String("bundle", "", "the candidate bundle: a folder, a .tar.gz, file://… or an http(s) bundle URL (required; a .tar.gz with --remote)")
		entrypoint = fs.String("entrypoint", "", "the candidate's entry point (default: policy.entrypoint)")
		since      = fs.String("since", "", "replay decisions made at or after this time (RFC 3339, or a duration ago such as 72h)")
		until      = fs.String("until", "", "replay decisions made before this time (RFC 3339, or a duration ago)")
		checkpoint = fs.String("checkpoint", "", "replay only this checkpoint's decisions")
		asJSON     = fs.Bool("json", false, "print the report as JSON")
		htmlPath   = fs.String("html", "", "also write a self-contained HTML report to this file")
		maxList    = fs.Int("max-escalations", 50, "list at most this many decisions that would become more severe, and as many that would become less severe")
		workers    = fs.Int("workers", 0, "parallel evaluations (default: the number of CPUs)")
		remote     = fs.Bool("remote", false, "replay inside the running gavel (ReplayService) instead of reading the ledger here")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if *bundle == "" || fs.NArg() > 0 {
		return usageError("usage: gavel replay --bundle CANDIDATE [--since T] [--until T] [--checkpoint C] [--json] [--html FILE]")
	}
	// A flag of the other mode would be silently ignored: refuse it.
	wrong, mode := localOnly, "without --remote (the running gavel uses its own configuration)"
	if !*remote {
		wrong, mode = remoteOnly, "only with --remote"
	}
	for _, name := range wrong {
		if fs.Changed(name) {
			return usageError("--%s applies %s", name, mode)
		}
	}
	now := time.Now()
	var filter ledger.Filter
	var err error
	if filter.Since, err = parseWhen(*since, now); err != nil {
		return usageError("--since: %v", err)
	}
	if filter.Until, err = parseWhen(*until, now); err != nil {
		return usageError("--until: %v", err)
	}
	if !filter.Since.IsZero() && !filter.Until.IsZero() && !filter.Until.After(filter.Since) {
		return usageError("--until must be after --since")
	}
	filter.Checkpoint = *checkpoint
	if *remote {
		rep, raw, err := replayRemote(ctx, &conn, *bundle, filter, stderr)
		if err != nil {
			return err
		}
		if *htmlPath != "" {
			if err := writeHTMLReport(*htmlPath, rep); err != nil {
				return err
			}
		}
		if *asJSON {
			return printJSON(stdout, raw)
		}
		return rep.WriteText(stdout)
	}
	cfg, err := config.Load(fs, os.Environ())
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	log := newLogger(stderr, config.LogConfig{Level: "warn", Format: cfg.Log.Format})

	led, err := openLedgerForReplay(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer led.Close()

	ep := cmpOr(*entrypoint, cfg.Policy.Entrypoint)
	// The candidate is held to the input schema, as it would be when it
	// activates in gavel serve.
	candidate, err := bundles.New(ctx, bundles.Config{Name: "candidate", Role: "shadow", Source: *bundle, Entrypoint: ep, InputSchema: policies.InputSchema()}, log)
	if err != nil {
		return &exitError{code: exitPolicy, err: err}
	}
	defer candidate.Stop(context.Background())
	wctx, cancel := context.WithTimeout(ctx, cfg.Policy.ReadyWait)
	err = candidate.WaitReady(wctx)
	cancel()
	if err != nil {
		return &exitError{code: exitPolicy, err: fmt.Errorf("candidate %s: %w", *bundle, err)}
	}

	progress := newProgress(stderr)
	defer replay.TuneGC()()
	rep, err := replay.Run(ctx, led, candidate, replay.Options{
		Filter: filter, Workers: *workers, MaxEscalations: *maxList, Progress: progress.update,
	})
	progress.finish()
	if err != nil {
		return err
	}
	rep.Candidate = *bundle
	if !filter.Since.IsZero() {
		rep.Since = filter.Since.UTC().Format(time.RFC3339)
	}
	if !filter.Until.IsZero() {
		rep.Until = filter.Until.UTC().Format(time.RFC3339)
	}
	rep.Checkpoint = filter.Checkpoint

	if *htmlPath != "" {
		if err := writeHTMLReport(*htmlPath, rep); err != nil {
			return err
		}
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}

// localFlags are serve's settings that a local replay reads (the ledger);
// localOnly are the flags that make sense only when replaying here, and
// remoteOnly only with --remote.
var (
	localFlags = []string{"config", "data-dir", "ledger-driver", "ledger-dsn"}
	localOnly  = append([]string{"entrypoint", "workers", "max-escalations"}, localFlags...)
	remoteOnly = []string{"addr", "token", "ca", "cert", "key"}
)

// serveFlags is the flag set serve reads its configuration from.
func serveFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.Flags(fs)
	return fs
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// openLedgerForReplay opens the configured ledger. A SQLite file that does
// not exist is an error rather than a new, empty ledger.
func openLedgerForReplay(ctx context.Context, cfg *config.Config, log *slog.Logger) (*ledger.Ledger, error) {
	lc := ledger.DefaultConfig()
	lc.Driver = cfg.Ledger.Driver
	lc.Path = cfg.LedgerPath()
	lc.DSN = string(cfg.Ledger.DSN)
	lc.MaxConns = cfg.Ledger.MaxConns
	if lc.Driver == ledger.SQLite {
		if _, err := os.Stat(lc.Path); err != nil {
			return nil, fmt.Errorf("no ledger to replay: %w", err)
		}
	}
	l, err := ledger.Open(ctx, lc, log)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func writeHTMLReport(path string, rep *replay.Report) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".replay-*.html")
	if err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := rep.WriteHTML(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	return nil
}

// parseWhen reads an RFC 3339 time, a date, or a duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration ago must be positive", s)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time, a date (2006-01-02) nor a duration such as 72h", s)
}

// progress draws a bar on stderr when it is a terminal, and otherwise
// prints one line at the end.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int64) {
	if !p.tty {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done != total {
		return
	}
	p.last = now
	const width = 32
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	n := int(frac * width)
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\rreplay [%s%s] %d/%d %3.0f%% %.0f/s ", strings.Repeat("█", n), strings.Repeat("·", width-n),
		done, total, 100*frac, rate)
}

// finish clears the bar; the report says how long the replay took.
func (p *progress) finish() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
