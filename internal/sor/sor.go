// Package sor builds the statement of reasons (DSA Art. 17) of a
// restrictive decision from its ledger record and the reason catalog texts
// joined into it, and renders it in the DSA Transparency Database's format.
// A statement carries no personal data: no subject id, profile, evidence or
// signal value, only catalog texts, the checkpoint, the measures and dates.
//
// Measures, by what the decision took away:
//
//	suspend                               decision_account   DECISION_ACCOUNT_SUSPENDED
//	hold on payouts or withdrawals        decision_monetary  DECISION_MONETARY_SUSPENSION
//	hold on any other capability          decision_provision DECISION_PROVISION_PARTIAL_SUSPENSION
//	  (proposals, contracts, messaging)
//	a strike without a hold (a challenge  decision_provision DECISION_PROVISION_PARTIAL_SUSPENSION
//	  that withholds the step until the
//	  account holder verifies)
//
// A suspension holds every capability; it is stated as the account measure
// alone. End dates are the decision time plus the verdict's duration (the
// suspension) or the hold's duration (monetary and provision measures, the
// latest hold of each kind); none means indefinite, until lifted by a
// remedy or an appeal.
package sor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gavel/gavel/decision"
)

// DSA Transparency Database values.
const (
	AccountSuspended           = "DECISION_ACCOUNT_SUSPENDED"
	MonetarySuspension         = "DECISION_MONETARY_SUSPENSION"
	ProvisionPartialSuspension = "DECISION_PROVISION_PARTIAL_SUSPENSION"
	GroundIncompatible         = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
	CategoryScamsAndFraud      = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"
	SourceVoluntary            = "SOURCE_VOLUNTARY"
	AutomatedFully             = "AUTOMATED_DECISION_FULLY"
	AutomatedNot               = "AUTOMATED_DECISION_NOT_AUTOMATED"
	ContentTypeOther           = "CONTENT_TYPE_OTHER"

	// Length limits of the database's text fields.
	MaxFacts       = 5000
	MaxGround      = 500
	MaxExplanation = 2000
)

// EEA is the territorial scope of an account measure: it applies wherever
// the account is used, so in every EEA country.
var EEA = []string{"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
	"IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"}

// monetary are the capabilities whose hold is a monetary measure.
var monetary = map[string]bool{"payouts": true, "withdrawals": true}

// Options shape the statement.
type Options struct {
	// AppealWindow is how long after the decision an appeal may be filed.
	AppealWindow time.Duration
}

// Redress is one way to contest the decision.
type Redress struct {
	Kind        string // internal_complaint, out_of_court_settlement, judicial_redress
	Description string
	Deadline    time.Time // zero: none
}

// Statement is a statement of reasons.
type Statement struct {
	PUID                           string
	DecisionAccount                string
	DecisionProvision              string
	DecisionMonetary               string
	Capabilities                   []string
	ApplicationDate                time.Time
	EndAccount, EndMonetary        time.Time // zero: indefinite
	EndService                     time.Time
	DecisionGround                 string
	IncompatibleContentGround      string
	IncompatibleContentExplanation string
	DecisionFacts                  string
	Category                       string
	CategorySpecification          []string
	SourceType                     string
	AutomatedDetection             bool
	AutomatedDecision              string
	TerritorialScope               []string
	Redress                        []Redress
}

// Due reports whether a statement of reasons is due for rec: it took
// something away (a hold, a suspension or a strike) and had effect (neither
// a dry run nor a fallback).
func Due(rec *decision.Record) bool {
	if rec.DryRun || rec.Fallback {
		return false
	}
	v := &rec.Verdict
	return v.Action == decision.Suspend || len(v.Restrictions) > 0 || v.Strike
}

// PUID is the statement's platform unique id: a one-way hash of the
// decision id, the same on every export.
func PUID(decisionID string) string {
	sum := sha256.Sum256([]byte("gavel statement of reasons\x00" + decisionID))
	return "gavel-sor-" + hex.EncodeToString(sum[:16])
}

// Build returns the statement of reasons of rec, or false when none is due.
func Build(rec *decision.Record, opt Options) (*Statement, bool) {
	if !Due(rec) {
		return nil, false
	}
	v := &rec.Verdict
	at := rec.DecidedAt.UTC()
	s := &Statement{
		PUID:               PUID(rec.DecisionID),
		ApplicationDate:    at,
		DecisionGround:     GroundIncompatible,
		SourceType:         SourceVoluntary,
		AutomatedDetection: true,
		AutomatedDecision:  AutomatedFully,
		TerritorialScope:   slices.Clone(EEA),
	}
	if rec.IsManual() {
		// A reviewer found it and decided it.
		s.AutomatedDetection, s.AutomatedDecision = false, AutomatedNot
	}
	if v.Action == decision.Suspend {
		s.DecisionAccount = AccountSuspended
		s.EndAccount = rec.Until(v.Duration)
	}
	var monIndef, provIndef bool
	for _, r := range v.Restrictions {
		s.Capabilities = append(s.Capabilities, r.Capability)
		if v.Action == decision.Suspend {
			continue
		}
		end := rec.Until(r.Duration)
		if monetary[r.Capability] {
			s.DecisionMonetary = MonetarySuspension
			monIndef = monIndef || end.IsZero()
			s.EndMonetary = later(s.EndMonetary, end)
		} else {
			s.DecisionProvision = ProvisionPartialSuspension
			provIndef = provIndef || end.IsZero()
			s.EndService = later(s.EndService, end)
		}
	}
	if monIndef {
		s.EndMonetary = time.Time{}
	}
	if provIndef {
		s.EndService = time.Time{}
	}
	if s.DecisionAccount == "" && s.DecisionMonetary == "" && s.DecisionProvision == "" {
		// A strike without a hold: the step is withheld until the account
		// holder completes the remedy.
		s.DecisionProvision = ProvisionPartialSuspension
	}

	var grounds, explanations, facts, keywords []string
	s.Category = CategoryScamsAndFraud
	for i := range v.Reasons {
		r := &v.Reasons[i]
		if r.Ground != "" && !slices.Contains(grounds, r.Ground) {
			grounds = append(grounds, r.Ground)
		}
		if r.DSACategory != "" {
			s.Category = r.DSACategory
		}
		if r.DSAKeyword != "" && !slices.Contains(keywords, r.DSAKeyword) {
			keywords = append(keywords, r.DSAKeyword)
		}
		title := r.Title
		if title == "" {
			title = r.Code
		}
		if r.Message != "" {
			explanations = append(explanations, title+": "+r.Message)
		} else {
			explanations = append(explanations, title)
		}
		f := title + " (" + r.Code + ")"
		if r.Explanation != "" {
			f += ": " + r.Explanation
		}
		facts = append(facts, f)
	}
	slices.Sort(keywords)
	s.CategorySpecification = keywords
	s.IncompatibleContentGround = clip(strings.Join(grounds, "; "), MaxGround)
	s.IncompatibleContentExplanation = clip(strings.Join(explanations, " "), MaxExplanation)

	var b strings.Builder
	if rec.IsManual() {
		b.WriteString("A review of the account by the Trust & Safety team led to the measure")
	} else {
		fmt.Fprintf(&b, "Automated identity checks at the %s step of the account's journey led to the measure", strings.ReplaceAll(rec.Checkpoint, "_", " "))
	}
	if len(s.Capabilities) > 0 && v.Action != decision.Suspend {
		fmt.Fprintf(&b, " on %s", strings.Join(s.Capabilities, ", "))
	}
	b.WriteString(". ")
	if v.Strike {
		b.WriteString("The decision counts as a strike on the account; repeated strikes lead to stronger measures. ")
	}
	if v.Remedy != nil && v.Remedy.Message != "" {
		b.WriteString("Remedy: " + v.Remedy.Message + " ")
	}
	b.WriteString("Reasons: " + strings.Join(facts, " "))
	s.DecisionFacts = clip(strings.TrimSpace(b.String()), MaxFacts)

	complaint := Redress{
		Kind:        "internal_complaint",
		Description: "Appeal the decision through the platform's internal complaint-handling system; a human reviewer decides the appeal.",
	}
	if opt.AppealWindow > 0 {
		complaint.Deadline = at.Add(opt.AppealWindow)
	}
	s.Redress = []Redress{
		complaint,
		{Kind: "out_of_court_settlement", Description: "Refer the dispute to a certified out-of-court dispute settlement body (DSA Art. 21)."},
		{Kind: "judicial_redress", Description: "Bring the matter before the competent court."},
	}
	return s, true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// clip shortens s to at most n characters, ending with an ellipsis when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Transparency returns the statement as a DSA Transparency Database
// statement: its field names, values and date format (YYYY-MM-DD). An end
// date is null when its measure is indefinite and left out when its measure
// was not taken. The values are JSON types (string, []any, nil).
func (s *Statement) Transparency() map[string]any {
	day := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.DateOnly)
	}
	list := func(xs []string) []any {
		out := make([]any, len(xs))
		for i, x := range xs {
			out[i] = x
		}
		return out
	}
	m := map[string]any{
		"puid":                             s.PUID,
		"decision_ground":                  s.DecisionGround,
		"incompatible_content_ground":      s.IncompatibleContentGround,
		"incompatible_content_explanation": s.IncompatibleContentExplanation,
		"content_type":                     []any{ContentTypeOther},
		"content_type_other":               "Marketplace account and identity information",
		"content_date":                     day(s.ApplicationDate),
		"category":                         s.Category,
		"source_type":                      s.SourceType,
		"automated_detection":              yesNo(s.AutomatedDetection),
		"automated_decision":               s.AutomatedDecision,
		"decision_facts":                   s.DecisionFacts,
		"application_date":                 day(s.ApplicationDate),
		"territorial_scope":                list(s.TerritorialScope),
	}
	if len(s.CategorySpecification) > 0 {
		m["category_specification"] = list(s.CategorySpecification)
	}
	if s.DecisionAccount != "" {
		m["decision_account"] = s.DecisionAccount
		m["end_date_account_restriction"] = day(s.EndAccount)
	}
	if s.DecisionMonetary != "" {
		m["decision_monetary"] = s.DecisionMonetary
		m["end_date_monetary_restriction"] = day(s.EndMonetary)
	}
	if s.DecisionProvision != "" {
		m["decision_provision"] = s.DecisionProvision
		m["end_date_service_restriction"] = day(s.EndService)
	}
	return m
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}
