package outcomes

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/plugins/detectors/model/fraudmodel"
)

type restrictAll struct{}

func (restrictAll) Evaluate(context.Context, map[string]any) (decision.Verdict, error) {
	return decision.Verdict{Action: decision.Restrict, BundleRevision: "r1", Strike: true,
		Reasons: []decision.Reason{{Code: "PAYOUT_HOLDER_MISMATCH", Action: decision.Restrict, Appealable: true}}}, nil
}

// TestExportLabelsAppealOutcomes runs decisions through the engine into a
// real SQLite ledger, resolves appeals on some, and exports: upheld is
// fraud, overturned honest, the rest left out; no personal data leaves.
func TestExportLabelsAppealOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lc := ledger.DefaultConfig()
	lc.Path = filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(ctx, lc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	e, err := decision.New(decision.Config{Checkpoints: []string{"withdrawal"}, FailureAction: decision.Challenge,
		Now: func() time.Time { return now }}, nil, restrictAll{}, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	decide := func(id, email string, dry bool) string {
		rec, err := e.Decide(ctx, &decision.Request{RequestID: id, Checkpoint: "withdrawal", DryRun: dry,
			Subject: decision.Subject{ID: "acct-" + id, CreatedAt: now.Add(-3 * 24 * time.Hour), Profile: decision.Profile{
				GivenName: "Ana", FamilyName: "Silva", Country: "PT", Email: email, Phone: "+351912345678"}},
			Context:    decision.Context{IP: "193.136.0.10", DeviceID: "dev-" + id},
			Attributes: map[string]any{"payout": map[string]any{"method": "crypto", "country": "NG", "holder_name": "Someone Else"}}})
		if err != nil {
			t.Fatalf("Decide(%s) = %v", id, err)
		}
		return rec.DecisionID
	}
	resolve := func(decisionID string, outcome ledger.AppealStatus) {
		a, err := l.FileAppeal(ctx, ledger.AppealFiling{DecisionID: decisionID, Statement: "it is mine", At: now.Add(time.Hour), Window: 720 * time.Hour})
		if err != nil {
			t.Fatalf("FileAppeal(%s) = %v", decisionID, err)
		}
		if outcome != ledger.AppealOpen {
			if _, err := l.ResolveAppeal(ctx, ledger.AppealResolution{AppealID: a.AppealID, Outcome: outcome, Reviewer: "rev", At: now.Add(2 * time.Hour)}); err != nil {
				t.Fatalf("ResolveAppeal(%s) = %v", decisionID, err)
			}
		}
	}
	upheld := decide("u1", "x7k2q9@mailinator.com", false)
	overturned := decide("o1", "ana.silva@gmail.com", false)
	open := decide("p1", "ana.silva@gmail.com", false)
	decide("n1", "ana.silva@gmail.com", false) // never appealed
	resolve(upheld, ledger.AppealUpheld)
	resolve(overturned, ledger.AppealOverturned)
	resolve(open, ledger.AppealOpen)

	var buf bytes.Buffer
	c, err := Export(ctx, l, ledger.Filter{}, &buf)
	if err != nil {
		t.Fatalf("Export = %v", err)
	}
	if c != (Counts{Fraud: 1, Honest: 1, Unresolved: 2}) {
		t.Errorf("Export counts = %+v, want 1 fraud, 1 honest, 2 unresolved", c)
	}
	for _, pii := range []string{"Silva", "mailinator", "gmail", "+351", "193.136", "dev-", "Someone"} {
		if strings.Contains(buf.String(), pii) {
			t.Errorf("export contains %q:\n%s", pii, buf.String())
		}
	}
	exs, err := fraudmodel.ReadOutcomes(&buf)
	if err != nil || len(exs) != 2 {
		t.Fatalf("Read(export) = %d examples, %v; want 2", len(exs), err)
	}
	got := map[string]fraudmodel.Outcome{}
	for _, ex := range exs {
		got[ex.DecisionID] = ex
	}
	if got[upheld].Label != fraudmodel.LabelFraud || got[upheld].Source != SourceAppealUpheld ||
		got[overturned].Label != fraudmodel.LabelHonest || got[overturned].Source != SourceAppealOverturned {
		t.Errorf("labels = %+v, want the upheld one fraud and the overturned one honest", got)
	}
	x, err := got[upheld].Vector()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"email_disposable_like": 1, "payout_high_risk": 1, "payout_country_mismatch": 1,
		"new_account_at_money": 1, "checkpoint_withdrawal": 1, "name_present": 1}
	for i, n := range fraudmodel.FeatureNames {
		if w, ok := want[n]; ok && x[i] != w {
			t.Errorf("upheld outcome feature %s = %v, want %v", n, x[i], w)
		}
	}
}

func TestReadRejectsBadLines(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"decision_id":"d","label":"maybe"}`, `{"decision_id":`} {
		if _, err := fraudmodel.ReadOutcomes(strings.NewReader(in)); err == nil {
			t.Errorf("Read(%s) = nil error, want one", in)
		}
	}
	ex := fraudmodel.Outcome{DecisionID: "d", Label: fraudmodel.LabelFraud, Features: map[string]*float64{}}
	if _, err := ex.Vector(); err == nil || !strings.Contains(err.Error(), "export again") {
		t.Errorf("Vector(no features) = %v, want an error asking for a new export", err)
	}
}
