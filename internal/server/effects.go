package server

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// effectToProto converts an effect of a decision and its state now. Who
// ended it is for reviewers; the description is in the account holder's
// words.
func effectToProto(e decision.Effect, view decisionv1.View) *decisionv1.Effect {
	out := &decisionv1.Effect{
		Kind:        e.Kind,
		Capability:  e.Capability,
		Since:       timestamppb.New(e.Since),
		State:       e.State,
		Description: describeEffect(e),
	}
	if !e.Until.IsZero() {
		out.Until = timestamppb.New(e.Until)
	}
	if !e.StateAt.IsZero() {
		out.StateAt = timestamppb.New(e.StateAt)
	}
	if view == decisionv1.View_VIEW_REVIEWER {
		out.By, out.Reviewer = e.By, e.Reviewer
	}
	return out
}

// describeEffect says what an effect does to the account now, as the
// account holder may be told.
func describeEffect(e decision.Effect) string {
	var what string
	switch e.Kind {
	case decision.EffectHold:
		what = fmt.Sprintf("The hold on %s", e.Capability)
	case decision.EffectSuspension:
		what = "The suspension of your account"
	case decision.EffectStrike:
		what = "The warning recorded on your account"
	default:
		what = "This measure"
	}
	day := func(t time.Time) string { return t.UTC().Format("2 January 2006") }
	switch e.State {
	case decision.StateInForce:
		if e.Until.IsZero() {
			return what + " is in force until it is lifted."
		}
		return fmt.Sprintf("%s is in force until %s.", what, day(e.Until))
	case decision.StateExpired:
		return fmt.Sprintf("%s ended on %s.", what, day(e.StateAt))
	case decision.StateRemedied:
		return fmt.Sprintf("%s was lifted on %s after you completed the requested verification.", what, day(e.StateAt))
	case decision.StateLifted:
		return fmt.Sprintf("%s was lifted on %s after a review by our Trust & Safety team.", what, day(e.StateAt))
	case decision.StateOverturned:
		return fmt.Sprintf("%s was withdrawn on %s because your appeal was successful.", what, day(e.StateAt))
	}
	return what + "."
}
