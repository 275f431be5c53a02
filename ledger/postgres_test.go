package ledger_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for set-up

	"github.com/gavel/gavel/internal/pgtest"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
)

const postgresEnv = pgtest.Env

func postgresSchema(t testing.TB) string { return pgtest.Schema(t, "gavel_test") }

func openPostgres(t testing.TB) *ledger.Ledger {
	t.Helper()
	cfg := ledger.DefaultConfig()
	cfg.Driver = ledger.Postgres
	cfg.DSN = postgresSchema(t)
	cfg.MaxConns = 4
	l, err := ledger.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("Open(postgres) = %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return l
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, openPostgres)
}

// TestPostgresConcurrentStartup starts replicas on one empty schema at once:
// the advisory lock must let exactly one migrate and the others find the
// schema in place.
func TestPostgresConcurrentStartup(t *testing.T) {
	t.Parallel()
	cfg := ledger.DefaultConfig()
	cfg.Driver = ledger.Postgres
	cfg.DSN = postgresSchema(t)
	cfg.MaxConns = 2
	const replicas = 4
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			l, err := ledger.Open(t.Context(), cfg, nil)
			if err != nil {
				t.Errorf("replica %d: Open = %v", i, err)
				return
			}
			l.Close()
		})
	}
	close(start)
	wg.Wait()
	// A later start-up finds everything applied.
	l, err := ledger.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("Open after concurrent start-up = %v", err)
	}
	l.Close()
}

func TestPostgresUnreachable(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1; the password must not reach the error.
	for _, dsn := range []string{
		"postgres://gavel:s3cret-pw@127.0.0.1:1/gavel?sslmode=disable&connect_timeout=2",
		"host=127.0.0.1 port=1 user=gavel password=s3cret-pw dbname=gavel sslmode=disable connect_timeout=2",
	} {
		cfg := ledger.DefaultConfig()
		cfg.Driver = ledger.Postgres
		cfg.DSN = dsn
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		l, err := ledger.Open(ctx, cfg, nil)
		cancel()
		if err == nil {
			l.Close()
			t.Fatalf("Open(%s) = nil error, want an error", ledger.RedactDSN(dsn))
		}
		msg := err.Error()
		if strings.Contains(msg, "s3cret-pw") {
			t.Errorf("Open error leaks the password: %s", msg)
		}
		if !strings.Contains(msg, ledger.RedactDSN(dsn)) {
			t.Errorf("Open error = %q, want it to name %s", msg, ledger.RedactDSN(dsn))
		}
	}
}
