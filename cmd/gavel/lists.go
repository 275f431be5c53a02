package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/timestamppb"

	listsv1 "github.com/gavel/gavel/proto/gavel/lists/v1"
	"github.com/gavel/gavel/proto/gavel/lists/v1/listsv1connect"
)

const listsUsage = `usage:
  gavel lists                                   every list: kind, purpose, action, entries
  gavel lists create NAME --kind KIND --purpose block|allow [--action ACTION] [--exempts CODE,…] [--description TEXT]
  gavel lists add NAME VALUE… [--note TEXT] [--expires DURATION]
  gavel lists remove NAME VALUE…
  gavel lists show NAME [--page-size N] [--page-token T]
  gavel lists import NAME FILE.csv [--skip-bad-rows]
  gavel lists export NAME FILE.csv              (- for standard output)
  gavel lists history NAME                      the audit trail: who changed what, when

Kinds: email, email_domain, phone, device_id, ip (addresses and CIDR ranges), payout_account,
document_number, subject_id. Block lists act with their action (warn, challenge, restrict —
the default — or suspend); allow lists exempt the reason codes they name (--exempts).
Personal values (email, phone, payout_account, document_number) are stored as keyed hashes
and shown as hmac:<hex>. CSV files have the columns value,note,expires_at (RFC 3339; empty:
never) and an optional header line; export writes what import reads.`

func (c *clientFlags) listsClient() (listsv1connect.ListServiceClient, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	hc, base, err := c.connection()
	if err != nil {
		return nil, err
	}
	return listsv1connect.NewListServiceClient(hc, base, opts...), nil
}

func runLists(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stderr, listsUsage)
		return nil
	}
	sub := "ls"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := pflag.NewFlagSet("lists "+sub, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	var (
		kind      = fs.String("kind", "", "the list's kind (create)")
		purpose   = fs.String("purpose", "", "block or allow (create)")
		action    = fs.String("action", "", "what a block-list hit does: warn, challenge, restrict or suspend (create)")
		exempts   = fs.StringSlice("exempts", nil, "reason codes an allow-list hit exempts (create)")
		desc      = fs.String("description", "", "what the list is for (create)")
		note      = fs.String("note", "", "why the values are listed (add)")
		expires   = fs.Duration("expires", 0, "remove the values from matching after this long, e.g. 720h (add)")
		pageSize  = fs.Int32("page-size", 50, "entries per page, at most 1000 (show)")
		pageToken = fs.String("page-token", "", "the next page of an earlier show")
		skipBad   = fs.Bool("skip-bad-rows", false, "import the good rows and report the bad ones; default: any bad row imports nothing (import)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	client, err := cf.listsClient()
	if err != nil {
		return err
	}
	if (sub == "import" || sub == "export") && !fs.Changed("timeout") {
		cf.timeout = 30 * time.Minute // bulk work; interrupt to stop
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	pos := fs.Args()
	need := func(n int, what string) error {
		if len(pos) < n {
			return usageError("usage: gavel lists %s %s\n\n%s", sub, what, listsUsage)
		}
		return nil
	}
	switch sub {
	case "ls":
		res, err := client.ListLists(cctx, connect.NewRequest(&listsv1.ListListsRequest{}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, res.Msg)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tPURPOSE\tACTION/EXEMPTS\tENTRIES\tUPDATED\tDESCRIPTION")
		for _, l := range res.Msg.GetLists() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", l.GetName(), l.GetKind(), purposeName(l.GetPurpose()),
				effect(l), l.GetEntries(), l.GetUpdatedAt().AsTime().Format(time.RFC3339), l.GetDescription())
		}
		return tw.Flush()
	case "create":
		if err := need(1, "NAME --kind KIND --purpose block|allow"); err != nil {
			return err
		}
		p := map[string]listsv1.Purpose{"block": listsv1.Purpose_PURPOSE_BLOCK, "allow": listsv1.Purpose_PURPOSE_ALLOW}[*purpose]
		if p == listsv1.Purpose_PURPOSE_UNSPECIFIED {
			return usageError("--purpose must be block or allow, got %q", *purpose)
		}
		res, err := client.CreateList(cctx, connect.NewRequest(&listsv1.CreateListRequest{
			Name: pos[0], Kind: *kind, Purpose: p, Action: *action, Exempts: *exempts, Description: *desc,
		}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, res.Msg)
		}
		l := res.Msg.GetList()
		fmt.Fprintf(stdout, "created list %s: %s %s list, %s, matched on %s\n", l.GetName(), l.GetKind(), purposeName(l.GetPurpose()), effect(l), l.GetField())
		return nil
	case "add", "remove":
		if err := need(2, "NAME VALUE…"); err != nil {
			return err
		}
		if sub == "remove" {
			res, err := client.RemoveEntries(cctx, connect.NewRequest(&listsv1.RemoveEntriesRequest{List: pos[0], Values: pos[1:]}))
			if err != nil {
				return rpcError(err)
			}
			fmt.Fprintf(stdout, "removed %d of %d values from %s\n", res.Msg.GetRemoved(), len(pos)-1, pos[0])
			return nil
		}
		req := &listsv1.AddEntriesRequest{List: pos[0], Values: pos[1:], Note: *note}
		if *expires < 0 {
			return usageError("--expires must be positive")
		}
		if *expires > 0 {
			req.ExpiresAt = timestamppb.New(time.Now().Add(*expires))
		}
		res, err := client.AddEntries(cctx, connect.NewRequest(req))
		if err != nil {
			return rpcError(err)
		}
		fmt.Fprintf(stdout, "added %d values to %s\n", res.Msg.GetAdded(), pos[0])
		return nil
	case "show":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		res, err := client.ListEntries(cctx, connect.NewRequest(&listsv1.ListEntriesRequest{List: pos[0], PageSize: *pageSize, PageToken: *pageToken}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, res.Msg)
		}
		l := res.Msg.GetList()
		fmt.Fprintf(stdout, "%s: %s %s list, %s, matched on %s; %d entries; created by %s at %s\n",
			l.GetName(), l.GetKind(), purposeName(l.GetPurpose()), effect(l), l.GetField(), l.GetEntries(),
			l.GetCreatedBy(), l.GetCreatedAt().AsTime().Format(time.RFC3339))
		if l.GetDescription() != "" {
			fmt.Fprintln(stdout, l.GetDescription())
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VALUE\tNOTE\tADDED BY\tADDED AT\tEXPIRES")
		for _, e := range res.Msg.GetEntries() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.GetValue(), e.GetNote(), e.GetAddedBy(),
				e.GetAddedAt().AsTime().Format(time.RFC3339), expiry(e.GetExpiresAt()))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if t := res.Msg.GetNextPageToken(); t != "" {
			fmt.Fprintf(stdout, "more: --page-token %s\n", t)
		}
		return nil
	case "history":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		res, err := client.ListChanges(cctx, connect.NewRequest(&listsv1.ListChangesRequest{List: pos[0], PageSize: *pageSize}))
		if err != nil {
			return rpcError(err)
		}
		if cf.json {
			return printJSON(stdout, res.Msg)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tAT\tWHO\tOP\tVALUE\tNOTE/DETAIL")
		for _, c := range res.Msg.GetChanges() {
			text := c.GetNote()
			if c.GetDetail() != "" {
				text = c.GetDetail()
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.GetSeq(), c.GetAt().AsTime().Format(time.RFC3339), c.GetActor(), c.GetOp(), c.GetValue(), text)
		}
		return tw.Flush()
	case "import":
		if err := need(2, "NAME FILE.csv"); err != nil {
			return err
		}
		return importCSV(cctx, client, pos[0], pos[1], *skipBad, stdout)
	case "export":
		if err := need(2, "NAME FILE.csv"); err != nil {
			return err
		}
		return exportCSV(cctx, client, pos[0], pos[1], stdout)
	}
	return usageError("unknown lists subcommand %q\n\n%s", sub, listsUsage)
}

func purposeName(p listsv1.Purpose) string {
	return map[listsv1.Purpose]string{listsv1.Purpose_PURPOSE_BLOCK: "block", listsv1.Purpose_PURPOSE_ALLOW: "allow"}[p]
}

func effect(l *listsv1.List) string {
	if l.GetPurpose() == listsv1.Purpose_PURPOSE_ALLOW {
		return "exempts " + strings.Join(l.GetExempts(), ",")
	}
	return "action " + l.GetAction()
}

func expiry(t *timestamppb.Timestamp) string {
	if t == nil {
		return "never"
	}
	return t.AsTime().Format(time.RFC3339)
}

// importChunk bounds one message of the import stream, well under the
// server's default request limit (256 KiB).
const importChunk = 96 << 10

// importCSV streams a CSV file's rows; the server checks every row and
// writes them in one transaction.
func importCSV(ctx context.Context, client listsv1connect.ListServiceClient, name, path string, skipBad bool, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return usageError("%v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	stream := client.ImportEntries(ctx)
	msg := &listsv1.ImportEntriesRequest{List: name, SkipBadRows: skipBad, Source: path}
	size, line, rows := 0, 0, 0
	send := func() error {
		if err := stream.Send(msg); err != nil {
			return err
		}
		msg, size = &listsv1.ImportEntriesRequest{}, 0
		return nil
	}
	start := time.Now()
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			stream.CloseAndReceive()
			return fmt.Errorf("%s: %w", path, err)
		}
		if line == 1 && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "value") {
			continue // header
		}
		if len(rec) == 0 || (len(rec) == 1 && strings.TrimSpace(rec[0]) == "") {
			continue
		}
		row := &listsv1.ImportRow{Line: int32(line), Value: rec[0]}
		if len(rec) > 1 {
			row.Note = rec[1]
		}
		if len(rec) > 2 && strings.TrimSpace(rec[2]) != "" {
			t, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[2]))
			if err != nil {
				stream.CloseAndReceive()
				return fmt.Errorf("%s line %d: expires_at %q is not an RFC 3339 time", path, line, rec[2])
			}
			row.ExpiresAt = timestamppb.New(t)
		}
		msg.Rows = append(msg.Rows, row)
		rows++
		size += len(row.Value) + len(row.Note) + 32
		if size >= importChunk {
			if err := send(); err != nil {
				break // the server's answer says why
			}
		}
	}
	if len(msg.Rows) > 0 || msg.List != "" {
		send()
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		return rpcError(err)
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "imported %d entries into %s from %d rows in %s (%.0f rows/s)\n",
		res.Msg.GetImported(), name, rows, el.Round(time.Millisecond), float64(rows)/el.Seconds())
	for _, s := range res.Msg.GetSkipped() {
		fmt.Fprintln(stdout, "skipped", s)
	}
	return nil
}

func exportCSV(ctx context.Context, client listsv1connect.ListServiceClient, name, path string, stdout io.Writer) error {
	var out io.Writer = stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return usageError("%v", err)
		}
		defer f.Close()
		out = f
	}
	w := csv.NewWriter(out)
	w.Write([]string{"value", "note", "expires_at"})
	token, n := "", 0
	for {
		res, err := client.ListEntries(ctx, connect.NewRequest(&listsv1.ListEntriesRequest{List: name, PageSize: 1000, PageToken: token}))
		if err != nil {
			return rpcError(err)
		}
		for _, e := range res.Msg.GetEntries() {
			exp := ""
			if e.GetExpiresAt() != nil {
				exp = e.GetExpiresAt().AsTime().Format(time.RFC3339)
			}
			w.Write([]string{e.GetValue(), e.GetNote(), exp})
			n++
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if path != "-" {
		fmt.Fprintf(stdout, "exported %d entries of %s to %s\n", n, name, path)
	}
	return nil
}
