package bundles

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/logbuf"
)

// TestOptimizedSameDecisions holds the optimised entry point (optimize.go)
// to the policy as written: this repo's policies, evaluated both ways on
// the sample inputs of policies/testdata and on 3,000 inputs generated from
// what the policy reads (every signal it names, detector statuses, history,
// list hits, attributes, every checkpoint), must give the same verdict,
// field by field. The corpus must reach every action, so that the
// comparison covers the paths that matter.
func TestOptimizedSameDecisions(t *testing.T) {
	requirePolicies(t)
	t.Parallel()
	plain := startEngine(t, Config{Source: policiesDir, NoOptimize: true})
	opt := startEngine(t, Config{Source: policiesDir})
	waitOptimized(t, opt)
	if currentStatus(plain).Optimized {
		t.Fatal("an engine with NoOptimize reports its entry point optimised")
	}

	inputs := sampleInputs(t)
	g := newInputGen(t, rand.New(rand.NewPCG(11, 17)))
	for range 3000 {
		inputs = append(inputs, g.input())
	}
	ctx := context.Background()
	actions := map[decision.Action]int{}
	for i, in := range inputs {
		want, werr := plain.Evaluate(ctx, in)
		got, gerr := opt.Evaluate(ctx, in)
		if fmt.Sprint(werr) != fmt.Sprint(gerr) {
			t.Fatalf("input %d: as written: %v; optimised: %v\ninput: %s", i, werr, gerr, jsonOf(in))
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("input %d: verdicts differ\nas written: %+v\noptimised:  %+v\ninput: %s", i, want, got, jsonOf(in))
		}
		actions[want.Action]++
	}
	for _, a := range []decision.Action{decision.Allow, decision.Warn, decision.Challenge, decision.Restrict, decision.Suspend} {
		if actions[a] == 0 {
			t.Errorf("no input of %d reached %s (actions reached: %v): the corpus does not cover the policy", len(inputs), a, actions)
		}
	}
	t.Logf("%d inputs, same verdict both ways; actions: %v", len(inputs), actions)
}

// TestOptimizeFailureServesAsWritten: a policy OPA's optimizer cannot build
// within OptimizeTimeout keeps serving as written, and says so.
func TestOptimizeFailureServesAsWritten(t *testing.T) {
	t.Parallel()
	var logs logbuf.Buffer
	e, err := New(context.Background(), Config{Source: fixtureDir, OptimizeTimeout: time.Nanosecond},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := e.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	const warning = "bundle serves as written: OPA's optimizer did not build its entry point"
	for ctx.Err() == nil && !strings.Contains(logs.String(), warning) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), warning) {
		t.Fatalf("no warning that the bundle serves as written; log:\n%s", logs.String())
	}
	if s := currentStatus(e); !s.Ready || s.Optimized {
		t.Errorf("Status() = %+v, want ready, not optimised", s)
	}
	if _, err := e.Evaluate(context.Background(), signupInput(disposable(), nil)); err != nil {
		t.Errorf("Evaluate() after the optimisation failed: %v", err)
	}
}

func waitOptimized(t *testing.T, e *Engine) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for !currentStatus(e).Optimized {
		if time.Now().After(deadline) {
			t.Fatalf("the entry point was not optimised within %v", readyTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sampleInputs are the input documents of policies/testdata.
func sampleInputs(t *testing.T) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(policiesDir, "testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample inputs under %s/testdata: %v", policiesDir, err)
	}
	var out []map[string]any
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var in map[string]any
		if err := json.Unmarshal(raw, &in); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, in)
	}
	return out
}

// inputGen makes input documents from the vocabulary the policy uses.
type inputGen struct {
	r            *rand.Rand
	signals      []string // every signal name the policy's modules name
	codes        []string // the catalog's reason codes
	capabilities []string
}

var signalName = regexp.MustCompile(`"((?:email|geo|phone|velocity|linkage|model|document)\.[a-z_]+)"`)

func newInputGen(t *testing.T, r *rand.Rand) *inputGen {
	t.Helper()
	g := &inputGen{r: r}
	files, err := filepath.Glob(filepath.Join(policiesDir, "gavel", "enforcement", "*.rego"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.rego") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range signalName.FindAllStringSubmatch(string(src), -1) {
			seen[m[1]] = true
		}
	}
	g.signals = slices.Sorted(maps.Keys(seen))
	if len(g.signals) < 10 {
		t.Fatalf("found only %d signal names in the policy: %v", len(g.signals), g.signals)
	}
	raw, err := os.ReadFile(filepath.Join(policiesDir, "gavel", "catalog", "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Reasons      map[string]any `json:"reasons"`
		Capabilities map[string]any `json:"capabilities"`
	}
	if err := json.Unmarshal(raw, &cat); err != nil {
		t.Fatal(err)
	}
	g.codes = slices.Sorted(maps.Keys(cat.Reasons))
	g.capabilities = slices.Sorted(maps.Keys(cat.Capabilities))
	return g
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

var (
	genCheckpoints = []string{"signup", "login", "profile_update", "identity_verification", "payout_method_change",
		"proposal_submit", "contract_start", "withdrawal", "phone_verification", "email_verification"}
	genDetectors = []string{"email", "geo", "phone", "velocity", "linkage", "model", "document"}
	genStatuses  = []decision.DetectorStatus{decision.StatusOK, decision.StatusOK, decision.StatusOK, decision.StatusTimeout,
		decision.StatusError, decision.StatusUnavailable}
	genScores  = []float64{0, 0.1, 0.3, 0.49, 0.5, 0.6, 0.75, 0.8, 0.9, 0.95, 1}
	genValues  = []string{"", "0", "1", "2", "3", "7", "25", "FR", "US", "NG", "mailinator.com", "AS16509", "voip", "Someone Else"}
	genCountry = []string{"FR", "US", "GB", "NG", "DE", "IN", ""}
)

func (g *inputGen) input() map[string]any {
	r := g.r
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	req := &decision.Request{
		RequestID:  fmt.Sprintf("gen-%d", r.Uint64()),
		Checkpoint: pick(r, genCheckpoints),
		Subject: decision.Subject{
			ID: "acct-gen", Kind: pick(r, []string{"freelancer", "client"}),
			Profile: decision.Profile{
				GivenName: "Amelia", FamilyName: pick(r, []string{"Laurent", "Okafor", ""}),
				Country: pick(r, genCountry), Email: "amelia@example.com",
				DateOfBirth: pick(r, []string{"", "1990-04-02", "2012-01-01"}),
			},
		},
		Context: decision.Context{IP: "203.0.113.7", DeviceID: "dev-1"},
	}
	if r.IntN(3) > 0 {
		req.Subject.CreatedAt = now.Add(-time.Duration(r.IntN(24*400)) * time.Hour)
	}
	if r.IntN(4) == 0 {
		req.Attributes = map[string]any{"document": map[string]any{
			"country": pick(r, genCountry), "number": "X123", "family_name": pick(r, []string{"Laurent", "Other"}),
			"vendor_verdict": pick(r, []string{"approved", "rejected", "review"}),
		}}
	}
	var signals []decision.Signal
	for _, name := range g.signals {
		if r.IntN(4) != 0 {
			continue
		}
		source := strings.SplitN(name, ".", 2)[0]
		if r.IntN(5) == 0 {
			source = "caller"
		}
		signals = append(signals, decision.Signal{Name: name, Score: pick(r, genScores), Value: pick(r, genValues),
			Confidence: pick(r, []float64{0.5, 0.9, 1}), Source: source, Evidence: map[string]any{"n": float64(r.IntN(5))}})
	}
	var dets []decision.DetectorResult
	for _, d := range genDetectors {
		if r.IntN(3) > 0 {
			dets = append(dets, decision.DetectorResult{Name: d, Status: pick(r, genStatuses)})
		}
	}
	var hist decision.History
	if r.IntN(2) == 0 {
		hist.Strikes = r.IntN(5)
		for range hist.Strikes {
			hist.StrikeCode = append(hist.StrikeCode, pick(r, g.codes))
		}
		hist.Suspended = r.IntN(6) == 0
		if hist.Suspended {
			hist.SuspensionSource = pick(r, []string{decision.SourcePolicy, decision.SourceManual})
		}
		hist.Overturned = r.IntN(3)
		for range r.IntN(3) {
			hist.Holds = append(hist.Holds, decision.Hold{Capability: pick(r, g.capabilities), Since: now.Add(-time.Hour),
				Until: now.Add(time.Duration(r.IntN(3)-1) * 24 * time.Hour), DecisionID: "d-1", Remedy: pick(r, []string{"", "verify_identity"})})
		}
		for range r.IntN(3) {
			hist.Recent = append(hist.Recent, decision.PastDecision{DecisionID: "d-2", Checkpoint: pick(r, genCheckpoints),
				Action: pick(r, []decision.Action{decision.Allow, decision.Challenge, decision.Restrict}), Codes: []string{pick(r, g.codes)},
				DecidedAt: now.Add(-time.Duration(r.IntN(72)) * time.Hour), Overturned: r.IntN(4) == 0})
		}
		for range r.IntN(2) {
			hist.Cleared = append(hist.Cleared, decision.Cleared{Code: pick(r, g.codes), Evidence: []map[string]any{{"signal": pick(r, g.signals)}},
				Until: now.Add(24 * time.Hour), AppealID: "a-1", DecisionID: "d-3"})
		}
	}
	in := decision.Input(req, dets, signals, hist, now)
	if r.IntN(5) == 0 {
		purpose := pick(r, []string{"block", "allow"})
		in["lists"] = []any{map[string]any{
			"list": "l-1", "kind": "email_domain", "purpose": purpose, "field": "subject.profile.email",
			"action":  pick(r, []string{"warn", "challenge", "restrict", "suspend", ""}),
			"exempts": []any{pick(r, g.codes)}, "entry": "example.com", "note": "test",
		}}
	}
	return in
}
