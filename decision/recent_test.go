package decision

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRecentIndexShares: kept decisions whose reasons (but for evidence),
// restrictions and detectors' identities are the same share one copy of
// each; any difference keeps its own, and every decision its own latencies
// and signal counts.
func TestRecentIndexShares(t *testing.T) {
	decide := func(i int, message string, capability string, version string) *Record {
		return &Record{
			DecisionID: fmt.Sprint("d-", i), RequestID: fmt.Sprint("r-", i),
			Detectors: []DetectorResult{{Name: "email", Version: version, Status: StatusOK, Latency: time.Duration(i+1) * time.Millisecond,
				Signals: make([]Signal, i+1)}},
			Verdict: Verdict{Action: Restrict,
				Reasons: []Reason{{Code: "EMAIL_DISPOSABLE", Action: Challenge, Title: "Temporary email address", Message: message,
					Evidence: []map[string]any{{"score": float64(i)}}, Appealable: true}},
				Restrictions: []Restriction{{Capability: capability, Duration: time.Hour}},
			},
		}
	}
	x := newRecentIndex(8)
	x.add(decide(0, "Use a permanent address.", "payouts", "1.0.0"))
	x.add(decide(1, "Use a permanent address.", "payouts", "1.0.0"))
	x.add(decide(2, "Use another address.", "withdrawals", "1.0.1"))
	k := func(i int) *kept { return x.byID[fmt.Sprint("r-", i)] }
	if &k(0).rec.Verdict.Reasons[0] != &k(1).rec.Verdict.Reasons[0] ||
		&k(0).rec.Verdict.Restrictions[0] != &k(1).rec.Verdict.Restrictions[0] || k(0).detectors[0].id != k(1).detectors[0].id {
		t.Error("two decisions with the same reasons, restrictions and detector keep copies each, want one shared")
	}
	if &k(0).rec.Verdict.Reasons[0] == &k(2).rec.Verdict.Reasons[0] ||
		&k(0).rec.Verdict.Restrictions[0] == &k(2).rec.Verdict.Restrictions[0] || k(0).detectors[0].id == k(2).detectors[0].id {
		t.Error("a decision with another message, restriction and detector version shares the first one's")
	}
	for i, want := range []struct {
		message, capability, version string
	}{{"Use a permanent address.", "payouts", "1.0.0"}, {"Use a permanent address.", "payouts", "1.0.0"}, {"Use another address.", "withdrawals", "1.0.1"}} {
		got, ok := x.get(fmt.Sprint("r-", i))
		if !ok {
			t.Fatalf("get(r-%d) = not found", i)
		}
		d := got.Detectors[0]
		if got.Verdict.Reasons[0].Message != want.message || got.Verdict.Reasons[0].Evidence != nil ||
			got.Verdict.Restrictions[0].Capability != want.capability || got.Verdict.Restrictions[0].Duration != time.Hour ||
			d.Name != "email" || d.Version != want.version || d.Status != StatusOK ||
			d.Latency != time.Duration(i+1)*time.Millisecond || len(d.Signals) != i+1 {
			t.Errorf("get(r-%d) = reasons %+v, restrictions %+v, detector %+v; want message %q, %s for 1h, email %s ok in %dms with %d signals",
				i, got.Verdict.Reasons, got.Verdict.Restrictions, d, want.message, want.capability, want.version, i+1, i+1)
		}
	}
	// The table of a shared part starts again when full; what was handed
	// out stays.
	var tab sharedTable[int]
	for i := range maxShared + 10 {
		tab.put(fmt.Append(nil, "k-", i), i)
	}
	if v, ok := tab.get([]byte(fmt.Sprint("k-", maxShared+9))); len(tab.m) > maxShared || !ok || v != maxShared+9 {
		t.Errorf("shared table holds %d entries and the last put as %d, %v; want at most %d, and it", len(tab.m), v, ok, maxShared)
	}
}

// TestSharedKeysCoverEveryField: the keys that share kept parts tell apart
// two values differing in any field the index keeps, so that a field added
// to Reason, Restriction or DetectorResult cannot be answered from another
// decision's.
func TestSharedKeysCoverEveryField(t *testing.T) {
	at := time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)
	checkKey(t, Reason{Code: "C", Action: Warn, Title: "t", Message: "m", Explanation: "e", Ground: "g", DSACategory: "c", DSAKeyword: "k", Rule: "r"},
		func(r Reason) string { return string(appendReasonsKey(nil, []Reason{r})) }, "Evidence")
	checkKey(t, Restriction{Capability: "payouts", Duration: time.Hour, Until: at, DecisionID: "d"},
		func(r Restriction) string { return string(appendRestrictionsKey(nil, []Restriction{r})) })
	checkKey(t, DetectorResult{Name: "email", Version: "1", Status: StatusOK, Error: "e"},
		func(d DetectorResult) string { return string(appendDetectorKey(nil, &d)) }, "Latency", "Signals")
	// Lengths keep fields apart: moving a byte from one field to the next
	// is another value.
	if string(appendReasonsKey(nil, []Reason{{Title: "ab", Message: "c"}})) == string(appendReasonsKey(nil, []Reason{{Title: "a", Message: "bc"}})) {
		t.Error("appendReasonsKey gives the same key for titles and messages split differently")
	}
	if string(appendRestrictionsKey(nil, []Restriction{{Capability: "a"}, {Capability: "b"}})) == string(appendRestrictionsKey(nil, []Restriction{{Capability: "b"}, {Capability: "a"}})) {
		t.Error("appendRestrictionsKey gives the same key for the same restrictions in another order")
	}
}

func checkKey[T any](t *testing.T, base T, keyOf func(T) string, notKept ...string) {
	t.Helper()
	rt := reflect.TypeFor[T]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		if slices.Contains(notKept, f.Name) {
			continue
		}
		changed := base
		v := reflect.ValueOf(&changed).Elem().Field(i)
		switch {
		case v.Kind() == reflect.String:
			v.SetString(v.String() + "x")
		case v.Kind() == reflect.Bool:
			v.SetBool(!v.Bool())
		case v.CanInt():
			v.SetInt(v.Int() + 1)
		case v.Type() == reflect.TypeFor[time.Time]():
			v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Second)))
		default:
			t.Fatalf("%s.%s is a %s: its key and this test do not know it", rt.Name(), f.Name, v.Type())
		}
		if keyOf(base) == keyOf(changed) {
			t.Errorf("the key of a %s does not change with its %s", rt.Name(), f.Name)
		}
	}
}

// BenchmarkRecentIndexAdd is what keeping a decision for retries costs
// Decide: a decision with seven detectors, three reasons and a hold, whose
// shared parts the index already holds.
func BenchmarkRecentIndexAdd(b *testing.B) {
	rec := &Record{DecisionID: "d", Verdict: Verdict{Action: Restrict,
		Restrictions: []Restriction{{Capability: "payouts", Duration: time.Hour}}}}
	for _, c := range []string{"EMAIL_DISPOSABLE", "COUNTRY_MISMATCH", "HOSTING_NETWORK"} {
		rec.Verdict.Reasons = append(rec.Verdict.Reasons, Reason{Code: c, Action: Challenge,
			Title: "A title of some length", Message: strings.Repeat("A message for the account holder. ", 4),
			Explanation: strings.Repeat("An explanation for reviewers. ", 6), Ground: "Terms of Service §4.2",
			Evidence: []map[string]any{{"score": 1.0}}, Appealable: true})
	}
	for _, name := range []string{"email", "geo", "phone", "velocity", "linkage", "model", "document"} {
		rec.Detectors = append(rec.Detectors, DetectorResult{Name: name, Version: "1.0.0", Status: StatusOK,
			Latency: time.Millisecond, Signals: make([]Signal, 2)})
	}
	x := newRecentIndex(RecentRequests)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec.RequestID = strconv.Itoa(i)
		i++
		x.add(rec)
	}
}
