// Package admission decides, before a request is read, whether gavel takes
// it on: a cap on the requests served at once, past which callers get
// resource_exhausted at once instead of queueing behind work gavel cannot
// finish in time, and a token bucket per authenticated caller. Both are
// counted in metrics, so load never switches enforcement off quietly: a
// request is either served within its budget or refused explicitly.
package admission

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/gavel/gavel/internal/auth"
)

// Limit is one caller's token bucket.
type Limit struct {
	Rate  float64 // requests a second; 0 is unlimited
	Burst int
}

// Config says how much gavel takes on.
type Config struct {
	// MaxInFlight caps the requests served at once; 0 is no cap.
	MaxInFlight int
	// LatencyTarget adapts the cap below MaxInFlight (see limit): it is
	// lowered while busy requests take longer than this, raised while
	// they take less, never below MinInFlight. 0 keeps the cap at
	// MaxInFlight.
	LatencyTarget time.Duration
	MinInFlight   int
	// Callers' limits, by authenticated caller name.
	Callers map[string]Limit
}

// Controller admits or sheds requests. It is safe for concurrent use.
type Controller struct {
	slots    *limit // nil without a cap
	limiters map[string]*rate.Limiter
	errors   *connect.ErrorWriter

	inFlight prometheus.Gauge
	shed     *prometheus.CounterVec
}

// New returns a controller whose series are registered on reg.
func New(cfg Config, reg prometheus.Registerer) *Controller {
	c := &Controller{limiters: map[string]*rate.Limiter{}, errors: connect.NewErrorWriter()}
	if cfg.MaxInFlight > 0 {
		c.slots = newLimit(cfg.MaxInFlight, cfg.MinInFlight, cfg.LatencyTarget)
	}
	for name, l := range cfg.Callers {
		if l.Rate > 0 {
			c.limiters[name] = rate.NewLimiter(rate.Limit(l.Rate), max(1, l.Burst))
		}
	}
	c.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gavel_requests_in_flight", Help: "RPC requests being served now.",
	})
	c.shed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gavel_requests_shed_total",
		Help: "RPC requests refused with resource_exhausted before being read, by reason (in_flight: the cap on requests served at once; rate_limit: the caller's token bucket) and caller.",
	}, []string{"reason", "caller"})
	capacity := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gavel_requests_in_flight_limit",
		Help: "The cap on RPC requests served at once now: server.max_in_flight, lowered while requests take longer than server.latency_target (0: no cap).",
	}, func() float64 {
		if c.slots == nil {
			return 0
		}
		return float64(c.slots.current())
	})
	reg.MustRegister(c.inFlight, c.shed, capacity)
	return c
}

// Shed reasons.
const (
	ReasonInFlight  = "in_flight"
	ReasonRateLimit = "rate_limit"
)

// Middleware admits the RPC procedures that auth.Middleware authenticated
// (it runs after it): a caller past its rate, or any caller while the
// in-flight cap is reached, gets resource_exhausted at once,
// in the protocol it spoke. Other paths pass through.
func (c *Controller) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok || !auth.IsProcedure(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if l := c.limiters[p.Name]; l != nil && !l.Allow() {
			c.refuse(w, r, ReasonRateLimit, p.Name, time.Duration(float64(time.Second)/float64(l.Limit())),
				fmt.Errorf("caller %s is over its rate of %v requests a second", p.Name, float64(l.Limit())))
			return
		}
		if c.slots != nil {
			if !c.slots.acquire() {
				c.refuse(w, r, ReasonInFlight, p.Name, 0, errors.New("gavel is serving as many requests as it can answer in time; retry with the same request_id"))
				return
			}
			start := time.Now()
			defer func() { c.slots.release(time.Since(start)) }()
		}
		c.inFlight.Inc()
		defer c.inFlight.Dec()
		next.ServeHTTP(w, r)
	})
}

func (c *Controller) refuse(w http.ResponseWriter, r *http.Request, reason, caller string, retry time.Duration, err error) {
	c.shed.WithLabelValues(reason, caller).Inc()
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retry.Round(time.Second)/time.Second))))
	}
	auth.WriteError(c.errors, w, r, connect.NewError(connect.CodeResourceExhausted, err))
}
