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
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	enforcementv1 "github.com/gavel/gavel/proto/gavel/enforcement/v1"
	"github.com/gavel/gavel/proto/gavel/enforcement/v1/enforcementv1connect"
)

func (c *clientFlags) enforcementClient() (enforcementv1connect.EnforcementServiceClient, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	hc, base, err := c.connection()
	if err != nil {
		return nil, err
	}
	return enforcementv1connect.NewEnforcementServiceClient(hc, base, opts...), nil
}

// runStanding prints an account's standing now.
func runStanding(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("standing", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 1 {
		return usageError("usage: gavel standing SUBJECT_ID")
	}
	client, err := cf.enforcementClient()
	if err != nil {
		return err
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	resp, err := client.GetStanding(cctx, connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: fs.Arg(0)}))
	if err != nil {
		return rpcError(err)
	}
	if cf.json {
		return printJSON(stdout, resp.Msg)
	}
	printStanding(stdout, resp.Msg.GetStanding())
	return nil
}

const enforceUsage = `usage:
  gavel enforce suspend   SUBJECT_ID --reason CODE --note TEXT --reviewer NAME [--duration D]
  gavel enforce restrict  SUBJECT_ID --reason CODE --note TEXT --reviewer NAME --capability C [--capability C ...] [--duration D]
  gavel enforce lift      SUBJECT_ID --reason CODE --note TEXT --reviewer NAME (--capability C ... | --suspension)
  gavel enforce reinstate SUBJECT_ID --reason CODE --note TEXT --reviewer NAME

Reason codes come from the catalog (IDENTITY_FRAUD, ACCOUNT_TAKEOVER,
POLICY_VIOLATION, REINSTATED, or any code a rule gives). Each action is
recorded as a decision of its own with the reviewer and note. Needs the
review or admin role.`

// runEnforce takes a reviewer's manual action on an account.
func runEnforce(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, enforceUsage)
		if len(args) == 0 {
			return usageError("an enforce subcommand is required")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := pflag.NewFlagSet("enforce "+sub, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	reason := fs.String("reason", "", "a reason code from the catalog")
	note := fs.String("note", "", "what the reviewer found")
	reviewer := fs.String("reviewer", "", "the human reviewer taking the action")
	requestID := fs.String("request-id", "", "idempotency key: a retry with the same id returns the same decision")
	var caps []string
	var duration time.Duration
	var suspension bool
	switch sub {
	case "suspend":
		fs.DurationVar(&duration, "duration", 0, "how long; 0 means until lifted")
	case "restrict":
		fs.StringSliceVar(&caps, "capability", nil, "a capability to hold (withdrawals, payouts, proposals, contracts, messaging); repeatable")
		fs.DurationVar(&duration, "duration", 0, "how long; 0 means until lifted")
	case "lift":
		fs.StringSliceVar(&caps, "capability", nil, "a held capability to lift; repeatable")
		fs.BoolVar(&suspension, "suspension", false, "lift the suspension")
	case "reinstate":
	default:
		return usageError("unknown enforce subcommand %q\n%s", sub, enforceUsage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 1 {
		return usageError("usage: gavel enforce %s SUBJECT_ID [flags]\n%s", sub, enforceUsage)
	}
	client, err := cf.enforcementClient()
	if err != nil {
		return err
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	var d *durationpb.Duration
	if duration > 0 {
		d = durationpb.New(duration)
	}
	subject := fs.Arg(0)
	var (
		out interface {
			GetStanding() *enforcementv1.Standing
		}
		msg proto.Message
	)
	switch sub {
	case "suspend":
		resp, err := client.Suspend(cctx, connect.NewRequest(&enforcementv1.SuspendRequest{
			SubjectId: subject, ReasonCode: *reason, Note: *note, Reviewer: *reviewer, Duration: d, RequestId: *requestID}))
		if err != nil {
			return rpcError(err)
		}
		out, msg = resp.Msg, resp.Msg
		if !cf.json {
			printDecision(stdout, resp.Msg.GetDecision())
		}
	case "restrict":
		resp, err := client.Restrict(cctx, connect.NewRequest(&enforcementv1.RestrictRequest{
			SubjectId: subject, ReasonCode: *reason, Note: *note, Reviewer: *reviewer, Capabilities: caps, Duration: d, RequestId: *requestID}))
		if err != nil {
			return rpcError(err)
		}
		out, msg = resp.Msg, resp.Msg
		if !cf.json {
			printDecision(stdout, resp.Msg.GetDecision())
		}
	case "lift":
		resp, err := client.Lift(cctx, connect.NewRequest(&enforcementv1.LiftRequest{
			SubjectId: subject, ReasonCode: *reason, Note: *note, Reviewer: *reviewer, Capabilities: caps, Suspension: suspension, RequestId: *requestID}))
		if err != nil {
			return rpcError(err)
		}
		out, msg = resp.Msg, resp.Msg
		if !cf.json {
			printDecision(stdout, resp.Msg.GetDecision())
		}
	case "reinstate":
		resp, err := client.Reinstate(cctx, connect.NewRequest(&enforcementv1.ReinstateRequest{
			SubjectId: subject, ReasonCode: *reason, Note: *note, Reviewer: *reviewer, RequestId: *requestID}))
		if err != nil {
			return rpcError(err)
		}
		out, msg = resp.Msg, resp.Msg
		if !cf.json {
			printDecision(stdout, resp.Msg.GetDecision())
		}
	}
	if cf.json {
		return printJSON(stdout, msg)
	}
	fmt.Fprintln(stdout, "\nstanding now")
	printStanding(stdout, out.GetStanding())
	return nil
}

// printStanding renders an account's standing for a person at a terminal.
func printStanding(w io.Writer, s *enforcementv1.Standing) {
	fmt.Fprintf(w, "subject    %s\n", s.GetSubjectId())
	if sp := s.GetSuspension(); sp != nil {
		until := "until lifted"
		if sp.GetUntil() != nil {
			until = "until " + sp.GetUntil().AsTime().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "suspended  since %s %s, by %s decision %s\n", sp.GetSince().AsTime().Format(time.RFC3339), until, sp.GetSource(), sp.GetDecisionId())
	} else {
		fmt.Fprintln(w, "suspended  no")
	}
	if len(s.GetHolds()) == 0 {
		fmt.Fprintln(w, "holds      none")
	}
	for _, h := range s.GetHolds() {
		until := "until lifted"
		if h.GetUntil() != nil {
			until = "until " + h.GetUntil().AsTime().Format(time.RFC3339)
		}
		remedy := ""
		if h.GetRemedy() != "" {
			remedy = ", remedy " + h.GetRemedy()
		}
		fmt.Fprintf(w, "hold       %s %s, placed by decision %s%s\n", h.GetCapability(), until, h.GetDecisionId(), remedy)
	}
	fmt.Fprintf(w, "strikes    %d\n", len(s.GetStrikes()))
	for _, st := range s.GetStrikes() {
		fmt.Fprintf(w, "  %s %s, expires %s (decision %s)\n", st.GetAt().AsTime().Format(time.RFC3339),
			strings.Join(st.GetCodes(), ","), st.GetExpiresAt().AsTime().Format(time.RFC3339), st.GetDecisionId())
	}
	for _, a := range s.GetOpenAppeals() {
		fmt.Fprintf(w, "appeal     %s open since %s, of decision %s\n", a.GetAppealId(), a.GetFiledAt().AsTime().Format(time.RFC3339), a.GetDecisionId())
	}
	for _, c := range s.GetOpenCases() {
		fmt.Fprintf(w, "case       %s open since %s, due %s\n", c.GetCaseId(), c.GetOpenedAt().AsTime().Format(time.RFC3339), c.GetDueAt().AsTime().Format(time.RFC3339))
	}
	for _, c := range s.GetCleared() {
		fmt.Fprintf(w, "cleared    %s on its evidence until %s (appeal %s overturned decision %s)\n",
			c.GetCode(), c.GetUntil().AsTime().Format(time.RFC3339), c.GetAppealId(), c.GetDecisionId())
	}
	if len(s.GetRecent()) > 0 {
		fmt.Fprintln(w, "recent decisions")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, d := range s.GetRecent() {
			var codes []string
			for _, r := range d.GetReasons() {
				codes = append(codes, r.GetCode())
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", d.GetDecidedAt().AsTime().Format(time.RFC3339), d.GetDecisionId(),
				d.GetCheckpoint(), actionName(d.GetAction()), d.GetSource(), strings.Join(codes, ","))
		}
		tw.Flush()
	}
}
