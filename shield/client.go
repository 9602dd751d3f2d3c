package shield

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popcache/popcache/conf"
)

// Options are a Client's dependencies. The zero value is usable.
type Options struct {
	// Registerer receives the client's metrics; nil registers none.
	// Clients built one after another on the same Registerer (config
	// reloads) share the collectors. The shield label is the shield's
	// scheme://host.
	//
	//   - popcache_shield_requests_total{shield}: attempts sent.
	//   - popcache_shield_failures_total{shield,reason}: failed attempts;
	//     reason is connect, timeout, error, status, body or upstream (see
	//     [Tier.RoundTrip]).
	//   - popcache_shield_failovers_total{shield,to}: requests that moved on
	//     after the shield failed, to the next shield or the origin.
	//   - popcache_shield_skipped_total{shield}: requests that skipped the
	//     shield untried (circuit open, or health checks failing).
	//   - popcache_shield_circuit_state{shield}: 0 closed, 1 half-open,
	//     2 open.
	//   - popcache_shield_up{shield}: the health checks' verdict (1 without
	//     checks).
	//   - popcache_shield_duration_seconds{shield}: time to response headers.
	//   - popcache_shield_origin_fallbacks_total: requests sent to the
	//     origin directly because no shield answered.
	Registerer prometheus.Registerer
	// Logger receives circuit and health changes; nil discards them.
	Logger *slog.Logger
	// Now is the circuit breakers' clock; nil means time.Now. Tests inject
	// a fake one.
	Now func() time.Time
}

// Origin is where a [Tier] sends what no shield answered: the route's
// origin pool (*routing.Pool satisfies it). RoundTrip has
// http.RoundTripper's contract, hashKey aside.
type Origin interface {
	RoundTrip(req *http.Request, hashKey string) (*http.Response, error)
}

// Client sends requests to a pool of shields, each request to its key's
// home shield first (rendezvous hashing), with a circuit breaker and
// optional health checks per shield. It has its own http.Transport, with
// keep-alive connections to every shield. It is safe for concurrent use;
// its configuration never changes (a reload builds a new Client).
type Client struct {
	peers     []*peer         // config order
	transport *http.Transport // requests
	probes    *http.Transport // health checks: never queued behind requests; nil without checks
	failover  bool            // to the origin, when every shield failed
	buffer    int64           // retry buffer, bytes
	health    conf.HealthCheck
	now       func() time.Time
	log       *slog.Logger
	m         *metrics // nil without a Registerer

	runMu sync.Mutex // serialises Run: the health loop owns the probe counters
}

// keepAlive is the TCP keep-alive period of connections to shields.
const keepAlive = 30 * time.Second

// New builds a Client for a validated [conf.Shield] with at least one
// server.
func New(cfg *conf.Shield, opts Options) (*Client, error) {
	if cfg == nil || len(cfg.Servers) == 0 {
		return nil, errors.New("shield: new client: no shield servers")
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Client{
		failover: cfg.Failover == conf.FailoverOrigin,
		buffer:   int64(cfg.RetryBuffer),
		health:   cfg.Health,
		now:      opts.Now,
		log:      opts.Logger,
		m:        m,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	https := false
	for i, s := range cfg.Servers {
		u := s.Parsed
		if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("shield: new client: servers[%d] %q: not a validated http(s)://host[:port] URL", i, s.URL))
			continue
		}
		https = https || u.Scheme == "https"
		p := newPeer(u, s.Weight, cfg.Breaker.MaxFails, cfg.Breaker.OpenFor.D())
		p.m = m.peer(p.label)
		p.br.onChange = c.circuitChanged(p)
		c.peers = append(c.peers, p)
	}
	if cfg.Breaker.MaxFails < 1 || cfg.Breaker.OpenFor <= 0 {
		errs = append(errs, errors.New("shield: new client: breaker max_fails must be at least 1 and open_for positive"))
	}
	if h := cfg.Health; h.Path != "" && (h.Interval <= 0 || h.Timeout <= 0 || h.Rise < 1 || h.Fall < 1) {
		errs = append(errs, errors.New("shield: new client: health interval and timeout must be positive, rise and fall at least 1"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.transport = newTransport(cfg, cfg.MaxIdleConns, https)
	if cfg.Health.Path != "" {
		c.probes = newTransport(cfg, 1, https)
	}
	return c, nil
}

// newTransport builds the transport to the shields. It never uses the
// environment's proxy settings and never asks for compression: the
// client's Accept-Encoding is forwarded as is, and the answer must not be
// decoded behind the edge's back.
func newTransport(cfg *conf.Shield, maxIdle int, https bool) *http.Transport {
	d := &net.Dialer{Timeout: cfg.ConnectTimeout.D(), KeepAlive: keepAlive}
	t := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &connectError{err}
			}
			return conn, nil
		},
		TLSHandshakeTimeout:   cfg.ConnectTimeout.D(),
		ResponseHeaderTimeout: cfg.HeaderTimeout.D(),
		IdleConnTimeout:       cfg.IdleTimeout.D(),
		MaxIdleConnsPerHost:   maxIdle,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     https,
	}
	if https {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify}
	}
	return t
}

// circuitChanged returns p's breaker callback: the state gauge and a log
// line. It runs with the breaker's lock held.
func (c *Client) circuitChanged(p *peer) func(State) {
	return func(s State) {
		p.m.setState(s)
		switch s {
		case Open:
			c.log.Warn("shield circuit open", "shield", p.label, "for", p.br.openFor)
		case HalfOpen:
			c.log.Info("shield circuit half-open: trying one request", "shield", p.label)
		case Closed:
			c.log.Info("shield circuit closed: the shield takes its keys back", "shield", p.label)
		}
	}
}

// Order returns the shields' URLs (scheme://host) in the rendezvous order
// of key: its home shield first, then where it goes when those before are
// unavailable. Health and circuit states do not change the order.
func (c *Client) Order(key string) []string {
	var buf [maxStackPeers]*peer
	ps := rank(c.peers, key, buf[:0])
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.label
	}
	return out
}

// Close closes idle connections to the shields. Requests in flight are
// not interrupted and the client stays usable. Call it once the client is
// out of service and its Run has returned.
func (c *Client) Close() {
	c.transport.CloseIdleConnections()
	if c.probes != nil {
		c.probes.CloseIdleConnections()
	}
}

// Tier returns the shield tier in front of origin, for one route. Its
// RoundTrip sends requests to the shields and, when the config's failover
// is "origin", to origin when no shield answers. A nil origin means no
// fallback. A Tier is two words: build one per origin pool, once.
func (c *Client) Tier(origin Origin) *Tier {
	t := &Tier{c: c}
	if c.failover {
		t.origin = origin
	}
	return t
}

// Tier is the shield tier in front of one origin. It satisfies
// edge.Upstream.
type Tier struct {
	c      *Client
	origin Origin // nil: no fallback
}
