package decision

import (
	"testing"
	"time"
)

// TestRecentIndexKeepsTheReply: what the index keeps of a committed
// decision answers a retry as the first reply did (action, reasons as the
// account holder sees them, detector statuses and signal counts), without
// the input, the signals or any evidence; the committed record itself is
// left whole.
func TestRecentIndexKeepsTheReply(t *testing.T) {
	ev := map[string]any{"signal": "email.disposable", "score": 1.0}
	rec := &Record{
		DecisionID: "d-1", RequestID: "r-1", SubjectID: "acct-1", Checkpoint: "signup",
		DecidedAt: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC),
		Input:     map[string]any{"checkpoint": "signup"},
		Signals:   []Signal{{Name: "email.disposable", Score: 1, Evidence: ev}},
		Detectors: []DetectorResult{
			{Name: "email", Status: StatusOK, Signals: []Signal{{Name: "email.disposable", Score: 1, Evidence: ev}, {Name: "email.free_provider"}}},
			{Name: "geo", Status: StatusTimeout},
		},
		Verdict: Verdict{
			Action: Challenge,
			Reasons: []Reason{{
				Code: "EMAIL_DISPOSABLE", Action: Challenge, Title: "Temporary email address",
				Message: "Please use a permanent email address.", Explanation: "a disposable domain",
				Evidence: []map[string]any{ev}, Appealable: true,
			}},
			Suppressed: []Suppressed{{Code: "COUNTRY_MISMATCH", Evidence: []map[string]any{ev}}},
		},
	}
	x := newRecentIndex(4)
	x.add(rec)
	got, ok := x.get("r-1")
	if !ok {
		t.Fatal("get(r-1) = not found, want the committed decision")
	}
	if got.DecisionID != "d-1" || got.Verdict.Action != Challenge || got.Input != nil || got.Signals != nil || got.Verdict.Suppressed != nil {
		t.Errorf("kept %s %v input %v signals %v suppressed %v; want d-1 challenge without input, signals or suppressed reasons",
			got.DecisionID, got.Verdict.Action, got.Input, got.Signals, got.Verdict.Suppressed)
	}
	if len(got.Verdict.Reasons) != 1 {
		t.Fatalf("kept %d reasons, want 1", len(got.Verdict.Reasons))
	}
	r := got.Verdict.Reasons[0]
	if r.Code != "EMAIL_DISPOSABLE" || r.Title != "Temporary email address" || r.Message == "" || r.Explanation == "" || !r.Appealable || r.Evidence != nil {
		t.Errorf("kept reason %+v, want its code, texts and appealability without evidence", r)
	}
	if len(got.Detectors) != 2 || got.Detectors[0].Status != StatusOK || len(got.Detectors[0].Signals) != 2 ||
		got.Detectors[0].Signals[0].Evidence != nil || got.Detectors[1].Status != StatusTimeout {
		t.Errorf("kept detectors %+v, want email ok with 2 signals (no evidence) and geo timeout", got.Detectors)
	}
	if rec.Input == nil || rec.Verdict.Reasons[0].Evidence == nil || rec.Detectors[0].Signals[0].Evidence == nil || rec.Verdict.Suppressed == nil {
		t.Error("the committed record lost its input or evidence: the index must copy, not trim in place")
	}
}
