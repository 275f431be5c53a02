// Package emailrisk is gavel's email detector: it reads the subject's email
// address and reports invalid syntax, disposable and free-mail domains,
// machine-generated local parts and aliases. The main package beside it
// serves it over the detector protocol.
package emailrisk

import (
	"context"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Signal names; the Rego policies match on them.
const (
	SignalInvalid         = "email.invalid"
	SignalDisposable      = "email.disposable"
	SignalFreeProvider    = "email.free_provider"
	SignalRandomLocalPart = "email.random_local_part"
	SignalPlusAlias       = "email.plus_alias"
)

const (
	// minRandomScore is the lowest random_local_part score worth reporting.
	minRandomScore = 0.3
	// gmailAliasDots is how many dots make a Gmail local part an alias rather
	// than a dotted name ("first.middle.last" has two).
	gmailAliasDots = 3
)

// Detector is the email detector. It is safe for concurrent use.
type Detector struct {
	lists *Lists
}

// New returns a detector matching against lists.
func New(lists *Lists) *Detector { return &Detector{lists: lists} }

// Describe implements sdk.Detector.
func (d *Detector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	return &detectorv1.DescribeResponse{
		Name:    "email",
		Version: "1.0.0",
		Signals: []string{
			SignalInvalid, SignalDisposable, SignalFreeProvider, SignalRandomLocalPart, SignalPlusAlias,
		},
		Checkpoints:   []string{"signup", "login", "profile_update"},
		LatencyBudget: durationpb.New(20 * time.Millisecond),
	}, nil
}

// Detect implements sdk.Detector. A request without an email gets no signal.
func (d *Detector) Detect(_ context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	email := req.GetSubject().GetProfile().GetEmail()
	if strings.TrimSpace(email) == "" {
		return &detectorv1.DetectResponse{}, nil
	}
	return &detectorv1.DetectResponse{Signals: d.Signals(email)}, nil
}

// Signals returns the signals for one address.
func (d *Detector) Signals(email string) []*detectorv1.Signal {
	a, reason := ParseAddress(email)
	if reason != "" {
		return []*detectorv1.Signal{
			sdk.NewSignal(SignalInvalid, 1, reason, map[string]any{"reason": reason}, 1),
		}
	}
	var out []*detectorv1.Signal
	if matched, how, ok := d.lists.disposableMatch(a.Domain, a.Registrable); ok {
		out = append(out, sdk.NewSignal(SignalDisposable, 1, a.Domain, map[string]any{
			"domain": a.Domain, "matched": matched, "match": how, "list": "disposable-email-domains",
		}, 0.95))
	} else if d.lists.Free.has(a.Domain) {
		out = append(out, sdk.NewSignal(SignalFreeProvider, 0.1, a.Domain, map[string]any{
			"domain": a.Domain, "list": "free-email-domains",
		}, 0.9))
	}

	mailbox := a.Mailbox
	if gmailLike(a.Domain) {
		mailbox = strings.ReplaceAll(mailbox, ".", "") // Gmail ignores dots
	}
	// Measure the parts as written, but on Gmail a dot inserted into a
	// generated string must not split its runs: use the undotted mailbox.
	f := LocalFeatures(a.Mailbox)
	if gmailLike(a.Domain) {
		g := LocalFeatures(mailbox)
		g.ConsonantRun = f.ConsonantRun
		f = g
	}
	if score := f.Score(); score >= minRandomScore {
		fired := f.Fired()
		names := make([]string, len(fired))
		for i, r := range fired {
			names[i] = r.name
		}
		out = append(out, sdk.NewSignal(SignalRandomLocalPart, round(score), a.Domain, map[string]any{
			"length":         f.Length,
			"digit_ratio":    round(f.DigitRatio),
			"entropy":        round(f.Entropy),
			"digit_run":      f.DigitRun,
			"hex_run":        f.HexRun,
			"class_switches": f.ClassSwitches,
			"consonant_run":  f.ConsonantRun,
			"vowel_ratio":    round(f.VowelRatio),
			"fired":          names,
		}, 0.7))
	}

	plus := strings.Contains(a.Local, "+")
	dots := gmailLike(a.Domain) && strings.Count(a.Mailbox, ".") >= gmailAliasDots
	if plus || dots {
		kind := "plus_tag"
		switch {
		case plus && dots:
			kind = "plus_tag_and_dots"
		case dots:
			kind = "dots"
		}
		out = append(out, sdk.NewSignal(SignalPlusAlias, 0.2, kind, map[string]any{
			"domain": a.Domain, "plus_tag": plus, "dots": strings.Count(a.Mailbox, "."),
		}, 1))
	}
	return out
}

func round(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }
