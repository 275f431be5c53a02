package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/sor"
	"github.com/gavel/gavel/ledger"
	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// statementOf returns the statement of reasons of a restrictive decision,
// or nil when none is due.
func statementOf(rec *decision.Record, appealWindow time.Duration) *decisionv1.StatementOfReasons {
	s, ok := sor.Build(rec, sor.Options{AppealWindow: appealWindow})
	if !ok {
		return nil
	}
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	p := &decisionv1.StatementOfReasons{
		Puid:                           s.PUID,
		DecisionAccount:                s.DecisionAccount,
		DecisionProvision:              s.DecisionProvision,
		DecisionMonetary:               s.DecisionMonetary,
		RestrictedCapabilities:         s.Capabilities,
		ApplicationDate:                ts(s.ApplicationDate),
		EndDateAccountRestriction:      ts(s.EndAccount),
		EndDateMonetaryRestriction:     ts(s.EndMonetary),
		EndDateServiceRestriction:      ts(s.EndService),
		DecisionGround:                 s.DecisionGround,
		IncompatibleContentGround:      s.IncompatibleContentGround,
		IncompatibleContentExplanation: s.IncompatibleContentExplanation,
		DecisionFacts:                  s.DecisionFacts,
		Category:                       s.Category,
		CategorySpecification:          s.CategorySpecification,
		SourceType:                     s.SourceType,
		AutomatedDetection:             s.AutomatedDetection,
		AutomatedDecision:              s.AutomatedDecision,
		TerritorialScope:               s.TerritorialScope,
	}
	for _, r := range s.Redress {
		p.Redress = append(p.Redress, &decisionv1.Redress{Kind: r.Kind, Description: r.Description, Deadline: ts(r.Deadline)})
	}
	return p
}

// GetRuleStats reports each reason code's track record from the ledger.
func (h *adminHandler) GetRuleStats(ctx context.Context, req *connect.Request[adminv1.GetRuleStatsRequest]) (*connect.Response[adminv1.GetRuleStatsResponse], error) {
	var since, until time.Time
	if req.Msg.GetSince() != nil {
		since = req.Msg.GetSince().AsTime()
	}
	if req.Msg.GetUntil() != nil {
		until = req.Msg.GetUntil().AsTime()
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return nil, invalidArgument(decision.ValidationError{{Field: "until", Reason: "must be after since"}})
	}
	var days []string
	if req.Msg.GetDaily() {
		if since.IsZero() {
			return nil, invalidArgument(decision.ValidationError{{Field: "since", Reason: "is required for daily counts"}})
		}
		end := until
		if end.IsZero() {
			end = time.Now()
		}
		for d := since.UTC().Truncate(24 * time.Hour); d.Before(end); d = d.Add(24 * time.Hour) {
			if len(days) == maxRuleDays {
				return nil, invalidArgument(decision.ValidationError{{Field: "since", Reason: fmt.Sprintf("daily counts cover at most %d days", maxRuleDays)}})
			}
			days = append(days, d.Format(time.DateOnly))
		}
	}
	// With daily counts, one scan gives both: the totals are their sums.
	var (
		stats []ledger.RuleStat
		err   error
	)
	byCode := map[string][]ledger.RuleDay{}
	if days != nil {
		var daily []ledger.RuleDay
		if daily, err = h.s.ledger.RuleDaily(ctx, since, until); err == nil {
			for _, d := range daily {
				if len(byCode[d.Code]) == 0 {
					stats = append(stats, ledger.RuleStat{Code: d.Code})
				}
				byCode[d.Code] = append(byCode[d.Code], d)
				st := &stats[len(stats)-1]
				st.Fired, st.Appealed, st.Overturned = st.Fired+d.Fired, st.Appealed+d.Appealed, st.Overturned+d.Overturned
			}
		}
	} else {
		stats, err = h.s.ledger.RuleStatsBetween(ctx, since, until)
	}
	if err != nil {
		h.s.log.Error("GetRuleStats failed", "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("cannot read rule statistics from the ledger right now"))
	}
	dayIndex := make(map[string]int, len(days))
	for i, d := range days {
		dayIndex[d] = i
	}
	out := &adminv1.GetRuleStatsResponse{Days: days}
	for _, s := range stats {
		r := &adminv1.RuleStats{Code: s.Code, Fired: s.Fired, Appealed: s.Appealed, Overturned: s.Overturned}
		if days != nil {
			r.FiredDaily, r.OverturnedDaily = make([]int64, len(days)), make([]int64, len(days))
			for _, d := range byCode[s.Code] {
				if i, ok := dayIndex[d.Day]; ok {
					r.FiredDaily[i], r.OverturnedDaily[i] = d.Fired, d.Overturned
				}
			}
		}
		if s.Fired > 0 {
			r.OverturnRate = float64(s.Overturned) / float64(s.Fired)
		}
		if s.Appealed > 0 {
			r.AppealOverturnRate = float64(s.Overturned) / float64(s.Appealed)
		}
		out.Rules = append(out.Rules, r)
	}
	return connect.NewResponse(out), nil
}

// maxRuleDays bounds the daily counts of GetRuleStats.
const maxRuleDays = 366

// exportBatch is how many statements one stream message carries.
const exportBatch = 100

// ExportStatements streams the statements of reasons of the restrictive
// decisions made in [since, until) in the DSA Transparency Database's
// format, oldest first, reading the ledger a page at a time.
func (h *adminHandler) ExportStatements(ctx context.Context, req *connect.Request[adminv1.ExportStatementsRequest], stream *connect.ServerStream[adminv1.ExportStatementsResponse]) error {
	var since, until time.Time
	if req.Msg.GetSince() != nil {
		since = req.Msg.GetSince().AsTime()
	}
	until = time.Now()
	if req.Msg.GetUntil() != nil {
		until = req.Msg.GetUntil().AsTime()
	}
	if !since.IsZero() && !until.After(since) {
		return invalidArgument(decision.ValidationError{{Field: "until", Reason: "must be after since"}})
	}
	opt := sor.Options{AppealWindow: h.s.cfg.Appeals.Window}
	token := ""
	for {
		recs, next, err := h.s.ledger.Restrictive(ctx, since, until, exportBatch, token)
		if err != nil {
			if ctx.Err() != nil {
				return connect.NewError(connect.CodeCanceled, errors.New("export canceled"))
			}
			h.s.log.Error("ExportStatements failed", "error", err)
			return connect.NewError(connect.CodeUnavailable, errors.New("cannot read decisions from the ledger right now"))
		}
		msg := &adminv1.ExportStatementsResponse{}
		for _, rec := range recs {
			s, ok := sor.Build(rec, opt)
			if !ok {
				continue
			}
			st, err := structpb.NewStruct(s.Transparency())
			if err != nil {
				h.s.log.Error("ExportStatements: statement does not convert", "decision_id", rec.DecisionID, "error", err)
				return connect.NewError(connect.CodeInternal, errors.New("internal error"))
			}
			msg.Statements = append(msg.Statements, st)
		}
		if len(msg.Statements) > 0 {
			if err := stream.Send(msg); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		token = next
	}
}
