package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// observeMu serialises the test detector's appends to its observations file.
var observeMu sync.Mutex

// Observe makes testDetector an sdk.Observer; what it does is picked by its
// OBSERVE_MODE. In "record" it appends each request, as JSON, to
// observed.jsonl in its data folder, where the test reads it.
func (testDetector) Observe(ctx context.Context, req *detectorv1.ObserveRequest) error {
	switch sdk.Env("OBSERVE_MODE", "") {
	case "record":
		b, err := protojson.Marshal(req)
		if err != nil {
			return err
		}
		observeMu.Lock()
		defer observeMu.Unlock()
		f, err := os.OpenFile(filepath.Join(sdk.DataDir(), "observed.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.Write(append(b, '\n'))
		return err
	case "fail":
		return status.Error(codes.FailedPrecondition, "store unreachable")
	case "hang":
		<-ctx.Done()
		return ctx.Err()
	case "unimplemented":
		return status.Error(codes.Unimplemented, "not here")
	}
	return errors.New("Observe called on a detector that does not observe")
}

func observed(tb testing.TB, dir string) []*detectorv1.ObserveRequest {
	tb.Helper()
	f, err := os.Open(filepath.Join(dir, "observed.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []*detectorv1.ObserveRequest
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		r := &detectorv1.ObserveRequest{}
		if err := protojson.Unmarshal(sc.Bytes(), r); err != nil {
			tb.Fatalf("observed.jsonl: %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func record(id string, action decision.Action, dryRun bool) *decision.Record {
	return &decision.Record{
		DecisionID: id,
		SubjectID:  "acct-" + id,
		Checkpoint: "signup",
		DecidedAt:  time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		DryRun:     dryRun,
		Verdict:    decision.Verdict{Action: action},
		Input: map[string]any{
			"context":    map[string]any{"ip": "192.0.2.1", "device_id": "dev-" + id},
			"attributes": map[string]any{"payout": map[string]any{"account_hash": "h-" + id}},
		},
	}
}

func TestObserveReachesObservingDetectors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h, _ := startHost(t, Config{DataDir: dir, Detectors: []DetectorConfig{
		detectorConfig("watcher", map[string]string{"observe_mode": "record"}),
		detectorConfig("bystander", nil), // does not declare observes
	}})
	h.Observe(record("d1", decision.Suspend, false))
	h.Observe(record("dry", decision.Suspend, true)) // dry runs are not forwarded
	h.Observe(record("d2", decision.Allow, false))

	var got []*detectorv1.ObserveRequest
	eventually(t, "two observations recorded", func() (bool, string) {
		got = observed(t, filepath.Join(dir, "watcher"))
		return len(got) == 2, fmt.Sprintf("%d recorded", len(got))
	})
	first := got[0]
	if got[1].GetDecisionId() == "d1" {
		first = got[1]
	}
	if first.GetDecisionId() != "d1" || first.GetSubjectId() != "acct-d1" || first.GetAction() != "suspend" ||
		first.GetCheckpoint() != "signup" || first.GetContext().GetDeviceId() != "dev-d1" ||
		first.GetContext().GetIp() != "192.0.2.1" || first.GetOverturned() ||
		!first.GetDecidedAt().AsTime().Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) ||
		first.GetAttributes().GetFields()["payout"].GetStructValue().GetFields()["account_hash"].GetStringValue() != "h-d1" {
		t.Errorf("Observe(d1) reached the detector as %v", first)
	}
	for _, r := range got {
		if r.GetDecisionId() == "dry" {
			t.Errorf("a dry run reached the detector: %v", r)
		}
	}
	if obs := observed(t, filepath.Join(dir, "bystander")); len(obs) != 0 {
		t.Errorf("a detector that does not observe got %d observations", len(obs))
	}
	eventually(t, "stats count two deliveries", func() (bool, string) {
		s := h.ObserveStats()
		return s == ObserveStats{Delivered: 2}, fmt.Sprintf("%+v", s)
	})
}

func TestObserveFailuresAreCountedNotFatal(t *testing.T) {
	t.Parallel()
	h, _ := startHost(t, Config{DataDir: t.TempDir(), Detectors: []DetectorConfig{
		detectorConfig("failing", map[string]string{"observe_mode": "fail"}),
		detectorConfig("unimpl", map[string]string{"observe_mode": "unimplemented"}),
	}})
	h.Observe(record("d1", decision.Suspend, false))
	eventually(t, "both failures counted", func() (bool, string) {
		s := h.ObserveStats()
		return s.Failed == 2, "failed " + itoa(s.Failed)
	})
	// Decisions still collect signals from both.
	for _, r := range collect(h, request("signup", "ok"), patience) {
		if r.Status != decision.StatusOK {
			t.Errorf("Collect after failed Observe: %s is %s (%s), want ok", r.Name, r.Status, r.Error)
		}
	}
}

// A detector that never answers Observe fills the queue; Observe keeps
// returning at once and counts what it drops.
func TestObserveDropsWhenQueueFull(t *testing.T) {
	t.Parallel()
	h, _ := startHost(t, Config{DataDir: t.TempDir(), Detectors: []DetectorConfig{
		detectorConfig("stuck", map[string]string{"observe_mode": "hang"}),
	}})
	n := ObserveQueue + 100
	done := make(chan struct{})
	go func() {
		for i := range n {
			h.Observe(record(itoa(int64(i)), decision.Allow, false))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatalf("Observe blocked: %d decisions not queued within %v", n, patience)
	}
	if s := h.ObserveStats(); s.Dropped < 99 {
		t.Errorf("ObserveStats() after %d decisions to a stuck detector = %+v, want at least 99 dropped", n, s)
	}
}

func TestObserveWithoutObserversQueuesNothing(t *testing.T) {
	t.Parallel()
	h, _ := startHost(t, Config{Detectors: []DetectorConfig{detectorConfig("plain", nil)}})
	for i := range ObserveQueue + 10 {
		h.Observe(record(itoa(int64(i)), decision.Allow, false))
	}
	if s := h.ObserveStats(); s != (ObserveStats{}) {
		t.Errorf("ObserveStats() with no observing detector = %+v, want zero", s)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
