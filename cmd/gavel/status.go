package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

func fetchStatus(ctx context.Context, name string, args []string, stderr io.Writer) (*adminv1.GetStatusResponse, *clientFlags, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, nil, &exitError{code: exitOK, err: errQuiet}
		}
		return nil, nil, usageError("%v", err)
	}
	if fs.NArg() > 1 || (fs.NArg() == 1 && name == "detectors" && fs.Arg(0) != "list" && fs.Arg(0) != "ping") {
		return nil, nil, usageError("unexpected arguments %v", fs.Args())
	}
	client, err := cf.adminClient()
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	resp, err := client.GetStatus(cctx, connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		return nil, nil, rpcError(err)
	}
	return resp.Msg, &cf, nil
}

// runDetectors lists each detector's version, health, restarts and latency
// (`gavel detectors [list|ping]`; the server pings detectors continually, so
// both show the latest health).
func runDetectors(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	st, cf, err := fetchStatus(ctx, "detectors", args, stderr)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(stdout, st)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tSTATE\tRESTARTS\tLAST LATENCY\tCHECKPOINTS\tLAST ERROR")
	for _, d := range st.GetDetectors() {
		cps := strings.Join(d.GetCheckpoints(), ",")
		if cps == "" {
			cps = "all"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.GetName(), d.GetVersion(), d.GetState(), d.GetRestarts(),
			d.GetLastLatency().AsDuration().Round(time.Microsecond), cps, d.GetLastError())
	}
	return tw.Flush()
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	st, cf, err := fetchStatus(ctx, "status", args, stderr)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(stdout, st)
	}
	fmt.Fprintf(stdout, "gavel %s, up since %s, ledger %s\n", st.GetVersion(), st.GetStartedAt().AsTime().Format(time.RFC3339), st.GetLedgerBackend())
	for _, b := range st.GetBundles() {
		fmt.Fprintf(stdout, "bundle %s (%s): revision %s, ready %v", b.GetName(), b.GetRole(), b.GetRevision(), b.GetReady())
		if b.GetActivatedAt() != nil {
			fmt.Fprintf(stdout, ", activated %s", b.GetActivatedAt().AsTime().Format(time.RFC3339))
		}
		if b.GetLastError() != "" {
			fmt.Fprintf(stdout, "\n  last error: %s", b.GetLastError())
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "checkpoints: %s\n", strings.Join(st.GetCheckpoints(), ", "))
	for _, d := range st.GetDetectors() {
		fmt.Fprintf(stdout, "detector %s %s: %s, %d restarts\n", d.GetName(), d.GetVersion(), d.GetState(), d.GetRestarts())
	}
	return nil
}

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("get", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	reviewer := fs.Bool("reviewer", false, "the reviewer view: explanations, grounds, evidence, signals and input")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 1 {
		return usageError("usage: gavel get [--reviewer] DECISION_ID")
	}
	client, err := cf.decisionClient()
	if err != nil {
		return err
	}
	view := decisionv1.View_VIEW_USER
	if *reviewer {
		view = decisionv1.View_VIEW_REVIEWER
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	resp, err := client.GetDecision(cctx, connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: fs.Arg(0), View: view}))
	if err != nil {
		return rpcError(err)
	}
	if cf.json {
		return printJSON(stdout, resp.Msg)
	}
	printDecision(stdout, resp.Msg.GetDecision())
	if *reviewer {
		fmt.Fprintln(stdout, "signals")
		for _, s := range resp.Msg.GetSignals() {
			fmt.Fprintf(stdout, "  %s = %.3f %s\n", s.GetName(), s.GetScore(), s.GetValue())
		}
		fmt.Fprintf(stdout, "latency    %s\n", resp.Msg.GetLatency().AsDuration())
	}
	return nil
}
