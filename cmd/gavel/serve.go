package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/hashicorp/go-plugin"
	"github.com/spf13/pflag"

	"github.com/gavel/gavel/internal/config"
	"github.com/gavel/gavel/internal/server"
	"github.com/gavel/gavel/internal/tracing"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	config.Flags(fs)
	printConfig := fs.Bool("print-config", false, "print the effective configuration (secrets redacted) and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	cfg, err := config.Load(fs, os.Environ())
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if *printConfig {
		out, err := cfg.Print()
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, out)
		return nil
	}
	log := newLogger(stderr, cfg.Log)
	if cfg.File != "" {
		log.Info("configuration read", "file", cfg.File)
	} else {
		log.Info("configuration: built-in defaults and GAVEL_ environment (no --config, no ./gavel.yaml)")
	}
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		code := exitFailure
		if errors.Is(err, server.ErrPolicy) {
			code = exitPolicy
		}
		return &exitError{code: code, err: err}
	}
	defer plugin.CleanupClients() // no detector process outlives gavel
	return s.Run(ctx)
}

func newLogger(w io.Writer, cfg config.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	// Lines logged with a request's context carry its trace_id and span_id.
	if cfg.Format == "json" {
		return slog.New(tracing.LogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(tracing.LogHandler(slog.NewTextHandler(w, opts)))
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "gavel", server.Version)
	return nil
}
