package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

// ServiceConfig bounds the replays gavel serve runs for the replay service.
type ServiceConfig struct {
	// MaxBundleBytes bounds an uploaded candidate bundle.
	MaxBundleBytes int64 `koanf:"max_bundle_bytes"`
	// MaxRunning replays may run at once; more are refused.
	MaxRunning int `koanf:"max_running"`
}

// Validate reports every problem, each naming its key.
func (c ServiceConfig) Validate() error {
	var errs []error
	if c.MaxBundleBytes < 1024 || c.MaxBundleBytes > 256<<20 {
		errs = append(errs, fmt.Errorf("replay.max_bundle_bytes: %d must be between 1024 and %d", c.MaxBundleBytes, 256<<20))
	}
	if c.MaxRunning < 1 || c.MaxRunning > 16 {
		errs = append(errs, fmt.Errorf("replay.max_running: %d must be between 1 and 16", c.MaxRunning))
	}
	return errors.Join(errs...)
}

// Errors Start refuses with.
var (
	// ErrNotBundle: the upload is not a gzipped bundle tarball.
	ErrNotBundle = errors.New("not a policy bundle: a bundle is a .tar.gz as opa build or gavel bundle build writes it")
	// ErrTooLarge: the upload is over MaxBundleBytes.
	ErrTooLarge = errors.New("bundle is over the size limit")
	// ErrBusy: MaxRunning replays are running.
	ErrBusy = errors.New("too many replays running; wait for one to finish")
	// ErrCandidate wraps why the candidate bundle could not be loaded
	// (signature, compile, schema).
	ErrCandidate = errors.New("candidate bundle refused")
)

// Candidate is a loaded candidate bundle, evaluated but never enforced.
type Candidate interface {
	decision.Evaluator
	Stop(ctx context.Context)
}

// LoadFunc loads the candidate bundle at path, held to the same rules
// (signing, input schema) as an active bundle; it fails with the reason.
type LoadFunc func(ctx context.Context, path string) (Candidate, error)

// State is where a replay job is.
type State int

const (
	Running State = iota + 1
	Done
	Failed
)

// Job is a snapshot of one replay.
type Job struct {
	ID       string
	Name     string
	State    State
	Started  time.Time
	Finished time.Time
	Done     int64
	Total    int64
	Err      string
	Report   *Report
	Filter   ledger.Filter
}

type job struct {
	mu          sync.Mutex
	j           Job
	done, total atomic.Int64
}

// Service runs replays of uploaded candidates in the background and keeps
// the last results in memory.
type Service struct {
	cfg  ServiceConfig
	src  Source
	load LoadFunc
	dir  string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	jobs    map[string]*job
	order   []string
	running int
}

// keepJobs is how many replays are remembered.
const keepJobs = 32

// NewService keeps uploaded candidates under dir while they are replayed.
func NewService(cfg ServiceConfig, src Source, load LoadFunc, dir string) (*Service, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("replay service: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, src: src, load: load, dir: dir, ctx: ctx, cancel: cancel, jobs: map[string]*job{}}, nil
}

// Start checks and loads the candidate, then replays the decisions f
// selects in the background. It returns the job as started.
func (s *Service) Start(ctx context.Context, bundle []byte, name string, f ledger.Filter) (Job, error) {
	if int64(len(bundle)) > s.cfg.MaxBundleBytes {
		return Job{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(bundle), s.cfg.MaxBundleBytes)
	}
	if len(bundle) < 2 || !bytes.HasPrefix(bundle, []byte{0x1f, 0x8b}) {
		return Job{}, ErrNotBundle
	}
	s.mu.Lock()
	if s.running >= s.cfg.MaxRunning {
		s.mu.Unlock()
		return Job{}, ErrBusy
	}
	s.running++
	s.mu.Unlock()
	started := false
	defer func() {
		if !started {
			s.mu.Lock()
			s.running--
			s.mu.Unlock()
		}
	}()

	id := uuid.Must(uuid.NewV7()).String()
	path := filepath.Join(s.dir, id+".tar.gz")
	if err := os.WriteFile(path, bundle, 0o600); err != nil {
		return Job{}, fmt.Errorf("replay: keep the candidate: %w", err)
	}
	cand, err := s.load(ctx, path)
	if err != nil {
		os.Remove(path)
		return Job{}, fmt.Errorf("%w: %w", ErrCandidate, err)
	}
	jb := &job{j: Job{ID: id, Name: name, State: Running, Started: time.Now(), Filter: f}}
	s.mu.Lock()
	s.jobs[id] = jb
	s.order = append(s.order, id)
	s.forgetLocked()
	s.mu.Unlock()
	started = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer os.Remove(path)
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			cand.Stop(sctx)
			cancel()
		}()
		rep, err := Run(s.ctx, s.src, cand, Options{Filter: f, Progress: func(done, total int64) {
			jb.done.Store(done)
			jb.total.Store(total)
		}})
		jb.mu.Lock()
		jb.j.Finished = time.Now()
		if err != nil {
			jb.j.State, jb.j.Err = Failed, err.Error()
		} else {
			rep.Candidate = name
			jb.j.State, jb.j.Report = Done, rep
			jb.done.Store(rep.Selected)
			jb.total.Store(rep.Selected)
		}
		jb.mu.Unlock()
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}()
	return s.snapshot(jb), nil
}

// forgetLocked drops the oldest finished jobs past keepJobs.
func (s *Service) forgetLocked() {
	for len(s.order) > keepJobs {
		id := s.order[0]
		jb := s.jobs[id]
		jb.mu.Lock()
		running := jb.j.State == Running
		jb.mu.Unlock()
		if running {
			return
		}
		delete(s.jobs, id)
		s.order = slices.Delete(s.order, 0, 1)
	}
}

func (s *Service) snapshot(jb *job) Job {
	jb.mu.Lock()
	defer jb.mu.Unlock()
	out := jb.j
	out.Done, out.Total = jb.done.Load(), jb.total.Load()
	return out
}

// Get returns a replay by id.
func (s *Service) Get(id string) (Job, bool) {
	s.mu.Lock()
	jb := s.jobs[id]
	s.mu.Unlock()
	if jb == nil {
		return Job{}, false
	}
	return s.snapshot(jb), true
}

// Close stops running replays and waits for them.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}
