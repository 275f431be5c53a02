package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	appealv1 "github.com/gavel/gavel/proto/gavel/appeal/v1"
	"github.com/gavel/gavel/proto/gavel/appeal/v1/appealv1connect"
)

func (c *clientFlags) appealClient() (appealv1connect.AppealServiceClient, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	hc, base, err := c.connection()
	if err != nil {
		return nil, err
	}
	return appealv1connect.NewAppealServiceClient(hc, base, opts...), nil
}

const appealUsage = `usage:
  gavel appeal file DECISION_ID --statement TEXT [--filed-by NAME]
  gavel appeal list [--status open|upheld|overturned|all] [--checkpoint CP] [--code REASON]
  gavel appeal show APPEAL_ID
  gavel appeal resolve APPEAL_ID --outcome upheld|overturned --reviewer NAME [--note TEXT]
  gavel appeal claim APPEAL_ID --reviewer NAME [--release]`

// appealFlags are each appeal subcommand's own flags, beside the client's.
var appealFlags = map[string][]string{
	"file":    {"statement", "filed-by"},
	"list":    {"status", "checkpoint", "code", "page-size", "page-token"},
	"show":    {},
	"resolve": {"outcome", "reviewer", "note"},
	"claim":   {"reviewer", "release"},
}

// clientFlag reports whether name is one of clientFlags' flags.
func clientFlag(name string) bool {
	switch name {
	case "addr", "token", "ca", "cert", "key", "protocol", "timeout", "json":
		return true
	}
	return false
}

func runAppeal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, appealUsage)
		if len(args) == 0 {
			return usageError("an appeal subcommand is required")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := pflag.NewFlagSet("appeal "+sub, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	var (
		statement = fs.String("statement", "", "the account holder's statement (file)")
		filedBy   = fs.String("filed-by", "", "who files on the account holder's behalf (file)")
		status    = fs.String("status", "open", "open, upheld, overturned or all (list)")
		cp        = fs.String("checkpoint", "", "only appeals of decisions at this checkpoint (list)")
		code      = fs.String("code", "", "only appeals of decisions where this reason code fired (list)")
		pageSize  = fs.Int32("page-size", 0, "appeals per page, at most 100 (list)")
		pageToken = fs.String("page-token", "", "the next page of an earlier list")
		outcome   = fs.String("outcome", "", "upheld or overturned (resolve)")
		reviewer  = fs.String("reviewer", "", "the human reviewer who decides (resolve)")
		note      = fs.String("note", "", "the reviewer's reasons (resolve)")
		release   = fs.Bool("release", false, "give the reviewer's claim up (claim)")
	)
	// Each subcommand shows and accepts its own flags only.
	own := appealFlags[sub]
	fs.VisitAll(func(f *pflag.Flag) {
		if own != nil && !slices.Contains(own, f.Name) && !clientFlag(f.Name) {
			fs.MarkHidden(f.Name)
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	var stray []string
	fs.Visit(func(f *pflag.Flag) {
		if f.Hidden {
			stray = append(stray, "--"+f.Name)
		}
	})
	if len(stray) > 0 {
		return usageError("gavel appeal %s does not take %s\n%s", sub, strings.Join(stray, ", "), appealUsage)
	}
	client, err := cf.appealClient()
	if err != nil {
		return err
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	needID := func(what string) (string, error) {
		if fs.NArg() != 1 {
			return "", usageError("usage: gavel appeal %s %s ...\n%s", sub, what, appealUsage)
		}
		return fs.Arg(0), nil
	}
	switch sub {
	case "file":
		id, err := needID("DECISION_ID")
		if err != nil {
			return err
		}
		resp, err := client.FileAppeal(cctx, connect.NewRequest(&appealv1.FileAppealRequest{DecisionId: id, Statement: *statement, FiledBy: *filedBy}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		printAppeal(stdout, resp.Msg.GetAppeal())
	case "list":
		if fs.NArg() != 0 {
			return usageError("usage: gavel appeal list [flags]")
		}
		all := strings.EqualFold(*status, "all")
		st, ok := appealv1.AppealStatus_value["APPEAL_STATUS_"+strings.ToUpper(*status)]
		if !all && (!ok || *status == "" || strings.EqualFold(*status, "unspecified")) {
			return usageError("--status must be open, upheld, overturned or all, got %q", *status)
		}
		resp, err := client.ListAppeals(cctx, connect.NewRequest(&appealv1.ListAppealsRequest{
			Status: appealv1.AppealStatus(st), AllStatuses: all, Checkpoint: *cp, ReasonCode: *code, PageSize: *pageSize, PageToken: *pageToken,
		}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "APPEAL\tSTATUS\tFILED\tDECISION\tCHECKPOINT\tREASONS")
		for _, a := range resp.Msg.GetAppeals() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.GetAppealId(), appealStatusName(a.GetStatus()),
				a.GetFiledAt().AsTime().Format(time.RFC3339), a.GetDecisionId(), a.GetCheckpoint(), strings.Join(a.GetReasonCodes(), ","))
		}
		tw.Flush()
		if resp.Msg.GetNextPageToken() != "" {
			fmt.Fprintf(stdout, "more: --page-token %s\n", resp.Msg.GetNextPageToken())
		}
	case "show":
		id, err := needID("APPEAL_ID")
		if err != nil {
			return err
		}
		resp, err := client.GetAppeal(cctx, connect.NewRequest(&appealv1.GetAppealRequest{AppealId: id}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		printAppeal(stdout, resp.Msg.GetAppeal())
		fmt.Fprintln(stdout, "\nthe decision appealed")
		printDecision(stdout, resp.Msg.GetDecision().GetDecision())
	case "resolve":
		id, err := needID("APPEAL_ID")
		if err != nil {
			return err
		}
		var o appealv1.Outcome
		switch strings.ToLower(*outcome) {
		case "upheld", "uphold":
			o = appealv1.Outcome_OUTCOME_UPHELD
		case "overturned", "overturn":
			o = appealv1.Outcome_OUTCOME_OVERTURNED
		default:
			return usageError("--outcome must be upheld or overturned, got %q", *outcome)
		}
		resp, err := client.ResolveAppeal(cctx, connect.NewRequest(&appealv1.ResolveAppealRequest{AppealId: id, Outcome: o, Reviewer: *reviewer, Note: *note}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		printAppeal(stdout, resp.Msg.GetAppeal())
	case "claim":
		id, err := needID("APPEAL_ID")
		if err != nil {
			return err
		}
		resp, err := client.ClaimAppeal(cctx, connect.NewRequest(&appealv1.ClaimAppealRequest{AppealId: id, Reviewer: *reviewer, Release: *release}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		printAppeal(stdout, resp.Msg.GetAppeal())
	default:
		return usageError("unknown appeal subcommand %q\n%s", sub, appealUsage)
	}
	return nil
}

func appealStatusName(s appealv1.AppealStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "APPEAL_STATUS_"))
}

func printAppeal(w io.Writer, a *appealv1.Appeal) {
	fmt.Fprintf(w, "appeal     %s\n", a.GetAppealId())
	fmt.Fprintf(w, "status     %s\n", appealStatusName(a.GetStatus()))
	fmt.Fprintf(w, "decision   %s (%s, %s)\n", a.GetDecisionId(), a.GetCheckpoint(), strings.Join(a.GetReasonCodes(), ", "))
	fmt.Fprintf(w, "subject    %s\n", a.GetSubjectId())
	fmt.Fprintf(w, "filed      %s by %s\n", a.GetFiledAt().AsTime().Format(time.RFC3339), a.GetFiledBy())
	fmt.Fprintf(w, "statement  %s\n", a.GetStatement())
	if a.GetClaimedBy() != "" {
		fmt.Fprintf(w, "claimed    by %s until %s\n", a.GetClaimedBy(), a.GetClaimedUntil().AsTime().Format(time.RFC3339))
	}
	if a.GetResolvedAt() != nil {
		fmt.Fprintf(w, "resolved   %s by reviewer %s (via %s)\n", a.GetResolvedAt().AsTime().Format(time.RFC3339), a.GetReviewer(), a.GetResolvedBy())
		if a.GetNote() != "" {
			fmt.Fprintf(w, "note       %s\n", a.GetNote())
		}
	}
}

func runRules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("rules", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	since := fs.String("since", "", "only decisions at or after this time (RFC 3339 or YYYY-MM-DD)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	req := &adminv1.GetRuleStatsRequest{}
	if *since != "" {
		t, err := parseInstant(*since)
		if err != nil {
			return usageError("--since: %v", err)
		}
		req.Since = timestamppb.New(t)
	}
	client, err := cf.adminClient()
	if err != nil {
		return err
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	resp, err := client.GetRuleStats(cctx, connect.NewRequest(req))
	if err != nil {
		return rpcError(err)
	}
	if cf.json {
		return printJSON(stdout, resp.Msg)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CODE\tFIRED\tAPPEALED\tOVERTURNED\tOVERTURN RATE\tOF APPEALS\t")
	for _, r := range resp.Msg.GetRules() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f%%\t%.1f%%\t\n", r.GetCode(), r.GetFired(), r.GetAppealed(), r.GetOverturned(),
			100*r.GetOverturnRate(), 100*r.GetAppealOverturnRate())
	}
	return tw.Flush()
}

func runSOR(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(stderr, "usage: gavel sor export [--since T] [--until T] [--out FILE.jsonl]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError("the only sor subcommand is export")
	}
	fs := pflag.NewFlagSet("sor export", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	var (
		since = fs.String("since", "", "decisions at or after this time (RFC 3339 or YYYY-MM-DD)")
		until = fs.String("until", "", "decisions before this time (default: now)")
		out   = fs.StringP("out", "o", "", "write JSON lines to this file (default: stdout)")
	)
	cf.timeout = 0
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	req := &adminv1.ExportStatementsRequest{}
	for _, f := range []struct {
		flag, v string
		dst     **timestamppb.Timestamp
	}{{"--since", *since, &req.Since}, {"--until", *until, &req.Until}} {
		if f.v == "" {
			continue
		}
		t, err := parseInstant(f.v)
		if err != nil {
			return usageError("%s: %v", f.flag, err)
		}
		*f.dst = timestamppb.New(t)
	}
	client, err := cf.adminClient()
	if err != nil {
		return err
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return usageError("--out: %v", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	cctx := ctx
	if cf.timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = cf.context(ctx)
		defer cancel()
	}
	stream, err := client.ExportStatements(cctx, connect.NewRequest(req))
	if err != nil {
		return rpcError(err)
	}
	defer stream.Close()
	n := 0
	for stream.Receive() {
		for _, s := range stream.Msg().GetStatements() {
			b, err := protojson.Marshal(s)
			if err != nil {
				return err
			}
			bw.Write(b)
			bw.WriteByte('\n')
			n++
		}
	}
	if err := stream.Err(); err != nil {
		return rpcError(err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(stderr, "%d statements written to %s\n", n, *out)
	}
	return nil
}

// parseInstant reads an RFC 3339 time or a date (midnight UTC).
func parseInstant(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}
