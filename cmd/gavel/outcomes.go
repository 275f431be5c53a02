package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/gavel/gavel/internal/config"
	"github.com/gavel/gavel/internal/outcomes"
	"github.com/gavel/gavel/ledger"
)

// runOutcomes exports labelled outcomes for the fraud model's trainer
// (`gavel outcomes export --out outcomes.jsonl`, then `make model
// OUTCOMES=outcomes.jsonl`). Like replay, it reads the ledger that `gavel
// serve` with the same configuration writes.
func runOutcomes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(stderr, "usage: gavel outcomes export [--since T] [--until T] [--out FILE.jsonl]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError("the only outcomes subcommand is export")
	}
	fs := pflag.NewFlagSet("outcomes export", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, name := range localFlags { // the ledger's settings, as replay reads them
		fs.AddFlag(serveFlags().Lookup(name))
	}
	var (
		since = fs.String("since", "", "decisions made at or after this time (RFC 3339, or a duration ago such as 2160h)")
		until = fs.String("until", "", "decisions made before this time (RFC 3339, or a duration ago)")
		out   = fs.StringP("out", "o", "", "write JSON lines to this file (default: stdout)")
	)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
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
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return usageError("--out: %v", err)
		}
		defer f.Close()
		w = f
	}
	c, err := outcomes.Export(ctx, led, filter, w)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d outcomes (fraud %d: appeals upheld; honest %d: appeals overturned); %d decisions not resolved on appeal, %d resolved but unusable (dry run, fallback, stored without input)\n",
		c.Fraud+c.Honest, c.Fraud, c.Honest, c.Unresolved, c.Skipped)
	return nil
}
