package routing

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// outcome is the result of one upstream attempt.
type outcome int

const (
	outcomeOK           outcome = iota // a response other than 502, 503, 504
	outcomeBadStatus                   // 502, 503 or 504: a passive-check failure
	outcomeConnectError                // no connection: nothing was sent
	outcomeError                       // any other transport error
	outcomeCanceled                    // the request's context ended first
	outcomeClientBody                  // the client's request body could not be read
	numOutcomes
)

// String returns o as the "outcome" label of
// popcache_upstream_requests_total.
func (o outcome) String() string {
	switch o {
	case outcomeOK:
		return "ok"
	case outcomeBadStatus:
		return "bad_status"
	case outcomeConnectError:
		return "connect_error"
	case outcomeError:
		return "error"
	case outcomeCanceled:
		return "canceled"
	case outcomeClientBody:
		return "client_body_error"
	}
	return "unknown"
}

// metrics are a table's collectors, listed in the doc of
// [Options.Registerer]. A nil *metrics, and the nil *poolMetrics and
// *serverMetrics it hands out, record nothing.
type metrics struct {
	requests  *prometheus.CounterVec
	retries   *prometheus.CounterVec
	up        *prometheus.GaugeVec
	ejections *prometheus.CounterVec
}

// newMetrics registers the collectors on r, or reuses those an earlier
// table registered there. A nil r gives nil metrics.
func newMetrics(r prometheus.Registerer) (*metrics, error) {
	if r == nil {
		return nil, nil
	}
	var err error
	m := &metrics{}
	if m.requests, err = register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "popcache_upstream_requests_total",
		Help: "Requests sent to upstream servers, by pool, server and outcome.",
	}, []string{"pool", "server", "outcome"})); err != nil {
		return nil, err
	}
	if m.retries, err = register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "popcache_upstream_retries_total",
		Help: "Requests retried on another server after failing to connect.",
	}, []string{"pool"})); err != nil {
		return nil, err
	}
	if m.up, err = register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "popcache_upstream_server_up",
		Help: "1 if active health checks find the server up (or there are none), else 0.",
	}, []string{"pool", "server"})); err != nil {
		return nil, err
	}
	if m.ejections, err = register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "popcache_upstream_ejections_total",
		Help: "Servers ejected by passive health checks after consecutive failures.",
	}, []string{"pool", "server"})); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c on r, or returns the equal collector already there.
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	err := r.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(C); ok {
			return old, nil
		}
	}
	return c, fmt.Errorf("routing: register metrics: %w", err)
}

// poolMetrics are a pool's metrics with the labels resolved.
type poolMetrics struct {
	retries prometheus.Counter
}

// serverMetrics are a server's metrics with the labels resolved, so the
// request path looks nothing up.
type serverMetrics struct {
	outcomes  [numOutcomes]prometheus.Counter
	up        prometheus.Gauge
	ejections prometheus.Counter
}

// pool resolves p's metrics and those of its servers, and sets every
// server up.
func (m *metrics) pool(p *Pool) *poolMetrics {
	if m == nil {
		return nil
	}
	for _, s := range p.servers {
		sm := &serverMetrics{
			up:        m.up.WithLabelValues(p.name, s.label),
			ejections: m.ejections.WithLabelValues(p.name, s.label),
		}
		for o := range numOutcomes {
			sm.outcomes[o] = m.requests.WithLabelValues(p.name, s.label, o.String())
		}
		sm.up.Set(1)
		s.m = sm
	}
	return &poolMetrics{retries: m.retries.WithLabelValues(p.name)}
}

func (m *poolMetrics) retried() {
	if m != nil {
		m.retries.Inc()
	}
}

func (m *serverMetrics) count(o outcome) {
	if m != nil {
		m.outcomes[o].Inc()
	}
}

func (m *serverMetrics) setUp(up bool) {
	if m == nil {
		return
	}
	if up {
		m.up.Set(1)
	} else {
		m.up.Set(0)
	}
}

func (m *serverMetrics) ejected() {
	if m != nil {
		m.ejections.Inc()
	}
}
