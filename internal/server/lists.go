package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/lists"
	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
)

// startLists loads the runtime lists into the matcher, has the engine match
// every request against them, and follows the ledger's list changes every
// lists.sync_interval.
func (s *Server) startLists(ctx context.Context) error {
	key, err := s.listsHashKey()
	if err != nil {
		return err
	}
	h := lists.NewHasher(key)
	s.lists = lists.NewService(s.ledger, h)
	s.listMatcher = lists.NewMatcher(s.ledger, h, s.log.With("part", "lists"))
	if err := s.listMatcher.Load(ctx); err != nil {
		return fmt.Errorf("load runtime lists: %w", err)
	}
	s.engine.SetLists(s.listMatcher)
	s.metrics.lists(s.listMatcher.Status)
	sctx, cancel := context.WithCancel(context.Background())
	s.stopLists, s.listsStopped = cancel, make(chan struct{})
	go func() {
		defer close(s.listsStopped)
		s.listMatcher.Run(sctx, s.cfg.Lists.SyncInterval)
	}()
	return nil
}

// listsHashKey is lists.hash_key; else the linkage detector's hash key, the
// same key handling for the same kind of identifiers; else a random key
// kept in <data_dir>/lists.key (one machine; replicas on PostgreSQL must
// configure a shared key).
func (s *Server) listsHashKey() (string, error) {
	if k := string(s.cfg.Lists.HashKey); k != "" {
		return k, nil
	}
	if d, ok := s.cfg.Detectors.Plugins["linkage"]; ok && d.Env["hash_key"] != "" {
		return d.Env["hash_key"], nil
	}
	path := filepath.Join(s.cfg.DataDir, "lists.key")
	b, err := os.ReadFile(path)
	if err == nil {
		if k := strings.TrimSpace(string(b)); len(k) >= 16 {
			return k, nil
		}
		return "", fmt.Errorf("lists hash key file %s is shorter than 16 characters", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read lists hash key: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	k := hex.EncodeToString(raw)
	if err := os.MkdirAll(s.cfg.DataDir, 0o750); err != nil {
		return "", fmt.Errorf("create data folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("write lists hash key: %w", err)
	}
	if _, err := f.WriteString(k + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write lists hash key: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write lists hash key: %w", err)
	}
	if s.ledger.Backend() != "sqlite" {
		s.log.Warn("lists.hash_key is not set: personal list values are hashed with a key of this replica only; set the same lists.hash_key on every replica", "key_file", path)
	}
	return k, nil
}

// lists registers the runtime lists' series: entries held in memory and
// how long ago this replica last read the ledger's list changes.
func (m *metrics) lists(status func() lists.Status) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gavel_lists_entries", Help: "Runtime-list entries this replica matches against.",
		}, func() float64 { return float64(status().Entries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gavel_lists_sync_age_seconds", Help: "Seconds since this replica last read the list changes from the ledger successfully.",
		}, func() float64 {
			st := status()
			if st.LastSync.IsZero() {
				return -1
			}
			return time.Since(st.LastSync).Seconds()
		}),
	)
}

// listsStatus is the runtime lists in gavel status: the matcher's state
// and each list's size in the ledger (left out, and logged, when the
// ledger cannot be read: the rest of the status still answers).
func (s *Server) listsStatus(ctx context.Context) *adminv1.ListsStatus {
	if s.listMatcher == nil {
		return nil
	}
	st := s.listMatcher.Status()
	out := &adminv1.ListsStatus{Lists: int32(st.Lists), Entries: int64(st.Entries), Seq: st.Seq, SyncError: st.Error}
	if !st.LastSync.IsZero() {
		out.LastSync = timestamppb.New(st.LastSync)
		out.SyncAge = durationpb.New(time.Since(st.LastSync))
	}
	ls, err := s.lists.Lists(ctx)
	if err != nil {
		s.log.Warn("gavel status without list sizes: the ledger cannot be read", "error", err)
		return out
	}
	for _, l := range ls {
		out.Sizes = append(out.Sizes, &adminv1.ListSize{Name: l.Name, Kind: string(l.Kind), Purpose: string(l.Purpose), Entries: l.Entries})
	}
	return out
}
