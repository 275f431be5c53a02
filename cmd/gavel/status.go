package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"

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
	ping := name == "detectors" && fs.Arg(0) == "ping"
	resp, err := client.GetStatus(cctx, connect.NewRequest(&adminv1.GetStatusRequest{Ping: ping}))
	if err != nil {
		return nil, nil, rpcError(err)
	}
	return resp.Msg, &cf, nil
}

// runDetectors lists each detector's version, health, restarts, circuit
// breaker and latency (`gavel detectors [list|ping]`). list shows the last
// known health (the server checks every few seconds); ping has the server
// health-check every detector now and adds each round trip.
func runDetectors(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "check" {
		return runDetectorsCheck(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, detectorsUsage)
	}
	st, cf, err := fetchStatus(ctx, "detectors", args, stderr)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(stdout, st)
	}
	ping := slices.Contains(args, "ping") // fetchStatus accepted it as the subcommand
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	head := "NAME\tVERSION\tSTATE\tRESTARTS\tBREAKER\tLAST LATENCY\t"
	if ping {
		head += "PING\t"
	}
	fmt.Fprintln(tw, head+"CHECKPOINTS\tLAST ERROR")
	for _, d := range st.GetDetectors() {
		cps := strings.Join(d.GetCheckpoints(), ",")
		if cps == "" {
			cps = "all"
		}
		breaker := d.GetBreaker()
		if n := d.GetConsecutiveFailures(); n > 0 {
			breaker += fmt.Sprintf(" (%d failed)", n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t", d.GetName(), d.GetVersion(), d.GetState(), d.GetRestarts(),
			breaker, d.GetLastLatency().AsDuration().Round(time.Microsecond))
		if ping {
			switch {
			case d.GetPingError() != "":
				fmt.Fprint(tw, "failed\t")
			case d.GetPingLatency() != nil:
				fmt.Fprintf(tw, "%s\t", d.GetPingLatency().AsDuration().Round(time.Microsecond))
			default:
				fmt.Fprint(tw, "not running\t")
			}
		}
		lastErr := d.GetLastError()
		if ping && d.GetPingError() != "" {
			lastErr = "ping: " + d.GetPingError()
		}
		fmt.Fprintf(tw, "%s\t%s\n", cps, lastErr)
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
	health := "ok"
	if !st.GetLedgerOk() {
		health = "UNREACHABLE"
	}
	fmt.Fprintf(stdout, "ledger %s, journal: %d decisions made while it was unreachable not yet in it\n", health, st.GetJournalPending())
	if st.GetLedgerError() != "" {
		fmt.Fprintf(stdout, "  ledger error: %s\n", st.GetLedgerError())
	}
	if dl := st.GetDecisionLogs(); dl != nil {
		fmt.Fprintf(stdout, "decision logs: %d logged, %d buffered, %d uploads ok, %d failed; dropped %d (queue) + %d (buffer)\n",
			dl.GetLogged(), dl.GetBuffered(), dl.GetUploadedChunks(), dl.GetFailedChunks(), dl.GetDropped(), dl.GetBufferDropped())
	}
	for _, b := range st.GetBundles() {
		fmt.Fprintf(stdout, "bundle %s (%s): revision %s, ready %v", b.GetName(), b.GetRole(), b.GetRevision(), b.GetReady())
		if b.GetActivatedAt() != nil {
			fmt.Fprintf(stdout, ", activated %s", b.GetActivatedAt().AsTime().Format(time.RFC3339))
		}
		if b.GetReady() {
			fmt.Fprintf(stdout, ", optimized %v", b.GetOptimized())
		}
		if b.GetLastError() != "" {
			fmt.Fprintf(stdout, "\n  last error: %s", b.GetLastError())
		}
		fmt.Fprintln(stdout)
	}
	printEventsStatus(stdout, st.GetEvents())
	printShadowReport(stdout, st.GetShadow())
	printListsStatus(stdout, st.GetLists())
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
			if ev := s.GetEvidence(); len(ev.GetFields()) > 0 {
				b, _ := protojson.Marshal(ev)
				fmt.Fprintf(stdout, "    evidence: %s\n", b)
			}
		}
		if in := resp.Msg.GetInput(); in != nil {
			b, _ := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(in)
			fmt.Fprintf(stdout, "input (the document the policy evaluated)\n%s\n", b)
		}
		fmt.Fprintf(stdout, "latency    %s\n", resp.Msg.GetLatency().AsDuration())
		if sh := resp.Msg.GetShadow(); sh != nil {
			fmt.Fprintf(stdout, "shadow     revision %s: ", sh.GetBundleRevision())
			if sh.GetError() != "" {
				fmt.Fprintf(stdout, "could not decide: %s\n", sh.GetError())
			} else {
				var codes []string
				for _, r := range sh.GetReasons() {
					codes = append(codes, r.GetCode())
				}
				fmt.Fprintf(stdout, "%s %s (not enforced)\n", actionName(sh.GetAction()), strings.Join(codes, ","))
			}
		}
		for _, sp := range resp.Msg.GetSuppressed() {
			fmt.Fprintf(stdout, "suppressed %s [%s] rule %s: cleared on the same evidence by appeal %s (overturned decision %s)",
				sp.GetCode(), actionName(sp.GetAction()), sp.GetRule(), sp.GetClearedByAppeal(), sp.GetOverturnedDecision())
			if sp.GetUntil() != nil {
				fmt.Fprintf(stdout, " until %s", sp.GetUntil().AsTime().Format(time.RFC3339))
			}
			fmt.Fprintln(stdout)
		}
		if m := resp.Msg.GetManual(); m != nil {
			fmt.Fprintf(stdout, "manual     %s by %s (%s) for %s: %s\n", m.GetKind(), m.GetReviewer(), m.GetCaller(), m.GetReasonCode(), m.GetNote())
			if len(m.GetAppealIds()) > 0 {
				fmt.Fprintf(stdout, "           taken while appeals %s were open\n", strings.Join(m.GetAppealIds(), ", "))
			}
			if m.GetCaseId() != "" {
				fmt.Fprintf(stdout, "           resolving review case %s\n", m.GetCaseId())
			}
		}
	}
	return nil
}

// printShadowReport prints how the shadow bundle agrees with the active one.
func printShadowReport(w io.Writer, r *adminv1.ShadowReport) {
	if r == nil {
		return
	}
	if r.GetRevision() == "" {
		fmt.Fprintf(w, "shadow: no bundle active yet, %d dropped\n", r.GetDropped())
		return
	}
	fmt.Fprintf(w, "shadow %s: %d evaluated", r.GetRevision(), r.GetEvaluated())
	if r.GetSince() != nil {
		fmt.Fprintf(w, " since %s", r.GetSince().AsTime().Format(time.RFC3339))
	}
	fmt.Fprintf(w, ", %d agreed (%.1f %%), %d errors, %d dropped\n",
		r.GetAgreed(), 100*r.GetAgreementRate(), r.GetErrors(), r.GetDropped())
	for _, t := range r.GetTransitions() {
		fmt.Fprintf(w, "  %s → %s: %d\n", t.GetFrom(), t.GetTo(), t.GetCount())
	}
}

// printListsStatus renders the runtime lists: what this replica matches
// against, how fresh it is, and each list's size.
func printListsStatus(w io.Writer, l *adminv1.ListsStatus) {
	if l == nil {
		return
	}
	sync := "not read from the ledger yet"
	if l.GetLastSync() != nil {
		sync = fmt.Sprintf("synced %s ago (change %d)", l.GetSyncAge().AsDuration().Round(time.Millisecond), l.GetSeq())
	}
	fmt.Fprintf(w, "lists: %d lists, %d entries in memory, %s\n", l.GetLists(), l.GetEntries(), sync)
	if l.GetSyncError() != "" {
		fmt.Fprintf(w, "  sync error: %s\n", l.GetSyncError())
	}
	for _, s := range l.GetSizes() {
		fmt.Fprintf(w, "  list %s (%s, %s): %d entries\n", s.GetName(), s.GetKind(), s.GetPurpose(), s.GetEntries())
	}
}
