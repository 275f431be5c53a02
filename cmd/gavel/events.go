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

	eventsv1 "github.com/gavel/gavel/proto/gavel/events/v1"
	"github.com/gavel/gavel/proto/gavel/events/v1/eventsv1connect"
)

const eventsUsage = `usage:
  gavel events status                 each endpoint: pending, delivered, failed attempts, dead letters
  gavel events dead [--endpoint E] [--subject S] [--pending] [--page-size N] [--page-token T]
                                      the dead letters (or, with --pending, what is still on its way)
  gavel events redrive [--endpoint E] (--all | SEQUENCE...)
                                      send dead letters again, attempts reset (admin role)

Endpoints are configured under events.endpoints in gavel.yaml (see the README).

flags:`

func (c *clientFlags) eventsClient() (eventsv1connect.EventServiceClient, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	hc, base, err := c.connection()
	if err != nil {
		return nil, err
	}
	return eventsv1connect.NewEventServiceClient(hc, base, opts...), nil
}

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := "status"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := pflag.NewFlagSet("events "+sub, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, eventsUsage)
		fs.PrintDefaults()
	}
	var cf clientFlags
	cf.register(fs)
	var (
		endpoint  = fs.String("endpoint", "", "only this endpoint's (dead, redrive)")
		subject   = fs.String("subject", "", "only this subject's: an account id, or list:NAME (dead)")
		pending   = fs.Bool("pending", false, "list the deliveries still on their way instead of the dead letters (dead)")
		pageSize  = fs.Int32("page-size", 50, "deliveries per page, at most 1000 (dead)")
		pageToken = fs.String("page-token", "", "the next page of an earlier dead")
		all       = fs.Bool("all", false, "every dead letter (of --endpoint, when given) (redrive)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	client, err := cf.eventsClient()
	if err != nil {
		return err
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	switch sub {
	case "status":
		if fs.NArg() > 0 {
			return usageError("unexpected arguments %v", fs.Args())
		}
		resp, err := client.GetEventStatus(cctx, connect.NewRequest(&eventsv1.GetEventStatusRequest{}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		printEventsStatus(stdout, resp.Msg.GetStatus())
		return nil
	case "dead":
		if fs.NArg() > 0 {
			return usageError("unexpected arguments %v", fs.Args())
		}
		state := "dead"
		if *pending {
			state = "pending"
		}
		resp, err := client.ListDeliveries(cctx, connect.NewRequest(&eventsv1.ListDeliveriesRequest{
			Endpoint: *endpoint, State: state, Subject: *subject, PageSize: *pageSize, PageToken: *pageToken}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		if len(resp.Msg.GetDeliveries()) == 0 {
			fmt.Fprintf(stdout, "no %s deliveries\n", state)
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ENDPOINT\tSEQUENCE\tTYPE\tSUBJECT\tCOMMITTED\tATTEMPTS\tLAST STATUS\tLAST ERROR")
		for _, d := range resp.Msg.GetDeliveries() {
			status := "-"
			if d.GetLastStatus() != 0 {
				status = strconv.Itoa(int(d.GetLastStatus()))
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", d.GetEndpoint(), d.GetSequence(), d.GetType(), d.GetSubject(),
				d.GetTime().AsTime().Format(time.RFC3339), d.GetAttempts(), status, d.GetLastError())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if t := resp.Msg.GetNextPageToken(); t != "" {
			fmt.Fprintf(stdout, "more: --page-token %q\n", t)
		}
		return nil
	case "redrive":
		var seqs []int64
		for _, a := range fs.Args() {
			n, err := strconv.ParseInt(a, 10, 64)
			if err != nil || n <= 0 {
				return usageError("%q is not a sequence number (gavel events dead lists them)", a)
			}
			seqs = append(seqs, n)
		}
		if *all == (len(seqs) > 0) {
			return usageError("give the dead letters' sequence numbers, or --all")
		}
		resp, err := client.RedriveDeliveries(cctx, connect.NewRequest(&eventsv1.RedriveDeliveriesRequest{
			Endpoint: *endpoint, Sequences: seqs, All: *all}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, resp.Msg)
		}
		fmt.Fprintf(stdout, "%d dead letters pending again\n", resp.Msg.GetRedriven())
		return nil
	default:
		return usageError("unknown subcommand %q\n%s", sub, eventsUsage)
	}
}

// printEventsStatus prints the outbox and each endpoint, as gavel status
// and gavel events status show them.
func printEventsStatus(w io.Writer, st *eventsv1.EventsStatus) {
	if st == nil {
		return
	}
	if len(st.GetEndpoints()) == 0 {
		fmt.Fprintf(w, "events: no endpoint configured (events.endpoints); %d not yet routed\n", st.GetUnrouted())
		return
	}
	fmt.Fprintf(w, "events: %d not yet routed\n", st.GetUnrouted())
	for _, e := range st.GetEndpoints() {
		url := e.GetUrl()
		if url == "" {
			url = "(no longer configured)"
		}
		fmt.Fprintf(w, "  endpoint %s %s: %d pending, %d delivered, %d failed attempts, %d dead",
			e.GetName(), url, e.GetPending(), e.GetDelivered(), e.GetFailed(), e.GetDead())
		if op := e.GetOldestPending(); op != nil {
			fmt.Fprintf(w, "; oldest pending committed %s ago", time.Since(op.AsTime()).Round(time.Millisecond))
		}
		fmt.Fprintln(w)
	}
}
