package edge

import (
	"maps"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the edge's Prometheus series. The cache result label is one
// of hit, stale, miss, pass, bypass, error, synthetic.
type metrics struct {
	requests      *prometheus.CounterVec
	upstream      *prometheus.HistogramVec
	bytesOut      prometheus.Counter
	bytesIn       prometheus.Counter
	collapsed     prometheus.Counter
	released      prometheus.Counter
	fills         *prometheus.CounterVec
	invalidations prometheus.Counter
	inflight      prometheus.Gauge

	// hits200 maps a route name to its requests_total{code="200",
	// cache="hit"} counter, so the commonest request skips the label
	// hashing of WithLabelValues. Copied on write: a route is added once.
	hits200 atomic.Pointer[map[string]prometheus.Counter]
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "popcache_requests_total",
			Help: "Client requests by route, status code and cache result (hit, stale, miss, pass, bypass, error, synthetic).",
		}, []string{"route", "code", "cache"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "popcache_upstream_duration_seconds",
			Help:    "Time to upstream response headers, by route and kind (fill, revalidate, pass).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "kind"}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_response_body_bytes_total",
			Help: "Response body bytes written to clients.",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_request_body_bytes_total",
			Help: "Request body bytes read from clients and forwarded upstream.",
		}),
		collapsed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_coalesced_waiters_total",
			Help: "Requests that waited for another request's fetch and were served its response.",
		}),
		released: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_coalesced_released_total",
			Help: "Requests that waited for another request's fetch whose response could not be shared, and fetched on their own.",
		}),
		fills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "popcache_fills_total",
			Help: "Upstream fetches made to fill the cache, by outcome (stored, not_stored, refreshed, error).",
		}, []string{"outcome"}),
		invalidations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_invalidations_total",
			Help: "Keys invalidated after unsafe requests (RFC 9111 §4.4).",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "popcache_requests_in_flight",
			Help: "Client requests being served.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.upstream, m.bytesOut, m.bytesIn, m.collapsed, m.released,
			m.fills, m.invalidations, m.inflight)
	}
	return m
}

// observe counts one finished client request.
func (m *metrics) observe(route string, code int, result string, bodyBytes int64) {
	if code == 200 && result == "hit" {
		m.hit200(route).Inc()
	} else {
		m.requests.WithLabelValues(route, codeLabel(code), result).Inc()
	}
	m.bytesOut.Add(float64(bodyBytes))
}

// hit200 returns the 200-hit counter of a route.
func (m *metrics) hit200(route string) prometheus.Counter {
	cur := m.hits200.Load()
	if cur != nil {
		if c, ok := (*cur)[route]; ok {
			return c
		}
	}
	c := m.requests.WithLabelValues(route, "200", "hit")
	next := make(map[string]prometheus.Counter, 1)
	if cur != nil {
		maps.Copy(next, *cur)
	}
	next[route] = c
	m.hits200.CompareAndSwap(cur, &next) // a lost race only costs a retry next time
	return c
}

// codeLabel formats a status code without allocating for common codes.
func codeLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 206:
		return "206"
	case 304:
		return "304"
	case 404:
		return "404"
	}
	return strconv.Itoa(code)
}
