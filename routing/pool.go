package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/popcache/popcache/conf"
)

// Pool is one configured origin: its servers, balance policy, health state
// and its own http.Transport. It is safe for concurrent use.
type Pool struct {
	name       string
	hostHeader string
	servers    []*server
	balancer   balancer
	transport  *http.Transport
	probes     *http.Transport // health checks only: never queued behind MaxConns; nil without checks
	passive    conf.Passive
	health     conf.HealthCheck
	now        func() time.Time
	log        *slog.Logger
	m          *poolMetrics // nil without a Registerer
}

// keepAlive is the TCP keep-alive period of upstream connections.
const keepAlive = 30 * time.Second

func newPool(o *conf.Origin, m *metrics, log *slog.Logger, now func() time.Time) (*Pool, error) {
	p := &Pool{
		name:       o.Name,
		hostHeader: o.HostHeader,
		passive:    o.Passive,
		health:     o.Health,
		now:        now,
		log:        log.With("pool", o.Name),
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("routing: origin %q: "+format, append([]any{o.Name}, args...)...))
	}
	if len(o.Servers) == 0 {
		bad("no servers")
	}
	https := false
	for _, u := range o.Servers {
		switch {
		case u.Parsed == nil:
			bad("server %q: URL not parsed", u.URL)
		case u.Parsed.Scheme != "http" && u.Parsed.Scheme != "https":
			bad("server %q: scheme must be http or https", u.URL)
		case u.Parsed.Host == "":
			bad("server %q: no host", u.URL)
		default:
			https = https || u.Parsed.Scheme == "https"
			p.servers = append(p.servers, newServer(len(p.servers), u.Parsed, u.Weight))
		}
	}
	if !o.Passive.Disabled && (o.Passive.MaxFails < 1 || o.Passive.Eject <= 0) {
		bad("passive: max_fails must be at least 1 and eject positive (or set disabled)")
	}
	if h := o.Health; h.Path != "" && (h.Interval <= 0 || h.Timeout <= 0 || h.Rise < 1 || h.Fall < 1) {
		bad("health: interval and timeout must be positive, rise and fall at least 1")
	}
	b, err := newBalancer(o.Balance, len(p.servers))
	if err != nil {
		bad("%v", err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p.balancer = b
	p.transport = newTransport(o, https)
	if o.Health.Path != "" {
		probes := *o
		probes.MaxConns, probes.MaxIdleConns = 0, 1
		p.probes = newTransport(&probes, https)
	}
	p.m = m.pool(p)
	return p, nil
}

// newTransport builds a pool's transport. It never uses the environment's
// proxy settings and never asks for compression: a proxy forwards the
// client's Accept-Encoding, and the transport must not add its own and
// decode the answer behind the client's back.
func newTransport(o *conf.Origin, https bool) *http.Transport {
	d := &net.Dialer{Timeout: o.ConnectTimeout.D(), KeepAlive: keepAlive}
	t := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &connectError{err}
			}
			return c, nil
		},
		TLSHandshakeTimeout:   o.ConnectTimeout.D(),
		ResponseHeaderTimeout: o.HeaderTimeout.D(),
		IdleConnTimeout:       o.IdleTimeout.D(),
		MaxIdleConnsPerHost:   o.MaxIdleConns,
		MaxConnsPerHost:       o.MaxConns,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     https && o.TLS.OffersHTTP2(),
	}
	if https {
		t.TLSClientConfig = originTLSConfig(o)
	}
	return t
}

// hostOnly drops a port (and IPv6 brackets) from hostport.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// connectError marks a failure to connect to a server: nothing was sent,
// so the request may go to another server.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// Name returns the configured origin name.
func (p *Pool) Name() string { return p.name }

// Close closes the pool's idle connections. Requests in flight are not
// interrupted and the pool stays usable.
func (p *Pool) Close() {
	p.transport.CloseIdleConnections()
	if p.probes != nil {
		p.probes.CloseIdleConnections()
	}
}

// RoundTrip sends req to one of the pool's servers and returns its
// response, unchanged (redirects are not followed).
//
// req must be an outgoing request (RequestURI empty). RoundTrip rewrites
// req.URL's scheme and host to the server's and, when the origin sets
// host_header, req.Host; otherwise req.Host, the client's Host, is sent.
// The caller must close the response body: that ends the request for
// least_conn and the pool's in-flight count. Like http.RoundTripper,
// RoundTrip closes req.Body, even on errors.
//
// The server is chosen by the origin's balance; hashKey matters only for
// "hash" (pass the cache key; "" is hashed like any other key). Down and
// ejected servers are skipped unless all are, and then all are tried. If
// the connection to the chosen server cannot be established, the request
// is retried once on another server, whatever its method (the body is
// kept for it); every other error, and any response (5xx included), is
// returned as is.
func (p *Pool) RoundTrip(req *http.Request, hashKey string) (*http.Response, error) {
	s := p.pick(hashKey, nil)
	var guard *retryBody
	if len(p.servers) > 1 && req.Body != nil && req.Body != http.NoBody {
		guard = &retryBody{body: req.Body}
		req.Body = guard
	}
	resp, err := p.send(req, s)
	if err == nil || !p.retryable(req, err) {
		if guard != nil {
			guard.commit()
		}
		return resp, err
	}
	if guard != nil {
		body, ok := guard.takeBack()
		if !ok {
			return nil, err
		}
		req.Body = body
	}
	next := p.pick(hashKey, s)
	p.m.retried()
	p.log.Debug("retrying on another server", "server", s.label, "next", next.label, "err", err)
	return p.send(req, next)
}

// retryable reports whether err, from a first attempt, may be retried on
// another server.
func (p *Pool) retryable(req *http.Request, err error) bool {
	var ce *connectError
	return len(p.servers) > 1 && req.Context().Err() == nil && errors.As(err, &ce)
}

// pick chooses a server other than exclude: one that is available if any
// is, else any (all down → all up). exclude must be nil unless the pool
// has two servers or more.
func (p *Pool) pick(hashKey string, exclude *server) *server {
	f := filter{now: p.now(), exclude: exclude}
	if s := p.balancer.pick(p.servers, f, hashKey); s != nil {
		return s
	}
	f.anyUp = true
	return p.balancer.pick(p.servers, f, hashKey)
}

// send sends req to s, counting it in flight until its response body is
// finished, and records the result for passive checks and metrics.
func (p *Pool) send(req *http.Request, s *server) (*http.Response, error) {
	req.URL.Scheme = s.url.Scheme
	req.URL.Host = s.url.Host
	if p.hostHeader != "" {
		req.Host = p.hostHeader
	}
	s.inflight.Add(1)
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		s.release()
		canceled := req.Context().Err() != nil
		bodyErr := IsRequestBodyError(err)
		switch {
		case canceled:
			s.m.count(outcomeCanceled)
		case bodyErr:
			s.m.count(outcomeClientBody)
		case isConnect(err):
			s.m.count(outcomeConnectError)
		default:
			s.m.count(outcomeError)
		}
		// A client that left, or whose body could not be read, says
		// nothing about the server.
		if !canceled && !bodyErr {
			p.observe(s, true)
		}
		return nil, err
	}
	failed := isGatewayFailure(resp.StatusCode)
	if failed {
		s.m.count(outcomeBadStatus)
	} else {
		s.m.count(outcomeOK)
	}
	p.observe(s, failed)
	resp.Body = wrapResponseBody(resp.Body, s)
	return resp, nil
}

func isConnect(err error) bool {
	var ce *connectError
	return errors.As(err, &ce)
}

// isGatewayFailure reports whether an upstream status counts as a failure
// of the server for passive checks: 502, 503 and 504, the answers of a
// server that is itself failing, not of one refusing a bad request.
func isGatewayFailure(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable ||
		code == http.StatusGatewayTimeout
}

// observe feeds one result to the passive checks.
func (p *Pool) observe(s *server, failed bool) {
	if p.passive.Disabled {
		return
	}
	eject := p.passive.Eject.D()
	if s.recordPassive(failed, p.passive.MaxFails, eject, p.now()) {
		s.m.ejected()
		p.log.Warn("server ejected", "server", s.label, "consecutive_failures", p.passive.MaxFails, "for", eject)
	}
}
