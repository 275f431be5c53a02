package events_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavel/gavel/events"
	"github.com/gavel/gavel/events/eventstest"
	"github.com/gavel/gavel/ledger"
)

// timedStore times the delivery loop's rounds.
type timedStore struct {
	*ledger.Ledger
	n, ns, claimed atomic.Int64
}

func (s *timedStore) Exchange(ctx context.Context, x events.Exchange) ([]events.Delivery, error) {
	t := time.Now()
	ds, err := s.Ledger.Exchange(ctx, x)
	s.ns.Add(int64(time.Since(t)))
	s.n.Add(1)
	s.claimed.Add(int64(len(ds)))
	return ds, err
}

// BenchmarkDrain measures how fast one replica empties a backlog: 2,000
// restrictive decisions (4,000 events) committed first, then delivered to
// a real receiver on this machine that verifies every signature; it
// reports events/s and the delivery loop's round (one ledger
// transaction: route, record, claim).
//
//	go test -run '^$' -bench BenchmarkDrain -benchtime 1x ./events/
func BenchmarkDrain(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			for range b.N {
				l, _ := be.open(b)
				secret := eventstest.NewSecret()
				r := eventstest.NewReceiver(b, secret)
				for i := range 2000 {
					restrict(b, l, fmt.Sprintf("acct-%d", i), "payouts", time.Now())
				}
				ep := endpointTo(r, secret)
				ep.Concurrency = 32
				ts := &timedStore{Ledger: l}
				cfg := events.Config{Source: "/gavel", PollInterval: 20 * time.Millisecond, SweepInterval: time.Second,
					Endpoints: map[string]events.Endpoint{"market": ep}}
				d, err := events.New(cfg, ts, events.Options{Kick: l.EventsWritten()})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				start := time.Now()
				go func() {
					defer close(done)
					d.Run(ctx)
				}()
				eventstest.Wait(b, 5*time.Minute, "the backlog delivered", func() bool { return r.Count() == 4000 })
				el := time.Since(start)
				cancel()
				<-done
				b.ReportMetric(4000/el.Seconds(), "events/s")
				b.ReportMetric(float64(ts.ns.Load()/max(1, ts.n.Load()))/1e6, "ms/round")
				b.ReportMetric(float64(ts.claimed.Load())/float64(max(1, ts.n.Load())), "claimed/round")
			}
		})
	}
}
