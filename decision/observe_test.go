package decision

import (
	"fmt"
	"reflect"
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

// TestRecentIndexSharesReasons: kept decisions whose reasons are the same
// but for their evidence share one list; any other difference keeps its
// own, with its own texts.
func TestRecentIndexSharesReasons(t *testing.T) {
	reason := func(message string, score float64) []Reason {
		return []Reason{{Code: "EMAIL_DISPOSABLE", Action: Challenge, Title: "Temporary email address", Message: message,
			Evidence: []map[string]any{{"score": score}}, Appealable: true}}
	}
	x := newRecentIndex(8)
	for i, r := range [][]Reason{reason("Please use a permanent email address.", 1), reason("Please use a permanent email address.", 0.9),
		reason("Use another address.", 1)} {
		x.add(&Record{DecisionID: fmt.Sprint("d-", i), RequestID: fmt.Sprint("r-", i), Verdict: Verdict{Action: Challenge, Reasons: r}})
	}
	kept := make([][]Reason, 3)
	for i := range kept {
		rec, ok := x.get(fmt.Sprint("r-", i))
		if !ok || len(rec.Verdict.Reasons) != 1 || rec.Verdict.Reasons[0].Evidence != nil {
			t.Fatalf("get(r-%d) = %+v, %v; want one reason without evidence", i, rec, ok)
		}
		kept[i] = rec.Verdict.Reasons
	}
	if &kept[0][0] != &kept[1][0] {
		t.Error("two decisions with the same reasons (but for evidence) keep a list each, want one shared")
	}
	if &kept[0][0] == &kept[2][0] || kept[2][0].Message != "Use another address." {
		t.Errorf("a decision with another message kept %q (shared: %v), want its own", kept[2][0].Message, &kept[0][0] == &kept[2][0])
	}
}

// TestReasonsKeyCoversEveryField: the key that shares kept reasons tells
// apart two reasons differing in any field the index keeps, so that a field
// added to Reason cannot be answered from another decision's reasons.
func TestReasonsKeyCoversEveryField(t *testing.T) {
	base := Reason{Code: "C", Action: Warn, Title: "t", Message: "m", Explanation: "e", Ground: "g",
		DSACategory: "c", DSAKeyword: "k", Rule: "r"}
	rt := reflect.TypeFor[Reason]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		if f.Name == "Evidence" {
			continue // not kept
		}
		changed := base
		v := reflect.ValueOf(&changed).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v.SetInt(v.Int() + 1)
		default:
			t.Fatalf("Reason.%s is a %s: reasonsKey and this test do not know it", f.Name, v.Kind())
		}
		if reasonsKey([]Reason{base}) == reasonsKey([]Reason{changed}) {
			t.Errorf("reasonsKey does not change with Reason.%s", f.Name)
		}
	}
	// Lengths keep fields apart: moving a byte from one field to the next
	// is another list.
	a, b := base, base
	a.Title, a.Message = "ab", "c"
	b.Title, b.Message = "a", "bc"
	if reasonsKey([]Reason{a}) == reasonsKey([]Reason{b}) {
		t.Error("reasonsKey is the same for titles and messages split differently")
	}
}
