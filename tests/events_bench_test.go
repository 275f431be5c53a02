package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/events/eventstest"
	"github.com/gavel/gavel/internal/pgtest"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// BenchmarkEventDelivery drives a real gavel serve at a fixed rate of
// decisions (open loop, 500/s by default: GAVEL_BENCH_EVENTS_RATE) for a
// fixed time (10 s: GAVEL_BENCH_EVENTS_SECONDS), a share of them
// restrictive, every event delivered to a real receiver on this machine
// that verifies each signature, with the endpoint's concurrency 32
// (GAVEL_BENCH_EVENTS_CONCURRENCY). It reports the decisions' latency, the
// events delivered per second while the load ran, and each event's delay
// from its time (the decision's time, just before its commit) to its
// arrival at the receiver. Run it once per case:
//
//	go test -run '^$' -bench BenchmarkEventDelivery -benchtime 1x ./tests/
func BenchmarkEventDelivery(b *testing.B) {
	rate, seconds := 500, 10
	if v, err := strconv.Atoi(os.Getenv("GAVEL_BENCH_EVENTS_RATE")); err == nil && v > 0 {
		rate = v
	}
	if v, err := strconv.Atoi(os.Getenv("GAVEL_BENCH_EVENTS_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, share := range []int{100, 10} {
			b.Run(fmt.Sprintf("%s/restrictive=%d%%", backend, share), func(b *testing.B) {
				env := detectorsOff(b)
				if backend == "postgres" {
					if os.Getenv(pgtest.Env) == "" {
						b.Skip(pgtest.Env + " not set")
					}
					env = append(env, "GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+pgtest.Schema(b, "gavel_bench_events"))
				}
				for range b.N {
					benchEvents(b, env, rate, time.Duration(seconds)*time.Second, share)
				}
			})
		}
	}
}

func benchEvents(b *testing.B, env []string, rate int, run time.Duration, share int) {
	secret := eventstest.NewSecret()
	r := eventstest.NewReceiver(b, secret)
	// GAVEL_BENCH_EVENTS_OFF=1 configures no endpoint: the same decisions
	// with their events written but not delivered, to see what delivery
	// costs the decisions.
	off := os.Getenv("GAVEL_BENCH_EVENTS_OFF") == "1"
	if !off {
		env = append(env, eventsEnv(r, secret)...)
	}
	concurrency := "32"
	if v := os.Getenv("GAVEL_BENCH_EVENTS_CONCURRENCY"); v != "" {
		concurrency = v
	}
	env = append(env, "GAVEL_SERVER__MAX_IN_FLIGHT=0")
	if !off {
		env = append(env, "GAVEL_EVENTS__ENDPOINTS__MARKET__CONCURRENCY="+concurrency)
	}
	g := startGavel(b, env...)
	client := g.decisions()

	type job struct {
		req *decisionv1.DecideRequest
		due time.Time
	}
	jobs := make(chan job, rate*int(run/time.Second)+1)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failed    int
		wg        sync.WaitGroup
		answered  = map[string]time.Time{} // decision id → when its reply arrived
	)
	for range 64 {
		wg.Go(func() {
			for j := range jobs {
				resp, err := client.Decide(ctxT(b), connect.NewRequest(j.req))
				now := time.Now()
				mu.Lock()
				if err != nil {
					failed++
				} else {
					latencies = append(latencies, now.Sub(j.due))
					answered[resp.Msg.GetDecisionId()] = now
				}
				mu.Unlock()
			}
		})
	}
	stamp := time.Now().UnixNano()
	start := time.Now()
	total := rate * int(run/time.Second)
	restrictive := 0
	for i := range total {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		subject := fmt.Sprintf("acct-bench-%d-%d", stamp, i)
		req := at(subject, "login")
		if i%100 < share {
			req = at(subject, "withdrawal", fraudScore(0.97))
			restrictive++
		}
		jobs <- job{req: req, due: due}
	}
	close(jobs)
	wg.Wait()
	loadEnd := time.Now()
	if off {
		slices.Sort(latencies)
		elapsed := loadEnd.Sub(start).Seconds()
		b.ReportMetric(float64(len(latencies))/elapsed, "decisions/s")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "decide-p99-ms")
		b.Logf("no endpoint: %d decisions (%d restrictive, %d failed) in %.1fs: decide p50 %v p99 %v",
			len(latencies)+failed, restrictive, failed, elapsed, latencies[len(latencies)/2], latencies[len(latencies)*99/100])
		return
	}
	eventually(b, 5*time.Minute, "every event delivered", func() (bool, string) {
		st := eventsStatus(b, g)
		if st == nil || len(st.GetEndpoints()) != 1 {
			return false, "no status"
		}
		ep := st.GetEndpoints()[0]
		return ep.GetPending() == 0 && st.GetUnrouted() == 0, fmt.Sprintf("%d pending", ep.GetPending())
	})
	drained := time.Now()
	if p := r.Problems(); len(p) > 0 {
		b.Fatalf("receiver problems: %v", p[:min(len(p), 5)])
	}
	// Two delays per event: from its time (the decision's, taken before its
	// commit: an upper bound of commit → receiver) and from the reply to
	// the caller (sent after the commit: a lower bound).
	var delays, fromReply []time.Duration
	inWindow := 0
	for _, evs := range r.Delivered() {
		for _, ev := range evs {
			delays = append(delays, ev.At.Sub(ev.Time))
			if ev.At.Before(loadEnd) {
				inWindow++
			}
			var d struct {
				DecisionID string `json:"decision_id"`
			}
			if json.Unmarshal(ev.Data, &d) == nil {
				if at, ok := answered[d.DecisionID]; ok {
					fromReply = append(fromReply, ev.At.Sub(at))
				}
			}
		}
	}
	slices.Sort(delays)
	slices.Sort(fromReply)
	slices.Sort(latencies)
	pct := func(s []time.Duration, p float64) time.Duration {
		if len(s) == 0 {
			return 0
		}
		return s[min(len(s)-1, int(float64(len(s))*p))]
	}
	elapsed := loadEnd.Sub(start).Seconds()
	b.ReportMetric(float64(len(latencies))/elapsed, "decisions/s")
	b.ReportMetric(float64(pct(latencies, .99).Microseconds())/1000, "decide-p99-ms")
	b.ReportMetric(float64(len(delays)), "events")
	b.ReportMetric(float64(inWindow)/elapsed, "events/s-under-load")
	b.ReportMetric(float64(pct(delays, .5).Microseconds())/1000, "delay-p50-ms")
	b.ReportMetric(float64(pct(delays, .99).Microseconds())/1000, "delay-p99-ms")
	b.ReportMetric(float64(pct(delays, 1).Microseconds())/1000, "delay-max-ms")
	b.ReportMetric(float64(pct(fromReply, .5).Microseconds())/1000, "reply-to-receiver-p50-ms")
	b.ReportMetric(float64(pct(fromReply, .99).Microseconds())/1000, "reply-to-receiver-p99-ms")
	b.Logf("%d decisions (%d restrictive, %d failed) in %.1fs: decide p50 %v p99 %v; %d events, %.0f/s delivered under load, all delivered %.1fs after the load ended; delay from the decision's time p50 %v p99 %v max %v; from the reply p50 %v p99 %v",
		len(latencies)+failed, restrictive, failed, elapsed, pct(latencies, .5), pct(latencies, .99), len(delays),
		float64(inWindow)/elapsed, drained.Sub(loadEnd).Seconds(), pct(delays, .5), pct(delays, .99), pct(delays, 1), pct(fromReply, .5), pct(fromReply, .99))
	if failed > 0 {
		b.Errorf("%d decisions failed", failed)
	}
}
