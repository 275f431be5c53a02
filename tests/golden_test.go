package tests

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/server"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

var update = flag.Bool("update", false, "rewrite the golden decisions in testdata/golden")

// golden is the stable part of a decision: what the policy decided and why.
type golden struct {
	Action       string   `json:"action"`
	Reasons      []string `json:"reasons"` // CODE:action
	Restrictions []string `json:"restrictions,omitempty"`
	Remedy       string   `json:"remedy,omitempty"`
	Strike       bool     `json:"strike"`
	Appealable   bool     `json:"appealable"`
}

func goldenOf(rec *decision.Record) golden {
	g := golden{Action: rec.Verdict.Action.String(), Strike: rec.Verdict.Strike, Appealable: rec.Verdict.Appealable(), Reasons: []string{}}
	for _, r := range rec.Verdict.Reasons {
		g.Reasons = append(g.Reasons, r.Code+":"+r.Action.String())
	}
	for _, r := range rec.Verdict.Restrictions {
		g.Restrictions = append(g.Restrictions, r.Capability+":"+r.Duration.String())
	}
	if rec.Verdict.Remedy != nil {
		g.Remedy = rec.Verdict.Remedy.Code + "@" + rec.Verdict.Remedy.Checkpoint
	}
	return g
}

// TestGoldenDecisions runs each testdata/golden/*.request.json through the
// decision engine on the repo's policies and a real SQLite ledger, and
// compares the verdict with the .decision.json beside it (-update rewrites).
func TestGoldenDecisions(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.request.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden requests found: %v", err)
	}
	engine := newEngine(t, nil, sqliteLedger(t))
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".request.json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var msg decisionv1.DecideRequest
			if err := protojson.Unmarshal(b, &msg); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			rec, err := engine.Decide(context.Background(), server.RequestFromProto(&msg))
			if err != nil {
				t.Fatalf("Decide(%s) error = %v", name, err)
			}
			if rec.Fallback {
				t.Fatalf("Decide(%s) fell back: %s", name, rec.Cause)
			}
			got := goldenOf(rec)
			want := strings.TrimSuffix(file, ".request.json") + ".decision.json"
			if *update {
				out, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(want, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wb, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./tests -run TestGoldenDecisions -update to create it)", err)
			}
			var exp golden
			if err := json.Unmarshal(wb, &exp); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(exp, got); diff != "" {
				t.Errorf("Decide(%s) differs from %s (-want +got):\n%s", name, want, diff)
			}
		})
	}
}
