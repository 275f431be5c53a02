// Package conformance runs a detector binary outside gavel and checks it
// against the detector protocol (plugins/PROTOCOL.md), so that a detector
// team, in any language, can test a binary without a running gavel
// (`gavel detectors check <binary>`).
//
// It checks the protocol by hand where gavel's own client would only fail
// (the handshake line, the certificate, mutual TLS, the health service,
// Describe, Shutdown), then runs the binary under gavel's own detector host
// (plugins/host: go-plugin, AutoMTLS, SHA-256 pin, minimal environment)
// and asks it to Detect sample requests at each checkpoint it wants, as a
// decision would, with the host's own judgement of each answer; last it
// kills the process and waits for the host to restart it.
package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Status is a check's outcome.
type Status int

const (
	// Pass: the detector does what the protocol asks.
	Pass Status = iota
	// Warn: allowed, but gavel will work around it or an operator will
	// wonder (an unimplemented Shutdown, no latency budget).
	Warn
	// Fail: gavel would refuse the detector or mishandle it.
	Fail
	// Skip: not run, because a check it depends on failed.
	Skip
)

func (s Status) String() string {
	return [...]string{"PASS", "WARN", "FAIL", "SKIP"}[s]
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) { return []byte(strings.ToLower(s.String())), nil }

// Check is one check's result.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail says what was seen, and on a failure what to fix.
	Detail string `json:"detail"`
}

// Report is every check, in the order run.
type Report struct {
	Binary string  `json:"binary"`
	Checks []Check `json:"checks"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	return slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Status == Fail })
}

// Count returns how many checks ended with s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Find returns the check named name, or false.
func (r *Report) Find(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// WriteText writes one line per check and a summary.
func (r *Report) WriteText(w io.Writer) error {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	for _, c := range r.Checks {
		detail := strings.ReplaceAll(c.Detail, "\n", "\n"+strings.Repeat(" ", width+8))
		if _, err := fmt.Fprintf(w, "%s  %-*s  %s\n", c.Status, width, c.Name, detail); err != nil {
			return err
		}
	}
	verdict := "conforms"
	if r.Failed() {
		verdict = "does not conform"
	}
	_, err := fmt.Fprintf(w, "%s %s: %d checks, %d passed, %d failed, %d warnings, %d skipped\n",
		r.Binary, verdict, len(r.Checks), r.Count(Pass), r.Count(Fail), r.Count(Warn), r.Count(Skip))
	return err
}

// Options tune a run. Path is required.
type Options struct {
	// Path is the detector executable.
	Path string
	// Env is the detector's configured environment, passed as
	// GAVEL_DETECTOR_<KEY> (key upper-cased), as gavel passes a detector's
	// `env` settings.
	Env map[string]string
	// DataDir is the detector's data folder (GAVEL_DETECTOR_DATA_DIR),
	// kept across the restart. Default: a temporary folder, removed after.
	DataDir string
	// Checkpoints are the checkpoints gavel is configured with: a detector
	// may only ask for these, and sample requests are sent at each it wants.
	Checkpoints []string
	// StartTimeout bounds the handshake and Describe. Default 10s.
	StartTimeout time.Duration
	// CallTimeout bounds each call the check makes (Detect, health,
	// Shutdown). It is the check's patience, not the detector's deadline
	// in gavel (detectors.plugins.<name>.timeout): an answer later than the
	// detector's declared latency budget is a warning. Default 2s.
	CallTimeout time.Duration
	// Log receives the detector's stderr and the host's log. Default:
	// discarded.
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.StartTimeout <= 0 {
		o.StartTimeout = 10 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Run checks the detector at opts.Path. It never stops at the first
// failure: checks that cannot run without an earlier one are skipped, and
// the others run. It returns an error only when it cannot run at all.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	if opts.Path == "" {
		return nil, fmt.Errorf("conformance: no detector binary given")
	}
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	r := &Report{Binary: opts.Path}
	opts.Path = path
	if opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "gavel-check-")
		if err != nil {
			return nil, fmt.Errorf("conformance: data folder: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.DataDir = dir
	}
	c := &checker{opts: opts, r: r, tail: &stderrTail{}}
	c.hostLog = slog.New(&tailHandler{next: opts.Log.Handler(), binary: filepath.Base(path), tail: c.tail})
	if !c.binary() {
		return r, nil
	}
	c.byHand(ctx)
	desc := c.protocol(ctx)
	c.underHost(ctx, desc)
	return r, nil
}

// checker accumulates results.
type checker struct {
	opts    Options
	r       *Report
	tail    *stderrTail  // the detector's stderr
	hostLog *slog.Logger // opts.Log, keeping the detector's stderr in tail
}

func (c *checker) add(name string, s Status, format string, args ...any) {
	c.r.Checks = append(c.r.Checks, Check{Name: name, Status: s, Detail: fmt.Sprintf(format, args...)})
}

func (c *checker) skip(because string, names ...string) {
	for _, n := range names {
		c.add(n, Skip, "not run: %s", because)
	}
}
