package conf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Validate checks that c is complete and mutually consistent and reports
// every problem at once, as [Errors], each naming its key path and the
// values involved. It assumes [Config.EnsureDefaults] has run.
//
// Validate also provisions c, so that nothing downstream parses strings:
// it lower-cases route hosts and fills the derived fields
// Server.TrustedPrefixes, Upstream.Parsed and Route.Effective. It may be
// called again on a valid config. On error those fields may be partly
// filled: discard c.
//
// Errors from Validate carry no line numbers; [Load] and [Parse] add them.
func (c *Config) Validate() error {
	return c.validate(nil)
}

// validate is Validate with the key → line index of the source, if any.
func (c *Config) validate(lines lineIndex) error {
	v := &validator{source: c.Source, lines: lines}
	if c.Role != RoleEdge && c.Role != RoleShield {
		v.fail("role", "must be %q or %q, not %q", RoleEdge, RoleShield, c.Role)
	}
	v.server(&c.Server)
	if !c.Admin.Disabled {
		v.listenAddr("admin.listen", c.Admin.Listen)
	}
	if c.Demo.Enabled {
		v.listenAddr("demo.listen", c.Demo.Listen)
	}
	v.sharedListeners(c)
	v.cache(&c.Cache)
	v.policy("cache.policy", &c.Cache.Policy)
	v.origins(c.Origins)
	v.shield(c)
	v.purge(c) // after cache: it reads the disk directory
	v.routes(c)
	v.tls(c) // after origins: it reads their parsed URLs
	return v.errs.err()
}

// validator collects the problems Validate finds.
type validator struct {
	source string
	lines  lineIndex // nil when the config was not read from text
	errs   Errors
}

func (v *validator) fail(k, format string, args ...any) {
	v.errs = append(v.errs, &Error{Source: v.source, Line: v.lines.line(k), Key: k, Msg: fmt.Sprintf(format, args...)})
}

// positive reports d at key k unless it is greater than 0.
func (v *validator) positive(k string, d Duration) {
	if d <= 0 {
		v.fail(k, "must be greater than 0, not %v", d)
	}
}

// positiveSize reports n at key k unless it is greater than 0.
func (v *validator) positiveSize(k string, n Size) {
	if n <= 0 {
		v.fail(k, "must be greater than 0, not %d", int64(n))
	}
}

// maxEventLoops bounds server.event_loops: more loops than CPUs only
// add contention.
const maxEventLoops = 1024

// maxEventLoopSlice bounds server.event_loop_slice: the kernel preempts a
// busy thread at its tick (1 to 10 ms), so a longer slice never yields.
const maxEventLoopSlice = Duration(10_000_000) // 10ms

func (v *validator) server(s *Server) {
	if len(s.Listen) == 0 {
		v.fail("server.listen", "at least one address is required")
	}
	for i, a := range s.Listen {
		v.listenAddr(index("server.listen", i), a)
	}
	if !isToken(s.Name) {
		v.fail("server.name", "%q is not a valid token (letters, digits and !#$%%&'*+-.^_`|~ only)", s.Name)
	}
	v.positiveSize("server.max_header_bytes", s.MaxHeaderBytes)
	v.positiveSize("server.max_uri_bytes", s.MaxURIBytes)
	v.positiveSize("server.max_request_body_bytes", s.MaxRequestBodyBytes)
	v.positive("server.read_header_timeout", s.ReadHeaderTimeout)
	v.positive("server.read_timeout", s.ReadTimeout)
	v.positive("server.write_timeout", s.WriteTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	v.positive("server.shutdown_timeout", s.ShutdownTimeout)
	if s.EventLoops < -1 || s.EventLoops > maxEventLoops {
		v.fail("server.event_loops", "%d is out of range: -1 (off), 0 (one per CPU) or up to %d loops", s.EventLoops, maxEventLoops)
	}
	if d := s.EventLoopSlice; d != nil && (*d < 0 || *d > maxEventLoopSlice) {
		v.fail("server.event_loop_slice", "%v is out of range: 0s (never yield) up to %v", *d, maxEventLoopSlice)
	}

	s.TrustedPrefixes = make([]netip.Prefix, 0, len(s.TrustedProxies))
	for i, p := range s.TrustedProxies {
		prefix, err := parsePrefix(p)
		if err != nil {
			v.fail(index("server.trusted_proxies", i), "%v", err)
			continue
		}
		s.TrustedPrefixes = append(s.TrustedPrefixes, prefix)
	}
}

// parsePrefix parses a CIDR prefix ("10.0.0.0/8") or a bare IP, which
// stands for itself alone (/32 or /128). Host bits are masked off.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix like \"10.0.0.0/8\" or an IP address", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR prefix like \"10.0.0.0/8\"", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// listenAddr reports a that is not host:port with a numeric port. The host
// may be empty (all interfaces) and the port 0 (any free port).
func (v *validator) listenAddr(k, a string) {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		var ae *net.AddrError
		reason := err.Error()
		if errors.As(err, &ae) {
			reason = ae.Err
		}
		v.fail(k, "%q is not host:port (%s)", a, reason)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		v.fail(k, "%q: port %q is not a number from 0 to 65535", a, port)
	}
}

// sharedListeners reports an address used by two listeners. Port 0 is
// never shared: each listener gets its own free port.
func (v *validator) sharedListeners(c *Config) {
	seen := map[string]string{} // address → key that first used it
	use := func(k, a string) {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
			return
		}
		if first, ok := seen[a]; ok {
			v.fail(k, "%q is already used by %s", a, first)
			return
		}
		seen[a] = k
	}
	for i, a := range c.Server.Listen {
		use(index("server.listen", i), a)
	}
	if !c.Admin.Disabled {
		use("admin.listen", c.Admin.Listen)
	}
	if c.Demo.Enabled {
		use("demo.listen", c.Demo.Listen)
	}
}

func (v *validator) cache(c *Cache) {
	if c.MemoryMaxBytes < minMemoryMaxBytes {
		v.fail("cache.memory_max_bytes", "must be at least %v, not %v", minMemoryMaxBytes, c.MemoryMaxBytes)
	}
	switch {
	case c.MaxObjectBytes <= 0:
		v.fail("cache.max_object_bytes", "must be greater than 0, not %d", int64(c.MaxObjectBytes))
	case c.MaxObjectBytes > c.MemoryMaxBytes:
		v.fail("cache.max_object_bytes", "%v must not exceed cache.memory_max_bytes (%v)", c.MaxObjectBytes, c.MemoryMaxBytes)
	}
	if m := c.SendfileMinBytes; m != nil && *m < 0 {
		v.fail("cache.sendfile_min_bytes", "must not be negative, not %d", int64(*m))
	}
	v.positive("cache.fill_timeout", c.FillTimeout)
	v.positive("cache.hit_for_miss_ttl", c.HitForMissTTL)
	v.disk(&c.Disk)
}

// isToken reports whether s is a non-empty RFC 9110 token, the syntax of
// header field names, cookie names and Via pseudonyms.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
