package tests

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gavel/gavel/console"
	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
)

// BenchmarkConsolePages measures, in Chromium, the console's Queue,
// Appeal (the decision's reviewer view), Decision and Rules pages served by
// gavel on a ledger of CONSOLE_BENCH_DECISIONS decisions (default
// 1,000,000, made over the last 90 days; 4 % restrictive, a few thousand
// appealed). Per page it reports the median time to first byte and to
// interactive (DOMContentLoaded's end: the deferred scripts have run) of
// b.N loads. The ledger is seeded once through the ledger's own Commit,
// FileAppeal and ResolveAppeal into CONSOLE_BENCH_DIR (default
// .cache/console-bench-N) and reused. It also reports the embedded assets'
// size. A harness, not a test: it asserts no speed.
//
//	go test -run '^$' -bench ConsolePages -benchtime 10x ./tests/
func BenchmarkConsolePages(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("CONSOLE_BENCH_DECISIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("CONSOLE_BENCH_DECISIONS=%q: want a number ≥ 1000", v)
		}
	}
	dir := os.Getenv("CONSOLE_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot(b), ".cache", fmt.Sprintf("console-bench-%d", n))
	}
	appealID, decisionID := seedConsoleLedger(b, dir, n)
	reportAssetSizes(b)

	g := startGavelIn(b, dir,
		"GAVEL_AUTH__TOKENS__LEAD__SECRET="+consoleOpsToken,
		"GAVEL_AUTH__TOKENS__LEAD__ROLES=admin,review,read",
		// The bench measures pages, not detectors; none is needed to read.
		"GAVEL_DETECTORS__PLUGINS__EMAIL__ENABLED=false", "GAVEL_DETECTORS__PLUGINS__VELOCITY__ENABLED=false",
		"GAVEL_DETECTORS__PLUGINS__LINKAGE__ENABLED=false", "GAVEL_DETECTORS__PLUGINS__DOCUMENT__ENABLED=false",
		"GAVEL_DETECTORS__PLUGINS__GEO__ENABLED=false", "GAVEL_DETECTORS__PLUGINS__PHONE__ENABLED=false",
		"GAVEL_DETECTORS__PLUGINS__MODEL__ENABLED=false",
	)
	br := newBrowser(b)
	ctx := br.user(b)
	navigate(b, ctx, g.addr+"/console/sign-in")
	step(b, ctx, chromedp.SendKeys(chromedp.ID("token"), consoleOpsToken))
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form.signin button[type=submit]`))); err != nil {
		b.Fatal(err)
	}
	pages := []struct{ name, path string }{
		{"queue", "/console/queue"},
		{"appeal", "/console/appeals/" + appealID},
		{"decision", "/console/decisions/" + decisionID},
		{"rules-30d", "/console/rules?period=30d"},
		{"rules-90d", "/console/rules?period=90d"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var ttfb, tti []float64
			for b.Loop() {
				resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(g.addr+p.path))
				if err != nil {
					b.Fatal(err)
				}
				if resp.Status != 200 {
					b.Fatalf("%s = %d", p.path, resp.Status)
				}
				tm := pageTiming(b, ctx)
				ttfb, tti = append(ttfb, tm.TTFB), append(tti, tm.Interactive)
			}
			b.ReportMetric(median(ttfb), "ttfb-ms")
			b.ReportMetric(median(tti), "tti-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	return s[len(s)/2]
}

// reportAssetSizes logs what the console embeds, raw and gzipped.
func reportAssetSizes(b *testing.B) {
	sizes, err := console.AssetSizes()
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 0, len(sizes))
	total := 0
	for n, s := range sizes {
		names = append(names, n)
		total += s
	}
	sort.Strings(names)
	for _, n := range names {
		b.Logf("embedded asset %-28s %7d bytes", n, sizes[n])
	}
	b.Logf("embedded assets: %d files, %d bytes", len(names), total)
	_ = gzipSize
}

func gzipSize(p []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(p)
	w.Close()
	return buf.Len()
}

var benchCodes = []string{"PAYOUT_ACCOUNT_SHARED", "DEVICE_SHARED", "MODEL_RISK", "EMAIL_DISPOSABLE", "PHONE_VOIP",
	"GEO_COUNTRY_MISMATCH", "DOCUMENT_NAME_MISMATCH", "VELOCITY_SIGNUPS_PER_IP", "HOSTING_ASN", "DOCUMENT_EXPIRED"}

// seedConsoleLedger fills a SQLite ledger under dir with n decisions made
// over the last 90 days, through the ledger's own API, unless a previous
// run did. It returns an open appeal and a restrictive decision.
func seedConsoleLedger(b *testing.B, dir string, n int) (appealID, decisionID string) {
	b.Helper()
	marker := filepath.Join(dir, "seeded")
	cfg := ledger.DefaultConfig()
	cfg.Driver = ledger.SQLite
	cfg.Path = filepath.Join(dir, "ledger.db")
	if _, err := os.Stat(marker); err != nil {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	l, err := ledger.Open(ctx, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if ids, err := os.ReadFile(marker); err == nil {
		var a, d string
		if _, err := fmt.Sscan(string(ids), &a, &d); err == nil {
			return a, d
		}
	}
	start := time.Now()
	now := time.Now().UTC()
	from := now.Add(-90 * 24 * time.Hour)
	step := (90 * 24 * time.Hour) / time.Duration(n)
	type appealJob struct {
		id string
		at time.Time
	}
	var (
		mu      sync.Mutex
		appeals []appealJob
		wg      sync.WaitGroup
		next    = make(chan int, 1024)
		failed  error
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range next {
				at := from.Add(time.Duration(i) * step)
				rec := benchRecord(rng, i, at)
				if _, _, err := l.Commit(ctx, rec, nil); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				if rec.Verdict.Action >= decision.Restrict && rng.IntN(100) < 3 {
					mu.Lock()
					appeals = append(appeals, appealJob{rec.DecisionID, at})
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
		if i%100_000 == 0 && i > 0 {
			fmt.Fprintf(os.Stderr, "seeded %d decisions in %v\n", i, time.Since(start).Round(time.Second))
		}
	}
	close(next)
	wg.Wait()
	if failed != nil {
		b.Fatalf("seed: %v", failed)
	}
	sort.Slice(appeals, func(i, j int) bool { return appeals[i].at.Before(appeals[j].at) })
	rng := rand.New(rand.NewPCG(99, 1))
	for i, a := range appeals {
		ap, err := l.FileAppeal(ctx, ledger.AppealFiling{DecisionID: a.id, Statement: "Please look again.", FiledBy: "bench", At: a.at.Add(time.Hour), Window: 180 * 24 * time.Hour})
		if err != nil {
			b.Fatalf("seed appeal: %v", err)
		}
		// The older two thirds are resolved, half of them overturned.
		if i < len(appeals)*2/3 {
			outcome := ledger.AppealUpheld
			if rng.IntN(2) == 0 {
				outcome = ledger.AppealOverturned
			}
			if _, err := l.ResolveAppeal(ctx, ledger.AppealResolution{AppealID: ap.AppealID, Outcome: outcome, Reviewer: "bench", At: a.at.Add(2 * time.Hour)}); err != nil {
				b.Fatalf("seed resolve: %v", err)
			}
		} else if appealID == "" {
			appealID, decisionID = ap.AppealID, a.id
		}
	}
	if appealID == "" {
		b.Fatal("seed: no open appeal")
	}
	b.Logf("seeded %d decisions and %d appeals in %v", n, len(appeals), time.Since(start).Round(time.Second))
	if err := os.WriteFile(marker, []byte(appealID+" "+decisionID+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	return appealID, decisionID
}

// benchRecord is the i-th decision of the bench ledger: mostly allows,
// some warns and challenges, 4 % restrictions with holds and a strike.
func benchRecord(rng *rand.Rand, i int, at time.Time) *decision.Record {
	subject := fmt.Sprintf("acct-%d", i%200_000)
	cp := checkpoints[i%len(checkpoints)]
	var action decision.Action
	switch r := rng.IntN(100); {
	case r < 70:
		action = decision.Allow
	case r < 84:
		action = decision.Warn
	case r < 96:
		action = decision.Challenge
	case r < 99:
		action = decision.Restrict
	default:
		action = decision.Suspend
	}
	var codes []string
	if action > decision.Allow {
		codes = append(codes, benchCodes[rng.IntN(len(benchCodes))])
		if rng.IntN(3) == 0 {
			if c := benchCodes[rng.IntN(len(benchCodes))]; c != codes[0] {
				codes = append(codes, c)
			}
		}
	}
	rec := ledgertest.Record(subject, cp, at, action, codes...)
	if action >= decision.Restrict {
		rec.Verdict.Strike = true
		rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: 30 * 24 * time.Hour}}
	}
	return rec
}
