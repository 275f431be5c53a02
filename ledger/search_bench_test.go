package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/pgtest"
)

// seedDecisions writes n decisions straight into the tables, in multi-row
// inserts, spread over 90 days before end: 8 checkpoints; 70 % allow, 10 %
// warn, 10 % challenge, 7 % restrict, 3 % suspend; one to three of 20 reason
// codes on every decision that is not an allow; 1 % of restrictive ones
// appealed; 5 % shadowed, a fifth of those in disagreement. Records are a
// compact ~600-byte JSON, not a full input document: the benchmark measures
// the index walk, not the decoding of large records.
func seedDecisions(b *testing.B, l *Ledger, n int, end time.Time) {
	b.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	cps := []string{"signup", "login", "profile_update", "identity_verification", "payout_method_change", "proposal_submit", "contract_start", "withdrawal"}
	codes := []string{"EMAIL_DISPOSABLE", "EMAIL_INVALID", "COUNTRY_MISMATCH", "HOSTING_NETWORK", "PHONE_VOIP", "DEVICE_SHARED",
		"PAYOUT_ACCOUNT_SHARED", "SIGNUP_VELOCITY", "MODEL_RISK", "DOCUMENT_EXPIRED", "DOCUMENT_NAME_MISMATCH", "LINKED_TO_SUSPENDED_ACCOUNT",
		"REPEAT_VIOLATION", "ACCOUNT_SUSPENDED", "PHONE_INVALID", "EMAIL_RANDOM_LOCAL_PART", "PAYOUT_CHANGE_VELOCITY", "DOCUMENT_REJECTED",
		"DOCUMENT_DOB_MISMATCH", "DOCUMENT_REUSED"}
	const batch = 500
	start := end.Add(-90 * 24 * time.Hour)
	step := (90 * 24 * time.Hour) / time.Duration(n)
	for lo := 0; lo < n; lo += batch {
		tx, err := l.w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		var dq, hq, aq, sq strings.Builder
		var dargs, hargs, aargs, sargs []any
		for i := lo; i < min(lo+batch, n); i++ {
			at := start.Add(time.Duration(i) * step)
			id := uuid.Must(uuid.NewV7()).String()
			p := rng.IntN(100)
			action := decision.Allow
			switch {
			case p >= 97:
				action = decision.Suspend
			case p >= 90:
				action = decision.Restrict
			case p >= 80:
				action = decision.Challenge
			case p >= 70:
				action = decision.Warn
			}
			var cs []string
			if action != decision.Allow {
				for range 1 + rng.IntN(3) {
					// DOCUMENT_REUSED is rare: a tenth as likely as the others.
					c := codes[rng.IntN(len(codes)-1)]
					if rng.IntN(190) == 0 {
						c = "DOCUMENT_REUSED"
					}
					if !strings.Contains(strings.Join(cs, ","), c) {
						cs = append(cs, c)
					}
				}
			}
			cp := cps[rng.IntN(len(cps))]
			subject := fmt.Sprintf("acct-%d", rng.IntN(100000))
			codesJSON := `[]`
			if len(cs) > 0 {
				codesJSON = `["` + strings.Join(cs, `","`) + `"]`
			}
			body := fmt.Sprintf(`{"decision_id":%q,"request_id":"req-%d","subject_id":%q,"checkpoint":%q,"decided_at":%q,`+
				`"input":{"checkpoint":%q,"subject":{"id":%q,"kind":"freelancer","age_days":12.5},"context":{"ip":"192.0.2.1","device_id":"dev-1"},`+
				`"signals":{"model.fraud_score":{"score":0.42,"value":"","confidence":1,"source":"model"}}},`+
				`"verdict":{"action":%q,"reasons":[],"strike":false,"bundle_revision":"rev-1"},"latency":1200000}`,
				id, i, subject, cp, at.Format(time.RFC3339Nano), cp, subject, action.String())
			if dq.Len() > 0 {
				dq.WriteString(",")
			}
			dq.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			dargs = append(dargs, id, fmt.Sprintf("req-%d", i), subject, cp, l.d.ts(at), action.String(), codesJSON,
				false, false, "rev-1", int64(1200000), body)
			for _, c := range cs {
				if hq.Len() > 0 {
					hq.WriteString(",")
				}
				hq.WriteString("(?, ?, ?)")
				hargs = append(hargs, id, c, l.d.ts(at))
			}
			if action >= decision.Restrict && rng.IntN(100) == 0 {
				if aq.Len() > 0 {
					aq.WriteString(",")
				}
				aq.WriteString("(?, ?, ?, ?, ?, ?)")
				aargs = append(aargs, uuid.NewString(), id, subject, "not me", l.d.ts(at.Add(time.Hour)), []string{"open", "upheld", "overturned"}[rng.IntN(3)])
			}
			if rng.IntN(20) == 0 {
				sa := action.String()
				if rng.IntN(5) == 0 {
					sa = decision.Challenge.String()
				}
				if sq.Len() > 0 {
					sq.WriteString(",")
				}
				sq.WriteString("(?, ?, ?, ?, ?)")
				sargs = append(sargs, id, "cand", sa, l.d.ts(at), `{}`)
			}
		}
		for _, s := range []struct {
			head string
			q    *strings.Builder
			args []any
		}{
			{"INSERT INTO decisions (decision_id, request_id, subject_id, checkpoint, decided_at, action, codes, fallback, dry_run, bundle_revision, latency_ns, record) VALUES ", &dq, dargs},
			{"INSERT INTO reason_hits (decision_id, code, decided_at) VALUES ", &hq, hargs},
			{"INSERT INTO appeals (appeal_id, decision_id, subject_id, statement, filed_at, status) VALUES ", &aq, aargs},
			{"INSERT INTO shadow_verdicts (decision_id, revision, action, evaluated_at, verdict) VALUES ", &sq, sargs},
		} {
			if s.q.Len() == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, l.d.rebind(s.head+s.q.String()), s.args...); err != nil {
				b.Fatalf("seed: %v", err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if l.d.name == Postgres {
		if _, err := l.w.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	} else if _, err := l.w.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSearch1M is one page (50) of SearchDecisions over 1,000,000
// stored decisions, for the filters reviewers use, on SQLite and
// PostgreSQL; it reports p50 and p99 of the page latency.
func BenchmarkSearch1M(b *testing.B) {
	const n = 1_000_000
	end := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	open := map[string]func(b *testing.B) *Ledger{
		SQLite: func(b *testing.B) *Ledger {
			cfg := DefaultConfig()
			cfg.Path = filepath.Join(b.TempDir(), "ledger.db")
			return openBench(b, cfg)
		},
		Postgres: func(b *testing.B) *Ledger {
			cfg := DefaultConfig()
			cfg.Driver, cfg.DSN = Postgres, pgtest.Schema(b, "gavel_bench_search")
			return openBench(b, cfg)
		},
	}
	for _, backend := range []string{SQLite, Postgres} {
		b.Run(backend, func(b *testing.B) {
			l := open[backend](b)
			t0 := time.Now()
			seedDecisions(b, l, n, end)
			b.Logf("%s: seeded %d decisions in %v", backend, n, time.Since(t0).Round(time.Second))
			ctx := context.Background()
			// A token from deep in the history: page 200 of the unfiltered search.
			deep := ""
			for range 200 {
				_, next, err := l.SearchDecisions(ctx, SearchFilter{}, 50, deep)
				if err != nil {
					b.Fatal(err)
				}
				deep = next
			}
			fb := false
			cases := []struct {
				name  string
				f     SearchFilter
				token string
			}{
				{"newest", SearchFilter{}, ""},
				{"deep-page", SearchFilter{}, deep},
				{"suspend-signup-week-MODEL_RISK", SearchFilter{Since: end.Add(-7 * 24 * time.Hour), Checkpoint: "signup", Action: decision.Suspend, ReasonCode: "MODEL_RISK"}, ""},
				{"rare-reason", SearchFilter{ReasonCode: "DOCUMENT_REUSED"}, ""},
				{"action-restrict-last-day", SearchFilter{Since: end.Add(-24 * time.Hour), Action: decision.Restrict, Fallback: &fb}, ""},
				{"subject", SearchFilter{SubjectID: "acct-4242"}, ""},
				{"appeal-open", SearchFilter{Appeal: AppealOpen}, ""},
				{"shadow-disagrees", SearchFilter{ShadowDisagrees: true}, ""},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					var found int
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						s := time.Now()
						recs, _, err := l.SearchDecisions(ctx, c.f, 50, c.token)
						lat = append(lat, time.Since(s))
						if err != nil {
							b.Fatal(err)
						}
						found = len(recs)
					}
					b.StopTimer()
					if found == 0 {
						b.Fatalf("%s found nothing", c.name)
					}
					b.ReportMetric(float64(found), "rows")
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				})
			}
		})
	}
}

func openBench(b *testing.B, cfg Config) *Ledger {
	l, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}
