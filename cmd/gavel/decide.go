package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

func runDecide(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("decide", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	var (
		file       = fs.StringP("file", "f", "", "read the DecideRequest from a JSON file (- for stdin); flags override its fields")
		requestID  = fs.String("request-id", "", "idempotency key (default: a new UUID)")
		subject    = fs.String("subject", "", "account id")
		kind       = fs.String("kind", "", "account kind (freelancer, client, agency)")
		createdAt  = fs.String("created-at", "", "account creation time, RFC 3339")
		checkpoint = fs.String("checkpoint", "", "checkpoint (signup, login, payout_method_change, ...)")
		email      = fs.String("email", "", "claimed email")
		phone      = fs.String("phone", "", "claimed phone")
		country    = fs.String("country", "", "claimed country (ISO 3166-1 alpha-2)")
		given      = fs.String("given-name", "", "claimed given name")
		family     = fs.String("family-name", "", "claimed family name")
		ip         = fs.String("ip", "", "client IP address")
		device     = fs.String("device", "", "device id")
		userAgent  = fs.String("user-agent", "", "user agent")
		attrs      = fs.StringArray("attr", nil, "attribute path=value, e.g. document.country=FR (repeatable; values parsed as JSON when they can be)")
		signals    = fs.StringArray("signal", nil, "caller signal name=score[:value], e.g. geo.hosting_asn=1 (repeatable)")
		dryRun     = fs.Bool("dry-run", false, "evaluate without recording enforcement")
		occurredAt = fs.String("occurred-at", "", "when the event happened, RFC 3339 (imports, backfills; at most 30 days ago)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}

	req := &decisionv1.DecideRequest{}
	if *file != "" {
		var b []byte
		var err error
		if *file == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(*file)
		}
		if err != nil {
			return usageError("read %s: %v", *file, err)
		}
		if err := protojson.Unmarshal(b, req); err != nil {
			return usageError("%s is not a DecideRequest: %v", *file, err)
		}
	}
	if req.Subject == nil {
		req.Subject = &decisionv1.Subject{}
	}
	if req.Subject.Profile == nil {
		req.Subject.Profile = &decisionv1.Profile{}
	}
	if req.Context == nil {
		req.Context = &decisionv1.RequestContext{}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&req.RequestId, *requestID)
	set(&req.Subject.Id, *subject)
	set(&req.Subject.Kind, *kind)
	set(&req.Checkpoint, *checkpoint)
	p := req.Subject.Profile
	set(&p.Email, *email)
	set(&p.Phone, *phone)
	set(&p.Country, *country)
	set(&p.GivenName, *given)
	set(&p.FamilyName, *family)
	set(&req.Context.Ip, *ip)
	set(&req.Context.DeviceId, *device)
	set(&req.Context.UserAgent, *userAgent)
	if *dryRun {
		req.DryRun = true
	}
	if req.RequestId == "" {
		req.RequestId = uuid.NewString()
	}
	if *createdAt != "" {
		t, err := time.Parse(time.RFC3339, *createdAt)
		if err != nil {
			return usageError("--created-at: %v", err)
		}
		req.Subject.CreatedAt = timestamppb.New(t)
	}
	if *occurredAt != "" {
		t, err := time.Parse(time.RFC3339, *occurredAt)
		if err != nil {
			return usageError("--occurred-at: %v", err)
		}
		req.OccurredAt = timestamppb.New(t)
	}
	if len(*attrs) > 0 {
		m := map[string]any{}
		if req.Attributes != nil {
			m = req.Attributes.AsMap()
		}
		for _, a := range *attrs {
			path, value, ok := strings.Cut(a, "=")
			if !ok || path == "" {
				return usageError("--attr %q: want path=value", a)
			}
			setPath(m, strings.Split(path, "."), parseValue(value))
		}
		s, err := structpb.NewStruct(m)
		if err != nil {
			return usageError("--attr: %v", err)
		}
		req.Attributes = s
	}
	for _, sig := range *signals {
		name, rest, ok := strings.Cut(sig, "=")
		if !ok {
			return usageError("--signal %q: want name=score[:value]", sig)
		}
		scoreText, value, _ := strings.Cut(rest, ":")
		score, err := strconv.ParseFloat(scoreText, 64)
		if err != nil {
			return usageError("--signal %q: score: %v", sig, err)
		}
		req.Signals = append(req.Signals, &decisionv1.Signal{Name: name, Score: score, Value: value, Confidence: 1})
	}

	client, err := cf.decisionClient()
	if err != nil {
		return err
	}
	cctx, cancel := cf.context(ctx)
	defer cancel()
	resp, err := client.Decide(cctx, connect.NewRequest(req))
	if err != nil {
		return rpcError(err)
	}
	if cf.json {
		return printJSON(stdout, resp.Msg)
	}
	printDecision(stdout, resp.Msg)
	return nil
}

func setPath(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// parseValue reads numbers and booleans as such; everything else is text.
func parseValue(s string) any {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	if b, err := strconv.ParseBool(s); err == nil {
		return b
	}
	return s
}

func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitUnpopulated: false}.Marshal(m)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, string(b))
	return nil
}

func actionName(a decisionv1.Action) string {
	return strings.ToLower(strings.TrimPrefix(a.String(), "ACTION_"))
}

// printDecision renders a decision for a person at a terminal.
func printDecision(w io.Writer, d *decisionv1.DecideResponse) {
	fmt.Fprintf(w, "decision   %s\n", d.GetDecisionId())
	flags := []string{}
	if d.GetFallback() {
		flags = append(flags, "FALLBACK: policy could not decide")
	}
	if d.GetDryRun() {
		flags = append(flags, "dry run")
	}
	if d.GetReplayed() {
		flags = append(flags, "replayed: this request_id was already decided")
	}
	action := strings.ToUpper(actionName(d.GetAction()))
	if len(flags) > 0 {
		action += "  (" + strings.Join(flags, "; ") + ")"
	}
	fmt.Fprintf(w, "action     %s\n", action)
	fmt.Fprintf(w, "subject    %s at %s\n", d.GetSubjectId(), d.GetCheckpoint())
	if d.GetStrike() {
		fmt.Fprintln(w, "strike     yes")
	}
	if d.GetAppealable() {
		fmt.Fprintln(w, "appealable yes")
	}
	if d.GetSource() == "manual" {
		fmt.Fprintln(w, "source     manual (a reviewer's action)")
	}
	if d.GetSupersededId() != "" {
		fmt.Fprintf(w, "superseded %s was a fallback for a request already decided; this is that decision\n", d.GetSupersededId())
	}
	now := map[string]string{} // what became of each hold the decision placed
	for _, e := range d.GetEffects() {
		if e.GetKind() == "hold" && e.GetState() != "in_force" {
			now[e.GetCapability()] = strings.ReplaceAll(e.GetState(), "_", " ")
		}
	}
	for _, r := range d.GetRestrictions() {
		until := "until lifted"
		if r.GetUntil() != nil {
			until = "until " + r.GetUntil().AsTime().Format(time.RFC3339)
		}
		if r.GetDecisionId() != "" {
			until += ", held since decision " + r.GetDecisionId()
		} else if st := now[r.GetCapability()]; st != "" {
			until += " (now " + st + ")"
		}
		fmt.Fprintf(w, "restricted %s %s\n", r.GetCapability(), until)
	}
	if d.GetOverturned() {
		by := ""
		if d.GetOverturnedBy() != "" {
			by = " by appeal " + d.GetOverturnedBy()
		}
		fmt.Fprintf(w, "overturned yes%s\n", by)
	}
	if len(d.GetEffects()) > 0 {
		fmt.Fprintln(w, "effects now")
		for _, e := range d.GetEffects() {
			what := e.GetKind()
			if e.GetCapability() != "" {
				what += " " + e.GetCapability()
			}
			by := ""
			if e.GetBy() != "" {
				by = " (by " + e.GetBy()
				if e.GetReviewer() != "" {
					by += ", " + e.GetReviewer()
				}
				by += ")"
			}
			fmt.Fprintf(w, "  %-22s %s%s: %s\n", what, strings.ReplaceAll(e.GetState(), "_", " "), by, e.GetDescription())
		}
	}
	if len(d.GetReasons()) > 0 {
		fmt.Fprintln(w, "reasons")
		for _, r := range d.GetReasons() {
			fmt.Fprintf(w, "  %s [%s] %s\n", r.GetCode(), actionName(r.GetAction()), r.GetTitle())
			if r.GetMessage() != "" {
				fmt.Fprintf(w, "    %s\n", r.GetMessage())
			}
			if r.GetExplanation() != "" {
				fmt.Fprintf(w, "    reviewer: %s\n", r.GetExplanation())
			}
			if r.GetGround() != "" {
				fmt.Fprintf(w, "    ground: %s\n", r.GetGround())
			}
			if r.GetRule() != "" {
				fmt.Fprintf(w, "    rule: %s\n", r.GetRule())
			}
			for _, e := range r.GetEvidence() {
				b, _ := protojson.Marshal(e)
				fmt.Fprintf(w, "    evidence: %s\n", b)
			}
		}
	}
	if rem := d.GetRemedy(); rem != nil {
		fmt.Fprintf(w, "remedy     %s at %s", rem.GetCode(), rem.GetCheckpoint())
		if rem.GetMessage() != "" {
			fmt.Fprintf(w, ": %s", rem.GetMessage())
		}
		fmt.Fprintln(w)
	}
	if len(d.GetDetectors()) > 0 {
		fmt.Fprintln(w, "detectors")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, det := range d.GetDetectors() {
			status := strings.ToLower(strings.TrimPrefix(det.GetStatus().String(), "DETECTOR_STATUS_"))
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d signals\n", det.GetName(), status, det.GetLatency().AsDuration().Round(10*time.Microsecond), det.GetSignals())
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "bundle     %s\n", d.GetBundleRevision())
}
