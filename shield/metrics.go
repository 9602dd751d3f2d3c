package shield

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Failure reasons, the "reason" label of popcache_shield_failures_total.
const (
	reasonConnect = "connect" // no connection: nothing was sent
	reasonTimeout = "timeout" // no response headers in time
	reasonError   = "error"   // any other transport error
	reasonStatus  = "status"  // a 502, 503 or 504 the shield generated without forwarding
	reasonBody    = "body"    // the body broke off while being buffered
	// reasonUpstream: a 502, 503 or 504 the shield generated after
	// forwarding (its origin failed); not counted against its breaker.
	reasonUpstream = "upstream"
)

var reasons = [...]string{reasonConnect, reasonTimeout, reasonError, reasonStatus, reasonBody, reasonUpstream}

// metrics are a Client's collectors, listed in the doc of
// [Options.Registerer]. A nil *metrics hands out peerMetrics that record
// nothing.
type metrics struct {
	requests  *prometheus.CounterVec
	failures  *prometheus.CounterVec
	failovers *prometheus.CounterVec
	skipped   *prometheus.CounterVec
	state     *prometheus.GaugeVec
	up        *prometheus.GaugeVec
	duration  *prometheus.HistogramVec
	origin    prometheus.Counter
}

// newMetrics registers the collectors on r, or reuses those an earlier
// Client registered there (a config reload). A nil r gives nil metrics.
func newMetrics(r prometheus.Registerer) (*metrics, error) {
	if r == nil {
		return nil, nil
	}
	m := &metrics{}
	var errs []error
	m.requests = register(r, &errs, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "popcache_shield_requests_total",
		Help: "Requests sent to each shield: every attempt counts, a failover being a second attempt elsewhere; health probes do not.",
	}, []string{"shield"}))
	m.failures = register(r, &errs, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "popcache_shield_failures_total",
		Help: "Attempts on a shield that failed, by reason: connect, timeout, error, status (a 502, 503 or 504 the shield generated without forwarding), body (cut short), or upstream (the shield's origin failed; not counted by the breaker).",
	}, []string{"shield", "reason"}))
	m.failovers = register(r, &errs, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "popcache_shield_failovers_total",
		Help: "Requests moved on after the shield failed, by where they went next (shield or origin).",
	}, []string{"shield", "to"}))
	m.skipped = register(r, &errs, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "popcache_shield_skipped_total",
		Help: "Requests that skipped the shield untried: its circuit was open or its health checks failed.",
	}, []string{"shield"}))
	m.state = register(r, &errs, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "popcache_shield_circuit_state",
		Help: "Circuit breaker state of each shield: 0 closed, 1 half-open, 2 open.",
	}, []string{"shield"}))
	m.up = register(r, &errs, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "popcache_shield_up",
		Help: "1 while active health checks (if any) find the shield up, else 0.",
	}, []string{"shield"}))
	m.duration = register(r, &errs, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "popcache_shield_duration_seconds",
		Help:    "Time from sending a request to a shield to its response headers (or failure).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"shield"}))
	m.origin = register(r, &errs, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "popcache_shield_origin_fallbacks_total",
		Help: "Requests sent to the origin directly because no shield could answer.",
	}))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c on r, or returns the equal collector already there;
// a conflict is appended to errs.
func register[C prometheus.Collector](r prometheus.Registerer, errs *[]error, c C) C {
	err := r.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(C); ok {
			return old
		}
	}
	*errs = append(*errs, fmt.Errorf("shield: register metrics: %w", err))
	return c
}

// peerMetrics are one shield's series with the labels resolved, so the
// request path looks nothing up. The zero value records nothing.
type peerMetrics struct {
	requests prometheus.Counter
	failures map[string]prometheus.Counter // by reason
	toShield prometheus.Counter
	toOrigin prometheus.Counter
	skipped  prometheus.Counter
	state    prometheus.Gauge
	up       prometheus.Gauge
	duration prometheus.Observer
}

// peer resolves the series of the shield labelled label, set closed and up.
func (m *metrics) peer(label string) *peerMetrics {
	if m == nil {
		return &peerMetrics{}
	}
	pm := &peerMetrics{
		requests: m.requests.WithLabelValues(label),
		failures: make(map[string]prometheus.Counter, len(reasons)),
		toShield: m.failovers.WithLabelValues(label, "shield"),
		toOrigin: m.failovers.WithLabelValues(label, "origin"),
		skipped:  m.skipped.WithLabelValues(label),
		state:    m.state.WithLabelValues(label),
		up:       m.up.WithLabelValues(label),
		duration: m.duration.WithLabelValues(label),
	}
	for _, r := range reasons {
		pm.failures[r] = m.failures.WithLabelValues(label, r)
	}
	pm.state.Set(float64(Closed))
	pm.up.Set(1)
	return pm
}

func (m *peerMetrics) request() {
	if m.requests != nil {
		m.requests.Inc()
	}
}

func (m *peerMetrics) failed(reason string) {
	if c := m.failures[reason]; c != nil {
		c.Inc()
	}
}

func (m *peerMetrics) failover(toOrigin bool) {
	c := m.toShield
	if toOrigin {
		c = m.toOrigin
	}
	if c != nil {
		c.Inc()
	}
}

func (m *peerMetrics) skip() {
	if m.skipped != nil {
		m.skipped.Inc()
	}
}

func (m *peerMetrics) observe(seconds float64) {
	if m.duration != nil {
		m.duration.Observe(seconds)
	}
}

func (m *peerMetrics) setState(s State) {
	if m.state != nil {
		m.state.Set(float64(s))
	}
}

func (m *peerMetrics) setUp(up bool) {
	if m.up == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.up.Set(v)
}

func (m *metrics) originFallback() {
	if m != nil {
		m.origin.Inc()
	}
}
