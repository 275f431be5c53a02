package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/durationpb"

	reviewv1 "github.com/gavel/gavel/proto/gavel/review/v1"
	"github.com/gavel/gavel/proto/gavel/review/v1/reviewv1connect"
)

func (c *clientFlags) reviewClient() (reviewv1connect.ReviewServiceClient, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	hc, base, err := c.connection()
	if err != nil {
		return nil, err
	}
	return reviewv1connect.NewReviewServiceClient(hc, base, opts...), nil
}

const queueUsage = `usage:
  gavel queue list    [--kind case|appeal] [--reason CODE] [--assignee NAME | --unassigned] [--overdue]
                      [--subject S] [--page-size N] [--page-token T | --all]
  gavel queue show    ID
  gavel queue claim   ID [--reviewer NAME] [--release]
  gavel queue note    ID --text TEXT [--reviewer NAME]
  gavel queue resolve ID --as uphold|lift|suspend|overturn --note TEXT [--reviewer NAME]
                      [--reason CODE] [--capability C ...] [--duration D] [--request-id ID]

The review queue: cases the policy opened (ids case-…) and appeals, open
ones oldest first, with their age and due time. A case is resolved by
uphold (the decisions stand), lift (its holds in force are lifted by a
manual lift) or suspend (a manual suspension); an appeal by uphold or
overturn. --reviewer defaults to $GAVEL_REVIEWER. Reading needs the read,
review or admin role; claim, note and resolve need review or admin
(appeals: review).`

// runQueue works the review queue.
func runQueue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, queueUsage)
		if len(args) == 0 {
			return usageError("a queue subcommand is required")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := pflag.NewFlagSet("queue "+sub, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	var (
		kind, reason, assignee, subject, reviewer, text, as, requestID, token string
		unassigned, overdue, all, release                                     bool
		pageSize                                                              int32
		caps                                                                  []string
		duration                                                              time.Duration
	)
	reviewerFlag := func() {
		fs.StringVar(&reviewer, "reviewer", os.Getenv("GAVEL_REVIEWER"), "the human reviewer (default $GAVEL_REVIEWER)")
	}
	nargs := 1
	switch sub {
	case "list":
		nargs = 0
		fs.StringVar(&kind, "kind", "", "only cases or only appeals")
		fs.StringVar(&reason, "reason", "", "only items where this reason code fired")
		fs.StringVar(&assignee, "assignee", "", "only items this reviewer has claimed")
		fs.BoolVar(&unassigned, "unassigned", false, "only items no one has claimed")
		fs.BoolVar(&overdue, "overdue", false, "only items past due")
		fs.StringVar(&subject, "subject", "", "only this account's items")
		fs.Int32Var(&pageSize, "page-size", 20, "items per page (at most 100)")
		fs.BoolVar(&all, "all", false, "follow every page")
		fs.StringVar(&token, "page-token", "", "the page after the one that printed this token")
	case "show":
	case "claim":
		reviewerFlag()
		fs.BoolVar(&release, "release", false, "give the claim up")
	case "note":
		reviewerFlag()
		fs.StringVar(&text, "text", "", "the note")
	case "resolve":
		reviewerFlag()
		fs.StringVar(&as, "as", "", "uphold, lift or suspend (a case); uphold or overturn (an appeal)")
		fs.StringVar(&text, "note", "", "what the reviewer found")
		fs.StringVar(&reason, "reason", "", "lift or suspend: the catalog reason recorded (default REINSTATED for a lift, the case's first code for a suspension)")
		fs.StringSliceVar(&caps, "capability", nil, "lift: a capability to lift (default: the case's holds in force); repeatable")
		fs.DurationVar(&duration, "duration", 0, "suspend: how long; 0 means until lifted")
		fs.StringVar(&requestID, "request-id", "", "lift or suspend: idempotency key of the manual decision")
	default:
		return usageError("unknown queue subcommand %q\n%s", sub, queueUsage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != nargs {
		if nargs == 0 {
			return usageError("gavel queue list takes no arguments\n%s", queueUsage)
		}
		return usageError("usage: gavel queue %s ID [flags]\n%s", sub, queueUsage)
	}
	client, err := cf.reviewClient()
	if err != nil {
		return err
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	id := fs.Arg(0)
	switch sub {
	case "list":
		k, ok := map[string]reviewv1.Kind{"": reviewv1.Kind_KIND_UNSPECIFIED, "case": reviewv1.Kind_KIND_CASE, "appeal": reviewv1.Kind_KIND_APPEAL}[kind]
		if !ok {
			return usageError("--kind must be case or appeal, got %q", kind)
		}
		req := &reviewv1.ListQueueRequest{Kind: k, ReasonCode: reason, Assignee: assignee, Unassigned: unassigned,
			Overdue: overdue, SubjectId: subject, PageSize: pageSize, PageToken: token}
		var items []*reviewv1.Item
		var last *reviewv1.ListQueueResponse
		for {
			resp, err := client.ListQueue(cctx, connect.NewRequest(req))
			if err != nil {
				return rpcError(err)
			}
			last = resp.Msg
			items = append(items, resp.Msg.GetItems()...)
			if !all || resp.Msg.GetNextPageToken() == "" {
				break
			}
			req.PageToken = resp.Msg.GetNextPageToken()
		}
		if cf.json {
			last.Items = items
			if all {
				last.NextPageToken = ""
			}
			return printJSON(stdout, last)
		}
		printQueue(stdout, items, last.GetNextPageToken())
	case "show":
		resp, err := client.GetItem(cctx, connect.NewRequest(&reviewv1.GetItemRequest{Id: id}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		printItem(stdout, resp.Msg.GetItem())
		for _, n := range resp.Msg.GetNotes() {
			fmt.Fprintf(stdout, "note        %s %s: %s\n", n.GetAt().AsTime().Format(time.RFC3339), n.GetAuthor(), n.GetBody())
		}
		for _, d := range resp.Msg.GetDecisions() {
			fmt.Fprintln(stdout)
			printDecision(stdout, d.GetDecision())
		}
	case "claim":
		resp, err := client.Claim(cctx, connect.NewRequest(&reviewv1.ClaimRequest{Id: id, Reviewer: reviewer, Release: release}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		printItem(stdout, resp.Msg.GetItem())
	case "note":
		resp, err := client.AddNote(cctx, connect.NewRequest(&reviewv1.AddNoteRequest{Id: id, Author: reviewer, Body: text}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		n := resp.Msg.GetNote()
		fmt.Fprintf(stdout, "note %s added to %s by %s at %s\n", n.GetNoteId(), id, n.GetAuthor(), n.GetAt().AsTime().Format(time.RFC3339))
	case "resolve":
		res, ok := map[string]reviewv1.Resolution{
			"": reviewv1.Resolution_RESOLUTION_UNSPECIFIED, "uphold": reviewv1.Resolution_RESOLUTION_UPHOLD,
			"lift": reviewv1.Resolution_RESOLUTION_LIFT, "suspend": reviewv1.Resolution_RESOLUTION_SUSPEND,
			"overturn": reviewv1.Resolution_RESOLUTION_OVERTURN,
		}[as]
		if !ok {
			return usageError("--as must be uphold, lift, suspend or overturn, got %q", as)
		}
		var d *durationpb.Duration
		if duration != 0 {
			d = durationpb.New(duration)
		}
		resp, err := client.Resolve(cctx, connect.NewRequest(&reviewv1.ResolveRequest{
			Id: id, Resolution: res, Reviewer: reviewer, Note: text, ReasonCode: reason,
			Capabilities: caps, Duration: d, RequestId: requestID,
		}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		printItem(stdout, resp.Msg.GetItem())
		if dec := resp.Msg.GetDecision(); dec != nil {
			fmt.Fprintln(stdout, "\nmanual decision")
			printDecision(stdout, dec)
		}
	}
	return nil
}

var kindNames = map[reviewv1.Kind]string{reviewv1.Kind_KIND_CASE: "case", reviewv1.Kind_KIND_APPEAL: "appeal"}

var resolutionNames = map[reviewv1.Resolution]string{
	reviewv1.Resolution_RESOLUTION_UPHOLD: "uphold", reviewv1.Resolution_RESOLUTION_LIFT: "lift",
	reviewv1.Resolution_RESOLUTION_SUSPEND: "suspend", reviewv1.Resolution_RESOLUTION_OVERTURN: "overturn",
}

// printQueue renders the queue as a table, oldest first.
func printQueue(w io.Writer, items []*reviewv1.Item, next string) {
	if len(items) == 0 {
		fmt.Fprintln(w, "the queue is empty")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tID\tSUBJECT\tACTION\tREASONS\tAGE\tDUE\tCLAIMED BY")
	for _, it := range items {
		due := it.GetDueAt().AsTime().Format(time.RFC3339)
		if it.GetOverdue() {
			due += " OVERDUE"
		}
		claimed := it.GetClaimedBy()
		if claimed == "" {
			claimed = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", kindNames[it.GetKind()], it.GetId(), it.GetSubjectId(),
			actionName(it.GetAction()), strings.Join(it.GetReasonCodes(), ","), age(it.GetAge().AsDuration()), due, claimed)
	}
	tw.Flush()
	if next != "" {
		fmt.Fprintf(w, "more: --page-token %s (or --all)\n", next)
	}
}

// printItem renders one case or appeal.
func printItem(w io.Writer, it *reviewv1.Item) {
	fmt.Fprintf(w, "%-11s %s\n", kindNames[it.GetKind()], it.GetId())
	fmt.Fprintf(w, "subject     %s\n", it.GetSubjectId())
	fmt.Fprintf(w, "status      %s\n", it.GetStatus())
	fmt.Fprintf(w, "decision    %s (%s at %s)\n", it.GetDecisionId(), actionName(it.GetAction()), it.GetCheckpoint())
	if len(it.GetDecisionIds()) > 1 {
		fmt.Fprintf(w, "decisions   %s\n", strings.Join(it.GetDecisionIds(), ", "))
	}
	fmt.Fprintf(w, "reasons     %s\n", strings.Join(it.GetReasonCodes(), ", "))
	if it.GetStatement() != "" {
		fmt.Fprintf(w, "statement   %s\n", it.GetStatement())
	}
	fmt.Fprintf(w, "opened      %s\n", it.GetOpenedAt().AsTime().Format(time.RFC3339))
	due := it.GetDueAt().AsTime().Format(time.RFC3339)
	if it.GetOverdue() {
		due += " (overdue)"
	}
	if it.GetStatus() == "open" {
		fmt.Fprintf(w, "age         %s\n", age(it.GetAge().AsDuration()))
		fmt.Fprintf(w, "due         %s\n", due)
		if it.GetClaimedBy() != "" {
			fmt.Fprintf(w, "claimed by  %s until %s\n", it.GetClaimedBy(), it.GetClaimedUntil().AsTime().Format(time.RFC3339))
		} else {
			fmt.Fprintln(w, "claimed by  no one")
		}
		return
	}
	fmt.Fprintf(w, "resolution  %s by %s at %s\n", resolutionNames[it.GetResolution()], it.GetReviewer(), it.GetResolvedAt().AsTime().Format(time.RFC3339))
	if it.GetNote() != "" {
		fmt.Fprintf(w, "because     %s\n", it.GetNote())
	}
	if it.GetActionDecisionId() != "" {
		fmt.Fprintf(w, "recorded as manual decision %s\n", it.GetActionDecisionId())
	}
}

// age renders a duration the way a queue reads: 3d4h, 5h12m, 40m, 12s.
func age(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return fmt.Sprintf("%ds", d/time.Second)
	}
}
