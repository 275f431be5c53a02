package server

import (
	"context"
	"time"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
)

// ledgerPingTimeout bounds the ledger check of GetStatus.
const ledgerPingTimeout = 2 * time.Second

// ledgerHealth fills in whether the ledger answers now, why not, and how
// many journaled decisions wait for it. Ping's errors name the database
// with any password redacted.
func (s *Server) ledgerHealth(ctx context.Context, out *adminv1.GetStatusResponse) {
	pctx, cancel := context.WithTimeout(ctx, ledgerPingTimeout)
	defer cancel()
	if err := s.ledger.Ping(pctx); err != nil {
		out.LedgerError = err.Error()
	} else {
		out.LedgerOk = true
	}
	if s.journal != nil {
		out.JournalPending = int64(s.journal.Pending())
	}
}
