package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/gavel/gavel/internal/health"
)

// readinessProbes are what must hold for gavel to take traffic: an active
// policy bundle, and unless server.ready_needs_ledger is off, a ledger that
// answers with no decision waiting in the journal for it.
func (s *Server) readinessProbes() []health.Probe {
	probes := []health.Probe{{Name: "policy", Check: func(context.Context) error {
		if s.revision() == "" {
			return errors.New("no bundle active")
		}
		return nil
	}}}
	if s.cfg.Server.ReadyNeedsLedger {
		probes = append(probes, health.Probe{Name: "ledger", Check: func(ctx context.Context) error {
			if err := s.ledger.Ping(ctx); err != nil {
				return errors.New("unreachable") // the DSN stays out of health answers
			}
			if s.journal != nil {
				if n := s.journal.Pending(); n > 0 {
					return fmt.Errorf("%d decisions journaled, waiting for the ledger", n)
				}
			}
			return nil
		}})
	}
	return probes
}
