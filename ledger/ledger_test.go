package ledger_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
)

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://gavel:s3cret@db:5432/gavel?sslmode=require", "postgres://gavel:xxxxx@db:5432/gavel?sslmode=require"},
		{"postgresql://gavel@db/gavel", "postgresql://gavel@db/gavel"},
		{"postgres://db/gavel?user=gavel&password=s3cret", "postgres://db/gavel?password=xxxxx&user=gavel"},
		{"host=db user=gavel password=s3cret dbname=gavel", "host=db user=gavel password=xxxxx dbname=gavel"},
		{"host=db password = 's3 cr\\'et' dbname=gavel", "host=db password = xxxxx dbname=gavel"},
		{"host=db sslpassword=keypw", "host=db sslpassword=xxxxx"},
		{"/var/lib/gavel/ledger.db", "/var/lib/gavel/ledger.db"},
	} {
		if got := ledger.RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(ledger.RedactDSN(tc.in), "s3") {
			t.Errorf("RedactDSN(%q) leaks the password", tc.in)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	err := ledger.Config{Driver: "mysql", MaxConns: -1, StrikeTTL: -1, RecentLimit: -1}.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want every problem")
	}
	for _, want := range []string{"unknown driver", "max conns", "strike ttl", "recent limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, want it to mention %q", err, want)
		}
	}
	if err := (ledger.Config{Driver: ledger.Postgres}).Validate(); err == nil || !strings.Contains(err.Error(), "dsn") {
		t.Errorf("Validate(postgres without dsn) = %v, want a missing dsn", err)
	}
	if _, err := ledger.Open(t.Context(), ledger.Config{}, nil); err == nil || !strings.Contains(err.Error(), "path") {
		t.Errorf("Open(zero config) = %v, want a missing path", err)
	}
}

func backends(b *testing.B) map[string]ledgertest.Opener {
	m := map[string]ledgertest.Opener{"sqlite": openSQLite}
	if os.Getenv(postgresEnv) != "" {
		m["postgres"] = openPostgres
	}
	return m
}

func BenchmarkCommit(b *testing.B) {
	for name, open := range backends(b) {
		b.Run(name, func(b *testing.B) { ledgertest.BenchCommit(b, open) })
	}
}

func BenchmarkHistory(b *testing.B) {
	for name, open := range backends(b) {
		b.Run(name, func(b *testing.B) { ledgertest.BenchHistory(b, open) })
	}
}

// BenchmarkCommitParallel is group commit's effect: SQLite committing each
// decision alone (commit_batch 1) and together (the default), with
// synchronous normal and full, side by side in one run; PostgreSQL beside.
func BenchmarkCommitParallel(b *testing.B) {
	for _, mode := range []string{"normal", "full"} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("sqlite/synchronous=%s/batch=%d", mode, batch), func(b *testing.B) {
				ledgertest.BenchCommitParallel(b, func(tb testing.TB) *ledger.Ledger {
					cfg := ledger.DefaultConfig()
					cfg.Path = filepath.Join(tb.TempDir(), "ledger.db")
					cfg.SQLiteSynchronous = mode
					cfg.SQLiteCommitBatch = batch
					l, err := ledger.Open(tb.Context(), cfg, nil)
					if err != nil {
						tb.Fatal(err)
					}
					tb.Cleanup(func() { l.Close() })
					return l
				})
			})
		}
	}
	if open, ok := backends(b)["postgres"]; ok {
		b.Run("postgres", func(b *testing.B) { ledgertest.BenchCommitParallel(b, open) })
	}
}

// BenchmarkCommitSynchronous is the cost of ledger.sqlite.synchronous: full,
// side by side with normal in one run.
func BenchmarkCommitSynchronous(b *testing.B) {
	for _, mode := range []string{"normal", "full"} {
		b.Run(mode, func(b *testing.B) {
			ledgertest.BenchCommit(b, func(tb testing.TB) *ledger.Ledger {
				cfg := ledger.DefaultConfig()
				cfg.Path = filepath.Join(tb.TempDir(), "ledger.db")
				cfg.SQLiteSynchronous = mode
				l, err := ledger.Open(tb.Context(), cfg, nil)
				if err != nil {
					tb.Fatal(err)
				}
				tb.Cleanup(func() { l.Close() })
				return l
			})
		})
	}
}
