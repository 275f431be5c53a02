package sor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func record(action decision.Action, strike bool, holds ...decision.Restriction) *decision.Record {
	return &decision.Record{
		DecisionID: "0197261e-5c1a-7c4e-9a51-2f0b7d8e1a10",
		SubjectID:  "acct-19be55",
		Checkpoint: "payout_method_change",
		DecidedAt:  t0,
		Input:      map[string]any{"subject": map[string]any{"profile": map[string]any{"email": "marek.novak@seznam.cz"}}},
		Signals:    []decision.Signal{{Name: "linkage.shared_payout_account", Value: "acct-7, acct-9"}},
		Verdict: decision.Verdict{
			Action:       action,
			Strike:       strike,
			Restrictions: holds,
			Reasons: []decision.Reason{{
				Code: "PAYOUT_ACCOUNT_SHARED", Action: action, Title: "Payout account shared",
				Message: "Your payout account is used by other accounts.", Explanation: "linkage.shared_payout_account >= 3.",
				Ground: "Terms of Service §8.1", DSACategory: CategoryScamsAndFraud, DSAKeyword: "KEYWORD_INAUTHENTIC_ACCOUNTS",
				Evidence: []map[string]any{{"accounts": []string{"acct-7", "acct-9"}}}, Appealable: true,
			}},
		},
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	week := 7 * 24 * time.Hour
	tests := []struct {
		name                         string
		rec                          *decision.Record
		due                          bool
		account, monetary, provision string
		endAccount, endMon, endSvc   time.Time
	}{
		{name: "allow", rec: record(decision.Allow, false)},
		{name: "challenge without strike", rec: record(decision.Challenge, false)},
		{name: "dry run", rec: func() *decision.Record {
			r := record(decision.Restrict, true, decision.Restriction{Capability: "payouts"})
			r.DryRun = true
			return r
		}()},
		{name: "fallback", rec: func() *decision.Record {
			r := record(decision.Restrict, false, decision.Restriction{Capability: "payouts"})
			r.Fallback = true
			return r
		}()},
		{name: "monetary hold for a week", rec: record(decision.Restrict, true,
			decision.Restriction{Capability: "payouts", Duration: week}, decision.Restriction{Capability: "withdrawals", Duration: week}),
			due: true, monetary: MonetarySuspension, endMon: t0.Add(week)},
		{name: "monetary indefinite, provision for a week", rec: record(decision.Restrict, true,
			decision.Restriction{Capability: "payouts"}, decision.Restriction{Capability: "proposals", Duration: week}),
			due: true, monetary: MonetarySuspension, provision: ProvisionPartialSuspension, endSvc: t0.Add(week)},
		{name: "suspension", rec: func() *decision.Record {
			r := record(decision.Suspend, true, decision.Restriction{Capability: "payouts"}, decision.Restriction{Capability: "contracts"})
			r.Verdict.Duration = week
			return r
		}(), due: true, account: AccountSuspended, endAccount: t0.Add(week)},
		{name: "strike without a hold", rec: record(decision.Challenge, true), due: true, provision: ProvisionPartialSuspension},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ok := Build(tt.rec, Options{AppealWindow: 30 * 24 * time.Hour})
			if ok != tt.due {
				t.Fatalf("Build(%s) due = %v, want %v", tt.name, ok, tt.due)
			}
			if !ok {
				return
			}
			if s.DecisionAccount != tt.account || s.DecisionMonetary != tt.monetary || s.DecisionProvision != tt.provision {
				t.Errorf("measures = %q %q %q, want %q %q %q", s.DecisionAccount, s.DecisionMonetary, s.DecisionProvision, tt.account, tt.monetary, tt.provision)
			}
			if !s.EndAccount.Equal(tt.endAccount) || !s.EndMonetary.Equal(tt.endMon) || !s.EndService.Equal(tt.endSvc) {
				t.Errorf("end dates = %v %v %v, want %v %v %v", s.EndAccount, s.EndMonetary, s.EndService, tt.endAccount, tt.endMon, tt.endSvc)
			}
			if s.Category != CategoryScamsAndFraud || len(s.CategorySpecification) != 1 || s.AutomatedDecision != AutomatedFully ||
				!s.AutomatedDetection || s.SourceType != SourceVoluntary || s.DecisionGround != GroundIncompatible ||
				s.IncompatibleContentGround != "Terms of Service §8.1" || s.PUID != PUID(tt.rec.DecisionID) {
				t.Errorf("statement = %+v", s)
			}
			if len(s.Redress) != 3 || !s.Redress[0].Deadline.Equal(t0.Add(30*24*time.Hour)) {
				t.Errorf("redress = %+v", s.Redress)
			}
			b, _ := json.Marshal(s.Transparency())
			for _, personal := range []string{"acct-19be55", "acct-7", "marek", "seznam", tt.rec.DecisionID} {
				if strings.Contains(strings.ToLower(string(b)), personal) {
					t.Errorf("Transparency() contains %q: %s", personal, b)
				}
			}
		})
	}
}

func TestTransparencyFields(t *testing.T) {
	t.Parallel()
	s, _ := Build(record(decision.Restrict, true, decision.Restriction{Capability: "payouts"}), Options{})
	m := s.Transparency()
	for k, want := range map[string]any{
		"decision_monetary": MonetarySuspension, "end_date_monetary_restriction": nil, "application_date": "2026-03-14",
		"automated_detection": "Yes", "automated_decision": AutomatedFully, "category": CategoryScamsAndFraud,
		"decision_ground": GroundIncompatible, "source_type": SourceVoluntary,
	} {
		got, ok := m[k]
		if !ok || got != want {
			t.Errorf("Transparency()[%q] = %v (present %v), want %v", k, got, ok, want)
		}
	}
	for _, absent := range []string{"decision_account", "end_date_account_restriction", "decision_provision"} {
		if _, ok := m[absent]; ok {
			t.Errorf("Transparency() has %q for a measure not taken", absent)
		}
	}
}

func TestFactsBounded(t *testing.T) {
	t.Parallel()
	rec := record(decision.Restrict, true, decision.Restriction{Capability: "payouts"})
	rec.Verdict.Reasons[0].Explanation = strings.Repeat("é", 9000)
	s, _ := Build(rec, Options{})
	if n := len([]rune(s.DecisionFacts)); n > MaxFacts {
		t.Errorf("decision_facts has %d characters, want at most %d", n, MaxFacts)
	}
}

func TestManualDecisionIsNotAutomated(t *testing.T) {
	rec := record(decision.Suspend, true)
	rec.Source = decision.SourceManual
	rec.Manual = &decision.Manual{Kind: decision.ManualSuspend, ReasonCode: "IDENTITY_FRAUD", Reviewer: "k.ito", Note: "forged document"}
	s, ok := Build(rec, Options{AppealWindow: 30 * 24 * time.Hour})
	if !ok {
		t.Fatal("Build(manual suspension) = no statement, want one")
	}
	if s.AutomatedDetection || s.AutomatedDecision != AutomatedNot {
		t.Errorf("manual statement automated_detection %v automated_decision %s, want false and %s", s.AutomatedDetection, s.AutomatedDecision, AutomatedNot)
	}
	if !strings.HasPrefix(s.DecisionFacts, "A review of the account by the Trust & Safety team") {
		t.Errorf("manual statement facts = %q, want them to say a reviewer decided", s.DecisionFacts)
	}
	if strings.Contains(s.DecisionFacts, "forged document") || strings.Contains(s.DecisionFacts, "k.ito") {
		t.Errorf("manual statement facts = %q carry the reviewer's note or name", s.DecisionFacts)
	}
}
