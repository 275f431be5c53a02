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
				Remedy:       &Remedy{Code: "VERIFY_EMAIL", Message: message},
			},
		}
	}
	x := newRecentIndex(8)
	x.add(decide(0, "Use a permanent address.", "payouts", "1.0.0"))
	x.add(decide(1, "Use a permanent address.", "payouts", "1.0.0"))
	x.add(decide(2, "Use another address.", "withdrawals", "1.0.1"))
	k := func(i int) *kept { return x.byID[fmt.Sprint("r-", i)] }
	if &k(0).reasons[0] != &k(1).reasons[0] ||
		&k(0).restrictions[0] != &k(1).restrictions[0] || k(0).detectors[0].id != k(1).detectors[0].id || k(0).remedy != k(1).remedy {
		t.Error("two decisions with the same reasons, restrictions, remedy and detector keep copies each, want one shared")
	}
	if &k(0).reasons[0] == &k(2).reasons[0] ||
		&k(0).restrictions[0] == &k(2).restrictions[0] || k(0).detectors[0].id == k(2).detectors[0].id || k(0).remedy == k(2).remedy {
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
		if got.Verdict.Reasons[0].Message != want.message || got.Verdict.Reasons[0].Evidence != nil || got.Verdict.Remedy.Message != want.message ||
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

// TestRecentIndexKeepsEveryField: a kept decision reads back as it was
// committed, but for what the index leaves out by design (the input, the
// signals, evidence, suppressed reasons), whichever field it has set: a
// field added to Record or Verdict and not kept fails here.
func TestRecentIndexKeepsEveryField(t *testing.T) {
	base := func() *Record {
		return &Record{DecisionID: "d-1", RequestID: "r-1", SubjectID: "s-1", Checkpoint: "signup",
			DecidedAt: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC), Latency: 3 * time.Millisecond,
			Input:   map[string]any{"subject": "s-1"},
			Signals: []Signal{{Name: "email_disposable", Score: 0.9, Source: "email"}},
			Detectors: []DetectorResult{{Name: "email", Version: "1", Status: StatusOK, Latency: time.Millisecond,
				Signals: []Signal{{Name: "email_disposable", Score: 0.9, Source: "email"}}}},
			Verdict: Verdict{Action: Challenge, BundleRevision: "rev-1",
				Reasons:    []Reason{{Code: "EMAIL_DISPOSABLE", Action: Challenge, Evidence: []map[string]any{{"domain": "x"}}}},
				Suppressed: []Suppressed{{Code: "OLD"}}}}
	}
	// want is what get returns of rec.
	want := func(rec Record) *Record {
		rec.Input, rec.Signals, rec.Verdict.Suppressed = nil, nil, nil
		rec.Verdict.Reasons = slices.Clone(rec.Verdict.Reasons)
		for i := range rec.Verdict.Reasons {
			rec.Verdict.Reasons[i].Evidence = nil
		}
		rec.Detectors = slices.Clone(rec.Detectors)
		for i := range rec.Detectors {
			rec.Detectors[i].Signals = make([]Signal, len(rec.Detectors[i].Signals))
		}
		return &rec
	}
	notKept := []string{"Input", "Signals", "DryRun", "Suppressed"}
	check := func(name string, rec *Record) {
		t.Helper()
		x := newRecentIndex(4)
		x.add(rec)
		got, ok := x.get(rec.RequestID)
		if !ok {
			t.Fatalf("%s: not kept", name)
		}
		if w := want(*rec); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: kept decision reads back as\n%+v\nwant\n%+v", name, got, w)
		}
	}
	check("a decision of the policy", base())
	for _, level := range []struct {
		name  string
		value func(*Record) reflect.Value
	}{{"Record", func(r *Record) reflect.Value { return reflect.ValueOf(r).Elem() }},
		{"Verdict", func(r *Record) reflect.Value { return reflect.ValueOf(&r.Verdict).Elem() }}} {
		rt := level.value(base()).Type()
		for i := range rt.NumField() {
			f := rt.Field(i)
			if slices.Contains(notKept, f.Name) || f.Name == "Verdict" {
				continue
			}
			rec := base()
			v := level.value(rec).Field(i)
			setOther(t, v, level.name+"."+f.Name)
			check(level.name+"."+f.Name+" changed", rec)
		}
	}
	dry := base()
	dry.DryRun = true
	x := newRecentIndex(4)
	x.add(dry)
	if _, ok := x.get(dry.RequestID); ok {
		t.Error("a dry run was kept: it changes no standing, and its retry is decided again")
	}
}

// setOther sets v to a value other than the one it holds, for a field of a
// kind this test knows.
func setOther(t *testing.T, v reflect.Value, name string) {
	t.Helper()
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Hour)))
	case v.Kind() == reflect.String:
		v.SetString(v.String() + "x")
	case v.Kind() == reflect.Bool:
		v.SetBool(!v.Bool())
	case v.CanInt():
		v.SetInt(v.Int() + 1)
	case v.Kind() == reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if p.Elem().Kind() == reflect.Struct {
			setOther(t, p.Elem().Field(0), name+"."+p.Elem().Type().Field(0).Name)
		}
		v.Set(p)
	case v.Kind() == reflect.Slice:
		s := reflect.Append(v, reflect.New(v.Type().Elem()).Elem())
		if e := s.Index(s.Len() - 1); e.Kind() == reflect.Struct {
			setOther(t, e.Field(0), name+"[]."+e.Type().Field(0).Name)
		}
		v.Set(s)
	default:
		t.Fatalf("%s is a %s: the index and this test do not know it", name, v.Type())
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
	checkKey(t, Remedy{Code: "C", Checkpoint: "login", Message: "m"},
		func(r Remedy) string { return string(appendRemedyKey(nil, &r)) })
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
		setOther(t, reflect.ValueOf(&changed).Elem().Field(i), rt.Name()+"."+f.Name)
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
