package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/timestamppb"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

const searchUsage = `usage: gavel search [--since D|TIME] [--until D|TIME] [--checkpoint C] [--action A] [--reason CODE]
                    [--subject S] [--revision R] [--source automated|manual] [--fallback true|false] [--appeal open|upheld|overturned|any|none]
                    [--shadow-disagrees] [--page-size N] [--page-token T] [--all] [--json]

Decisions across subjects, newest first. --since and --until take a duration back from now
(72h) or a time (2026-11-23 or 2026-11-23T09:00:00Z). Example: every suspension at signup in
the last week that fired MODEL_RISK:
  gavel search --since 168h --checkpoint signup --action suspend --reason MODEL_RISK`

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("search", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, searchUsage); fs.PrintDefaults() }
	var cf clientFlags
	cf.register(fs)
	var (
		since     = fs.String("since", "", "decided at or after: a duration back from now or a time")
		until     = fs.String("until", "", "decided before: a duration back from now or a time")
		cp        = fs.String("checkpoint", "", "checkpoint")
		action    = fs.String("action", "", "allow, warn, challenge, restrict or suspend")
		reason    = fs.String("reason", "", "a reason code that fired")
		subject   = fs.String("subject", "", "subject id")
		revision  = fs.String("revision", "", "bundle revision")
		source    = fs.String("source", "", "automated (the policy's) or manual (reviewers' actions)")
		fallback  = fs.String("fallback", "", "true: only failure-action decisions; false: only the policy's")
		appeal    = fs.String("appeal", "", "open, upheld, overturned, any or none")
		shadow    = fs.Bool("shadow-disagrees", false, "only decisions the shadow bundle decided otherwise")
		pageSize  = fs.Int32("page-size", 50, "decisions per page, at most 1000")
		pageToken = fs.String("page-token", "", "the next page of an earlier search")
		all       = fs.Bool("all", false, "follow every page")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %v\n\n%s", fs.Args(), searchUsage)
	}
	now := time.Now()
	req := &decisionv1.SearchDecisionsRequest{
		Checkpoint: *cp, ReasonCode: *reason, SubjectId: *subject, BundleRevision: *revision,
		AppealStatus: *appeal, ShadowDisagrees: *shadow, Source: *source, PageSize: *pageSize, PageToken: *pageToken,
	}
	for _, w := range []struct {
		flag, v string
		dst     **timestamppb.Timestamp
	}{{"--since", *since, &req.Since}, {"--until", *until, &req.Until}} {
		if w.v == "" {
			continue
		}
		t, err := parseWhen(w.v, now)
		if err != nil {
			return usageError("%s: %v", w.flag, err)
		}
		*w.dst = timestamppb.New(t)
	}
	if *action != "" {
		a, ok := decisionv1.Action_value["ACTION_"+strings.ToUpper(*action)]
		if !ok || a == 0 {
			return usageError("--action must be allow, warn, challenge, restrict or suspend, got %q", *action)
		}
		req.Action = decisionv1.Action(a)
	}
	if *fallback != "" {
		b, err := strconv.ParseBool(*fallback)
		if err != nil {
			return usageError("--fallback must be true or false, got %q", *fallback)
		}
		req.Fallback = &b
	}
	client, err := cf.decisionClient()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !cf.json {
		fmt.Fprintln(tw, "DECIDED AT\tDECISION\tSUBJECT\tCHECKPOINT\tACTION\tREASONS\tAPPEAL")
	}
	for {
		cctx, cancel := cf.context(ctx)
		resp, err := client.SearchDecisions(cctx, connect.NewRequest(req))
		cancel()
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			if err := printJSON(stdout, resp.Msg); err != nil {
				return err
			}
		} else {
			for _, d := range resp.Msg.GetDecisions() {
				var codes []string
				for _, r := range d.GetReasons() {
					codes = append(codes, r.GetCode())
				}
				ap := d.GetAppealStatus()
				if d.GetOverturned() {
					ap = "overturned"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.GetDecidedAt().AsTime().Format(time.RFC3339), d.GetDecisionId(),
					d.GetSubjectId(), d.GetCheckpoint(), actionName(d.GetAction()), strings.Join(codes, ","), ap)
			}
		}
		next := resp.Msg.GetNextPageToken()
		if next == "" || !*all {
			if err := tw.Flush(); err != nil {
				return err
			}
			if next != "" && !cf.json {
				fmt.Fprintf(stdout, "more: --page-token %s\n", next)
			}
			return nil
		}
		req.PageToken = next
	}
}
