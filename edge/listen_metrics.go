package edge

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// listenMetrics are the listeners' Prometheus series:
//
//   - popcache_protocol_requests_total{protocol,tls}: client requests by
//     protocol (h1, h2, h3) and whether they came over TLS (h2 without TLS
//     is h2c);
//   - popcache_tls_handshake_errors_total{reason}: failed TLS handshakes on
//     TCP listeners: not_tls (the client spoke something else), timeout,
//     client_closed, client_alert (the client refused us, often our
//     certificate), protocol (no common version, cipher or ALPN);
//   - popcache_proxy_protocol_errors_total{reason}: connections refused on
//     PROXY protocol listeners: missing, invalid or timeout;
//   - popcache_tls_cert_reloads_total{result}: certificate reloads that
//     changed something (ok) or failed (error);
//   - popcache_h1_fast_handoffs_total: requests the HTTP/1.1 fast path
//     (h1fast.go) passed to net/http with their connection because they
//     were not plain hits in memory;
//   - popcache_h1_fast_resumes_total: handed-off connections the fast path
//     took back after net/http answered a request cleanly;
//   - popcache_h1_fast_accept_answers_total: connections whose one
//     request, asking to close, was a plain hit the accepting goroutine
//     answered itself (h1fast_accept_linux.go);
//   - popcache_h2_fast_hits_total: HTTP/2 requests answered as plain hits
//     on the connection's own goroutine (h2hit.go), with no handler;
//   - popcache_h1_framing_refused_total: HTTP/1 requests refused with 400
//     before net/http saw them, for Transfer-Encoding with Content-Length
//     or on HTTP/1.0 (h1fast_framing.go);
//   - popcache_h1_event_loop_connections: HTTP/1.1 connections waiting
//     for a request in the event loops' sets (h1fast_poll_linux.go),
//     counted when scraped.
type listenMetrics struct {
	handshakeErrors *prometheus.CounterVec
	proxyErrors     *prometheus.CounterVec
	certReloads     *prometheus.CounterVec
	fastHandoffs    prometheus.Counter
	fastResumes     prometheus.Counter
	fastAtAccept    prometheus.Counter
	fastSendfile    prometheus.Counter
	h2FastHits      prometheus.Counter
	fastRefused     prometheus.Counter

	pollMu  sync.Mutex
	pollers map[*poller]struct{} // the sets the connections gauge counts

	// The request counters, resolved once: the hot path only adds.
	h1, h2c, h1TLS, h2TLS, h3 prometheus.Counter
}

func newListenMetrics(reg prometheus.Registerer) *listenMetrics {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "popcache_protocol_requests_total",
		Help: "Client requests by protocol (h1, h2, h3) and whether they came over TLS.",
	}, []string{"protocol", "tls"})
	m := &listenMetrics{
		handshakeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "popcache_tls_handshake_errors_total",
			Help: "Failed TLS handshakes on TCP listeners, by reason (not_tls, timeout, client_closed, client_alert, protocol).",
		}, []string{"reason"}),
		proxyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "popcache_proxy_protocol_errors_total",
			Help: "Connections refused on PROXY protocol listeners, by reason (missing, invalid, timeout).",
		}, []string{"reason"}),
		certReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "popcache_tls_cert_reloads_total",
			Help: "Certificate reloads that changed something (ok) or failed (error).",
		}, []string{"result"}),
		fastHandoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_h1_fast_handoffs_total",
			Help: "Requests the HTTP/1.1 fast path passed to net/http with their connection because they were not plain hits in memory.",
		}),
		fastResumes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_h1_fast_resumes_total",
			Help: "Handed-off HTTP/1.1 connections the fast path took back after net/http answered a request cleanly.",
		}),
		fastAtAccept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_h1_fast_accept_answers_total",
			Help: "HTTP/1.1 connections whose one request, asking to close, was a plain hit answered by the accepting goroutine itself.",
		}),
		fastSendfile: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_h1_sendfile_answers_total",
			Help: "HTTP/1.1 plain hits whose body went from a memory file with sendfile (cache.sendfile_min_bytes).",
		}),
		h2FastHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_h2_fast_hits_total",
			Help: "HTTP/2 requests answered as plain hits on the connection's own goroutine, with no handler goroutine.",
		}),
		fastRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_h1_framing_refused_total",
			Help: "HTTP/1 requests refused with 400 for ambiguous framing: Transfer-Encoding with Content-Length, or on HTTP/1.0.",
		}),
		h1:    requests.WithLabelValues("h1", "false"),
		h2c:   requests.WithLabelValues("h2", "false"),
		h1TLS: requests.WithLabelValues("h1", "true"),
		h2TLS: requests.WithLabelValues("h2", "true"),
		h3:    requests.WithLabelValues("h3", "true"),
	}
	m.pollers = make(map[*poller]struct{})
	polled := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "popcache_h1_event_loop_connections",
		Help: "HTTP/1.1 connections waiting for a request in the event loops' sets.",
	}, m.polledConns)
	if reg != nil {
		reg.MustRegister(requests, m.handshakeErrors, m.proxyErrors, m.certReloads, m.fastHandoffs, m.fastResumes, m.fastAtAccept, m.fastSendfile, m.h2FastHits, m.fastRefused, polled)
	}
	return m
}

// watchPoller adds p's connections to the gauge, or takes them off.
func (m *listenMetrics) watchPoller(p *poller, on bool) {
	m.pollMu.Lock()
	defer m.pollMu.Unlock()
	if on {
		m.pollers[p] = struct{}{}
	} else {
		delete(m.pollers, p)
	}
}

// polledConns is the event loop connections gauge's value.
func (m *listenMetrics) polledConns() float64 {
	m.pollMu.Lock()
	defer m.pollMu.Unlock()
	n := 0
	for p := range m.pollers {
		n += p.waiting()
	}
	return float64(n)
}
