package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/plugins/builtin"
	geodata "github.com/gavel/gavel/plugins/detectors/geo/data"
	"github.com/gavel/gavel/plugins/detectors/geo/geoip"
	"github.com/gavel/gavel/plugins/host"
	"github.com/gavel/gavel/policies"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Harness is gavel's decision path, in one process: the real decision
// engine, the repository's policies on the real bundle engine, the real
// SQLite ledger, and every built-in detector built as gavel's in-process
// mode builds it (plugins/builtin), with its embedded data and real SQLite
// stores. Only the host's scheduling and go-plugin's transport are left out
// (the end-to-end tests cover them); a detector the journey says timed out
// is reported with the status the host gives a late answer.
type Harness struct {
	Engine *decision.Engine
	geo    *geoip.DB
	hosts  *geoip.Hosting
	source *source
	now    time.Time
	closer []func()
}

// Open builds a harness whose state (ledger, detector stores) lives in dir.
func Open(ctx context.Context, dir string) (*Harness, error) {
	h := &Harness{}
	ok := false
	defer func() {
		if !ok {
			h.Close()
		}
	}()
	// Detectors, built by the same constructors gavel's in-process mode
	// uses (plugins/builtin: the binaries' own code and embedded data),
	// with their default configuration and their state under dir.
	h.source = &source{}
	var linkage inProcessObserver
	for _, name := range builtin.Names() {
		open, _ := builtin.Opener(name)
		ddir := filepath.Join(dir, name)
		if err := os.MkdirAll(ddir, 0o700); err != nil {
			return nil, err
		}
		det, closer, err := open(ctx, func(_, def string) string { return def }, ddir)
		if err != nil {
			return nil, fmt.Errorf("detector %s: %w", name, err)
		}
		if closer != nil {
			h.closer = append(h.closer, func() { closer.Close() })
		}
		if err := h.source.add(ctx, name, det); err != nil {
			return nil, err
		}
		if o, ok := det.(inProcessObserver); ok && name == "linkage" {
			linkage = o
		}
	}
	if linkage == nil {
		return nil, errors.New("no linkage detector among the built-ins")
	}
	// The IP pool draws addresses from the geo detector's own database.
	db, err := geoip.Load(bytes.NewReader(geodata.Database))
	if err != nil {
		return nil, err
	}
	if h.hosts, err = geoip.ParseHosting(geodata.Hosting); err != nil {
		return nil, err
	}
	h.geo = db

	// Policy, ledger, engine: as gavel serve wires them.
	bdir := filepath.Join(dir, "bundle")
	if err := policies.WriteBundle(bdir); err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	pol, err := bundles.New(ctx, bundles.Config{Source: bdir, InputSchema: policies.InputSchema()}, log)
	if err != nil {
		return nil, err
	}
	h.closer = append(h.closer, func() { pol.Stop(context.Background()) })
	if err := pol.WaitReady(ctx); err != nil {
		return nil, err
	}
	lc := ledger.DefaultConfig()
	lc.Path = filepath.Join(dir, "ledger.db")
	l, err := ledger.Open(ctx, lc, log)
	if err != nil {
		return nil, err
	}
	h.closer = append(h.closer, func() { l.Close() })
	h.Engine, err = decision.New(decision.Config{
		Checkpoints: []string{"signup", "login", "profile_update", "identity_verification",
			"payout_method_change", "proposal_submit", "contract_start", "withdrawal"},
		FailureAction: decision.Challenge,
		PolicyTimeout: 10 * time.Second,
		SignalTimeout: 10 * time.Second,
		LedgerTimeout: 10 * time.Second,
		Now:           func() time.Time { return h.now },
	}, h.source, pol, l, log)
	if err != nil {
		return nil, err
	}
	// Suspensions reach the linkage detector as the host forwards them.
	h.Engine.AddObserver(observer{linkage})
	ok = true
	return h, nil
}

// Close releases the harness's stores and engines.
func (h *Harness) Close() {
	for i := len(h.closer) - 1; i >= 0; i-- {
		h.closer[i]()
	}
	h.closer = nil
}

// source is a decision.SignalSource calling detectors in the process.
type source struct {
	dets []*inproc
	fail map[string]bool // detectors timing out for the current request
}

type inproc struct {
	name        string
	impl        host.InProcess
	version     string
	checkpoints []string
	signals     map[string]bool
}

func (s *source) add(ctx context.Context, name string, impl host.InProcess) error {
	d, err := impl.Describe(ctx)
	if err != nil {
		return fmt.Errorf("detector %s: Describe: %w", name, err)
	}
	p := &inproc{name: name, impl: impl, version: d.GetVersion(), checkpoints: d.GetCheckpoints(), signals: map[string]bool{}}
	for _, sig := range d.GetSignals() {
		p.signals[sig] = true
	}
	s.dets = append(s.dets, p)
	return nil
}

// Collect implements decision.SignalSource as the host does: one result per
// detector that wants the checkpoint, undeclared or invalid signals an
// error, an injected failure a timeout.
func (s *source) Collect(ctx context.Context, req *decision.Request, now time.Time) []decision.DetectorResult {
	preq := host.DetectRequest(req, now)
	var out []decision.DetectorResult
	for _, d := range s.dets {
		if len(d.checkpoints) > 0 && !slices.Contains(d.checkpoints, req.Checkpoint) {
			continue
		}
		r := decision.DetectorResult{Name: d.name, Version: d.version, Status: decision.StatusOK}
		start := time.Now()
		if s.fail[d.name] {
			r.Status, r.Error = decision.StatusTimeout, "no answer within its deadline (scenario: detectors overloaded)"
			out = append(out, r)
			continue
		}
		resp, err := d.impl.Detect(ctx, preq)
		r.Latency = time.Since(start)
		if err != nil {
			r.Status, r.Error = decision.StatusError, err.Error()
			out = append(out, r)
			continue
		}
		for _, sg := range resp.GetSignals() {
			sig := decision.Signal{Name: sg.GetName(), Score: sg.GetScore(), Value: sg.GetValue(),
				Confidence: sg.GetConfidence(), Source: d.name}
			if sg.GetEvidence() != nil {
				sig.Evidence = sg.GetEvidence().AsMap()
			}
			if !d.signals[sig.Name] {
				err = fmt.Errorf("undeclared signal %q", sig.Name)
			} else if cerr := decision.CheckSignal(&sig, decision.Limits{}); cerr != nil {
				err = cerr
			}
			r.Signals = append(r.Signals, sig)
		}
		if err != nil {
			r.Status, r.Error, r.Signals = decision.StatusError, err.Error(), nil
		}
		out = append(out, r)
	}
	return out
}

// inProcessObserver is a detector that learns from committed decisions.
type inProcessObserver interface {
	Observe(ctx context.Context, req *detectorv1.ObserveRequest) error
}

// observer forwards committed decisions to the linkage detector, as the
// host's Observe queue does.
type observer struct{ d inProcessObserver }

func (o observer) Observe(rec *decision.Record) {
	req := &detectorv1.ObserveRequest{
		DecisionId: rec.DecisionID, SubjectId: rec.SubjectID, Checkpoint: rec.Checkpoint,
		Action: rec.Verdict.Action.String(), DecidedAt: timestamppb.New(rec.DecidedAt), Context: &detectorv1.Context{},
	}
	if c, ok := rec.Input["context"].(map[string]any); ok {
		dev, _ := c["device_id"].(string)
		ip, _ := c["ip"].(string)
		req.Context = &detectorv1.Context{DeviceId: dev, Ip: ip}
	}
	if a, ok := rec.Input["attributes"].(map[string]any); ok && len(a) > 0 {
		if s, err := structpb.NewStruct(a); err == nil {
			req.Attributes = s
		}
	}
	_ = o.d.Observe(context.Background(), req)
}

// Outcome is what became of one journey.
type Outcome struct {
	Journey *Journey
	// Worst is the most severe action of its decisions.
	Worst decision.Action
	// Decisions is how many of its steps were decided (a fraudster stops at
	// the first challenge: they cannot pass it).
	Decisions int
	// Reasons maps each reason code that fired to the most severe action it
	// carried in the journey.
	Reasons map[string]decision.Action
	// WorstCodes are the reason codes that set Worst, in the first decision
	// that reached it.
	WorstCodes []string
}

// Run decides every step of journeys in time order, each at its own time.
// An honest person passes every challenge and carries on; a fraudulent
// journey ends at its first challenge or worse.
func (h *Harness) Run(ctx context.Context, journeys []*Journey) ([]Outcome, error) {
	type ref struct {
		j    int
		step int
	}
	var order []ref
	for i, j := range journeys {
		for k := range j.steps {
			order = append(order, ref{i, k})
		}
	}
	slices.SortStableFunc(order, func(a, b ref) int {
		return journeys[a.j].steps[a.step].at.Compare(journeys[b.j].steps[b.step].at)
	})
	out := make([]Outcome, len(journeys))
	stopped := make([]bool, len(journeys))
	for i, j := range journeys {
		out[i] = Outcome{Journey: j, Worst: decision.Allow, Reasons: map[string]decision.Action{}}
	}
	for _, r := range order {
		if stopped[r.j] {
			continue
		}
		j := journeys[r.j]
		s := j.steps[r.step]
		h.now = s.at
		h.source.fail = map[string]bool{}
		for _, f := range s.fail {
			h.source.fail[f] = true
		}
		rec, err := h.Engine.Decide(ctx, j.request(r.step))
		if err != nil {
			var v decision.ValidationError
			if errors.As(err, &v) {
				return nil, fmt.Errorf("journey %d (%s) step %d: the scenario sent a bad request: %w", j.ID, j.Kind, r.step, err)
			}
			return nil, fmt.Errorf("journey %d step %d: %w", j.ID, r.step, err)
		}
		o := &out[r.j]
		o.Decisions++
		if a := rec.Verdict.Action; a > o.Worst {
			o.Worst, o.WorstCodes = a, nil
			for _, re := range rec.Verdict.Reasons {
				if re.Action == a {
					o.WorstCodes = append(o.WorstCodes, re.Code)
				}
			}
		}
		for _, re := range rec.Verdict.Reasons {
			o.Reasons[re.Code] = max(o.Reasons[re.Code], re.Action)
		}
		if j.Fraud() && rec.Verdict.Action >= decision.Challenge {
			stopped[r.j] = true
		}
	}
	return out, nil
}

// Suite generates cfg's journeys (IP addresses drawn from the harness's geo
// database) and runs them.
func (h *Harness) Suite(ctx context.Context, cfg Config) ([]Outcome, error) {
	return h.Run(ctx, Generate(cfg, newIPPool(h.geo, h.hosts, cfg.Seed)))
}
