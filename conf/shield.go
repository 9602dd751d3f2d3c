package conf

import (
	"net"
	"time"
)

// Shield configures the shield tier an edge sends its misses, revalidations
// and passes to, instead of the routes' origins. Without Servers (the
// default) there is no shield tier.
//
// Each request goes to the shield picked by rendezvous (highest random
// weight) hashing of its cache key, so every edge picks the same home
// shield for an object and the origin sees one fetch for the whole fleet.
// A shield that refuses, times out, answers with an error it generated
// itself or fails its health checks is skipped for the next one in
// rendezvous order, then, with Failover "origin", for the route's origin.
type Shield struct {
	// Servers are the shield nodes: http:// or https:// URLs with a host,
	// an optional port and nothing else, like origin servers. Weight
	// scales a shield's share of the keys (weighted rendezvous hashing).
	// Every edge of a fleet must list the same servers with the same
	// weights, or they disagree on where a key lives. Default none.
	Servers []Upstream `toml:"servers"`
	// Failover is what happens when every shield failed (or has its circuit
	// open): "origin" (the default) sends the request to the route's origin
	// directly; "none" answers with the last shield's error (502 or 504 when
	// no shield answered at all).
	Failover string `toml:"failover"`
	// ConnectTimeout bounds a TCP (and TLS) connect to a shield. Default 1s:
	// shields are near, and a slow connect should fail over quickly.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// HeaderTimeout bounds the wait for a shield's response headers. It
	// includes the shield's own fetch from the origin, so keep it above the
	// shields' origin header_timeout, or a slow origin is taken for a dead
	// shield and fetched again elsewhere. Default 60s.
	HeaderTimeout Duration `toml:"header_timeout"`
	// IdleTimeout closes idle keep-alive connections to shields. Default 90s.
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxIdleConns caps idle keep-alive connections per shield. Default 128.
	MaxIdleConns int `toml:"max_idle_conns"`
	// RetryBuffer is the largest response body (by its Content-Length) read
	// whole from a shield before the response is handed on, so that a
	// shield that dies half-way through a small body is retried on the
	// next one like a shield that refused. Larger bodies and bodies of
	// unknown length stream, and cannot be retried once started. It costs
	// up to this much memory per concurrent miss. Default 256KiB.
	RetryBuffer Size `toml:"retry_buffer"`
	// InsecureSkipVerify disables TLS verification for https shields.
	// Default false.
	InsecureSkipVerify bool `toml:"insecure_skip_verify"`

	// Breaker configures the per-shield circuit breaker.
	Breaker Breaker `toml:"breaker"`
	// Health configures active health checks of the shields: GET
	// Health.Path on each shield's URL, with the shield's host:port as the
	// Host, so the shield needs a route that answers it (off unless Path is
	// set). A shield that fails them is skipped until it passes again.
	Health HealthCheck `toml:"health"`
}

// Breaker configures a circuit breaker: after MaxFails consecutive failures
// a shield's circuit opens and the shield is skipped without being tried;
// after OpenFor one request is let through as a trial (half-open), and
// its success closes the circuit (the shield takes its keys back) while
// its failure opens it again for OpenFor.
type Breaker struct {
	// MaxFails is the number of consecutive failures that opens the
	// circuit. Default 3.
	MaxFails int `toml:"max_fails"`
	// OpenFor is how long an open circuit skips its shield before a trial.
	// Default 5s.
	OpenFor Duration `toml:"open_for"`
}

// Failover values of [Shield].
const (
	// FailoverOrigin sends a request to the route's origin when every
	// shield failed. The default.
	FailoverOrigin = "origin"
	// FailoverNone never bypasses the shields.
	FailoverNone = "none"
)

// Shield defaults, as the field docs above state them.
const (
	defaultShieldConnectTimeout = Duration(time.Second)
	defaultShieldHeaderTimeout  = Duration(60 * time.Second)
	defaultShieldRetryBuffer    = 256 * KiB
	defaultBreakerMaxFails      = 3
	defaultBreakerOpenFor       = Duration(5 * time.Second)
)

// HasTier reports whether s lists any shield server.
func (s *Shield) HasTier() bool { return len(s.Servers) > 0 }

func (s *Shield) ensureDefaults() {
	setDefault(&s.Failover, FailoverOrigin)
	for i := range s.Servers {
		setDefault(&s.Servers[i].Weight, defaultWeight)
	}
	setDefault(&s.ConnectTimeout, defaultShieldConnectTimeout)
	setDefault(&s.HeaderTimeout, defaultShieldHeaderTimeout)
	setDefault(&s.IdleTimeout, defaultUpstreamIdle)
	setDefault(&s.MaxIdleConns, defaultMaxIdleConns)
	setDefault(&s.RetryBuffer, defaultShieldRetryBuffer)
	setDefault(&s.Breaker.MaxFails, defaultBreakerMaxFails)
	setDefault(&s.Breaker.OpenFor, defaultBreakerOpenFor)
	s.Health.ensureDefaults()
}

// shield validates c.Shield and the demo shield listener, and sets
// Upstream.Parsed on the shield servers.
func (v *validator) shield(c *Config) {
	s := &c.Shield
	v.upstreams("shield.servers", "shield.servers", s.Servers)
	switch s.Failover {
	case FailoverOrigin, FailoverNone:
	default:
		v.fail("shield.failover", "must be %q or %q, not %q", FailoverOrigin, FailoverNone, s.Failover)
	}
	v.positive("shield.connect_timeout", s.ConnectTimeout)
	v.positive("shield.header_timeout", s.HeaderTimeout)
	v.positive("shield.idle_timeout", s.IdleTimeout)
	if s.MaxIdleConns < 0 {
		v.fail("shield.max_idle_conns", "must not be negative, not %d", s.MaxIdleConns)
	}
	v.positiveSize("shield.retry_buffer", s.RetryBuffer)
	if s.Breaker.MaxFails < 1 {
		v.fail("shield.breaker.max_fails", "must be at least 1, not %d", s.Breaker.MaxFails)
	}
	v.positive("shield.breaker.open_for", s.Breaker.OpenFor)
	v.health("shield.health", &s.Health)
	v.demoShield(c)
}

// demoShield checks demo.shield_listen: an address of its own, and a
// [shield] pool that lists it, since nothing else would reach it.
func (v *validator) demoShield(c *Config) {
	a := c.Demo.ShieldListen
	if !c.Demo.Enabled || a == "" {
		return
	}
	const k = "demo.shield_listen"
	v.listenAddr(k, a)
	if _, port, err := net.SplitHostPort(a); err == nil && port == "0" {
		v.fail(k, "%q: the demo shield needs a fixed port, for shield.servers to name it", a)
	}
	type use struct{ key, addr string }
	others := []use{{"demo.listen", c.Demo.Listen}}
	if !c.Admin.Disabled {
		others = append(others, use{"admin.listen", c.Admin.Listen})
	}
	for i, l := range c.Server.Listen {
		others = append(others, use{index("server.listen", i), l})
	}
	for _, o := range others {
		if o.addr == a {
			v.fail(k, "%q is already used by %s", a, o.key)
			break
		}
	}
	listed := false
	for _, u := range c.Shield.Servers {
		if u.Parsed != nil && u.Parsed.Host == a {
			listed = true
		}
	}
	if !listed {
		v.fail(k, "%q is not in shield.servers: add { url = \"http://%s\" } there, or the edge never uses the demo shield", a, a)
	}
}
