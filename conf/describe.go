package conf

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Describe writes c, with every default applied, for people: listeners,
// origins with their servers, balancing and health checks, the shield
// tier, purging, and routes with their hosts, paths, origin, effective
// cache policy and cache key recipe. It is what `popcache check` prints. c must be valid
// (as returned by Load, Parse, Default or QuickStart). It returns the first
// write error.
func (c *Config) Describe(w io.Writer) error {
	d := &describer{w: w}
	d.line("config %s: role %s, name %q", c.Source, c.Role, c.Server.Name)

	d.line("")
	d.line("listeners")
	for _, a := range c.Server.Listen {
		d.line("  client  %s (HTTP/1.1 and h2c)", a)
	}
	if c.Admin.Disabled {
		d.line("  admin   disabled")
	} else {
		d.line("  admin   %s (/metrics, /healthz)", c.Admin.Listen)
	}
	for _, a := range c.TLS.Listen {
		h3 := "HTTP/3 on udp " + a
		if c.TLS.HTTP3.Disabled {
			h3 = "no HTTP/3"
		}
		d.line("  tls     %s (HTTP/1.1 and h2 over TLS %s+, %s; %d certificate(s))", a, c.TLS.MinVersion, h3, len(c.TLS.Certs))
	}
	if c.Server.ProxyProtocol || c.TLS.ProxyProtocol {
		d.line("  PROXY protocol required on: client %v, tls %v", c.Server.ProxyProtocol, c.TLS.ProxyProtocol)
	}
	if c.Demo.Enabled {
		d.line("  demo    %s (built-in sample origin)", c.Demo.Listen)
	}
	s := &c.Server
	d.line("  limits: headers %v, URI %v, request body %v", s.MaxHeaderBytes, s.MaxURIBytes, s.MaxRequestBodyBytes)
	d.line("  timeouts: read headers %v, read %v, write %v, idle %v, shutdown %v",
		s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.ShutdownTimeout)
	yield := "never yield the CPU"
	if d := s.EventLoopSlice; d != nil && *d > 0 {
		yield = "yield the CPU after " + d.String() + " busy"
	}
	if p := s.EventLoopPin; p != nil && *p {
		yield += ", pinned one per CPU when they are one per CPU and GOMAXPROCS is at least the CPUs"
	}
	switch s.EventLoops {
	case -1:
		d.line("  event loops: off (a goroutine per connection)")
	case 0:
		d.line("  event loops: one per CPU, %s", yield)
	default:
		d.line("  event loops: %d, %s", s.EventLoops, yield)
	}
	if len(s.TrustedProxies) == 0 {
		d.line("  X-Forwarded-For trusted from: nobody (always replaced)")
	} else {
		d.line("  X-Forwarded-For trusted from: %s", strings.Join(s.TrustedProxies, ", "))
	}

	d.line("")
	d.line("cache")
	d.line("  memory %v, max object %v, fill timeout %v, hit-for-miss %v",
		c.Cache.MemoryMaxBytes, c.Cache.MaxObjectBytes, c.Cache.FillTimeout, c.Cache.HitForMissTTL)
	if m := c.Cache.SendfileMinBytes; m != nil && *m > 0 {
		d.line("  bodies from %v in memory files, written with sendfile", *m)
	}
	if dk := c.Cache.Disk; dk.Dir != "" {
		d.line("  disk %s: %v, max object %v, chunks of %v, expiry every %v", dk.Dir, dk.MaxBytes, dk.MaxObjectBytes, dk.ChunkBytes, dk.ExpiryInterval)
	} else {
		d.line("  disk: off")
	}

	d.line("")
	d.line("origins")
	for _, o := range c.Origins {
		d.origin(&o)
	}

	if c.Shield.HasTier() {
		d.line("")
		d.line("shield tier (rendezvous hashing of the cache key; failover %s)", c.Shield.Failover)
		for _, u := range c.Shield.Servers {
			d.line("    %s (weight %d)", u.URL, u.Weight)
		}
		d.line("    timeouts connect %v, headers %v; retry buffer %v", c.Shield.ConnectTimeout, c.Shield.HeaderTimeout, c.Shield.RetryBuffer)
	}

	d.line("")
	if c.Purge.Disabled {
		d.line("purge: disabled")
	} else {
		bus := "embedded NATS JetStream on " + c.Purge.Bus.Listen
		if len(c.Purge.Bus.URLs) > 0 {
			bus = "NATS " + strings.Join(c.Purge.Bus.URLs, ", ")
		}
		node := c.Purge.NodeID
		if node == "" {
			node = "<from the host name>"
		}
		d.line("purge: node %s, %s, journal %q, %d admin token(s), tags from %s",
			node, bus, c.Purge.JournalDir, len(c.Admin.Credentials), strings.Join(c.Purge.TagHeaders, ", "))
	}

	d.line("")
	d.line("routes (matched most specific host first, then most specific path; see package routing)")
	for i, r := range c.Routes {
		d.route(i, &r)
	}
	return d.err
}

// describer writes lines, remembering the first write error.
type describer struct {
	w   io.Writer
	err error
}

func (d *describer) line(format string, args ...any) {
	if d.err == nil {
		_, d.err = fmt.Fprintf(d.w, format+"\n", args...)
	}
}

func (d *describer) origin(o *Origin) {
	d.line("  %s: balance %s", o.Name, o.Balance)
	for _, s := range o.Servers {
		d.line("    %s (weight %d)", s.URL, s.Weight)
	}
	host := "the client's"
	if o.HostHeader != "" {
		host = strconv.Quote(o.HostHeader)
	}
	conns := "unlimited"
	if o.MaxConns > 0 {
		conns = strconv.Itoa(o.MaxConns)
	}
	d.line("    Host header %s; timeouts connect %v, headers %v, idle %v; per server %d idle conns, %s conns",
		host, o.ConnectTimeout, o.HeaderTimeout, o.IdleTimeout, o.MaxIdleConns, conns)
	h := &o.Health
	if h.Path == "" {
		d.line("    health checks: off (no path)")
	} else {
		expect := "2xx or 3xx"
		if h.ExpectCode != 0 {
			expect = strconv.Itoa(h.ExpectCode)
		}
		d.line("    health checks: GET %s every %v, timeout %v, up after %d, down after %d, expect %s",
			h.Path, h.Interval, h.Timeout, h.Rise, h.Fall, expect)
	}
	if o.Passive.Disabled {
		d.line("    passive ejection: off")
	} else {
		d.line("    passive ejection: %v after %d consecutive failures", o.Passive.Eject, o.Passive.MaxFails)
	}
	if o.InsecureSkipVerify {
		d.line("    TLS verification: OFF")
	}
}

func (d *describer) route(i int, r *Route) {
	d.line("  routes[%d] %q -> origin %q", i, r.Name, r.Origin)
	d.line("    hosts: %s", listOr(r.Hosts, "*"))
	d.line("    paths: %s", listOr(r.Paths, "/"))
	p := &r.Effective
	if !p.Enabled {
		d.line("    cache: off (every request goes to the origin)")
	} else {
		ttl := fmt.Sprintf("default TTL %v", p.DefaultTTL)
		if p.DefaultTTL == 0 {
			ttl = "no default TTL (revalidate responses without freshness)"
		}
		cookies := "responses with Set-Cookie pass through"
		if p.AllowSetCookie {
			cookies = "responses with Set-Cookie are stored"
		}
		d.line("    cache: on; %s; heuristic %s of age, at most %v", ttl, percent(p.HeuristicFraction), p.HeuristicMax)
		d.line("    stale: while revalidating %s, on error %s, upstream unreachable %s; %s",
			orNone(p.StaleWhileRevalidate), orNone(p.StaleIfError), orNone(p.StaleIfUnreachable), cookies)
		targeted := "none (Cache-Control only)"
		if len(p.TargetedHeaders) > 0 {
			targeted = strings.Join(p.TargetedHeaders, " > ") + " > Cache-Control"
			if p.StripTargetedHeaders {
				targeted += "; targeted headers stripped from responses"
			} else {
				targeted += "; targeted headers passed on"
			}
		}
		d.line("    obeys: %s", targeted)
	}
	d.line("    key: %s", keyRecipe(&p.Key))
}

// keyRecipe describes what goes into a cache key.
func keyRecipe(k *Key) string {
	parts := []string{}
	if k.Prefix != "" {
		parts = append(parts, fmt.Sprintf("prefix %q", k.Prefix))
	}
	parts = append(parts, "scheme", "host", "path")
	switch {
	case k.Query == QueryNone:
		parts = append(parts, "no query")
	case k.QueryInclude != nil:
		parts = append(parts, "query parameters "+listOr(k.QueryInclude, "(none)"))
	case len(k.QueryExclude) > 0:
		parts = append(parts, "query without "+strings.Join(k.QueryExclude, ", "))
	default:
		parts = append(parts, "whole query (sorted)")
	}
	if len(k.Headers) > 0 {
		parts = append(parts, "headers "+strings.Join(k.Headers, ", "))
	}
	if len(k.Cookies) > 0 {
		parts = append(parts, "cookies "+strings.Join(k.Cookies, ", "))
	}
	return strings.Join(parts, " + ")
}

func listOr(items []string, empty string) string {
	if len(items) == 0 {
		return empty
	}
	return strings.Join(items, ", ")
}

func orNone(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return d.String()
}

func percent(f float64) string {
	return strconv.FormatFloat(f*100, 'f', -1, 64) + "%"
}
