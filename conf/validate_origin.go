package conf

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Balance policies an Origin may use.
const (
	BalanceRoundRobin = "round_robin"
	BalanceWeighted   = "weighted"
	BalanceLeastConn  = "least_conn"
	BalanceHash       = "hash"
)

func (v *validator) origins(origins []Origin) {
	if len(origins) == 0 {
		v.fail("origins", "at least one [[origins]] is required")
	}
	names := map[string]int{} // name → index of the first origin so named
	for i := range origins {
		o := &origins[i]
		k := index("origins", i)
		switch first, dup := names[o.Name]; {
		case o.Name == "":
			v.fail(k+".name", "is required")
		case dup:
			v.fail(k+".name", "%q is already the name of origins[%d]", o.Name, first)
		default:
			names[o.Name] = i
		}
		v.origin(k, o)
	}
}

func (v *validator) origin(k string, o *Origin) {
	if len(o.Servers) == 0 {
		v.fail(k+".servers", "at least one server is required")
	}
	v.upstreams(k+".servers", "servers", o.Servers)
	switch o.Balance {
	case BalanceRoundRobin, BalanceWeighted, BalanceLeastConn, BalanceHash:
	default:
		v.fail(k+".balance", "must be %q, %q, %q or %q, not %q",
			BalanceRoundRobin, BalanceWeighted, BalanceLeastConn, BalanceHash, o.Balance)
	}
	if o.HostHeader != "" && (strings.ContainsAny(o.HostHeader, " \t/?#@") || !isPrint(o.HostHeader)) {
		v.fail(k+".host_header", "%q is not a host name (with an optional :port)", o.HostHeader)
	}
	v.positive(k+".connect_timeout", o.ConnectTimeout)
	v.positive(k+".header_timeout", o.HeaderTimeout)
	v.positive(k+".idle_timeout", o.IdleTimeout)
	if o.MaxIdleConns < 0 {
		v.fail(k+".max_idle_conns", "must not be negative, not %d", o.MaxIdleConns)
	}
	if o.MaxConns < 0 {
		v.fail(k+".max_conns", "must not be negative (0 means unlimited), not %d", o.MaxConns)
	}
	v.health(k+".health", &o.Health)
	if !o.Passive.Disabled {
		if o.Passive.MaxFails < 1 {
			v.fail(k+".passive.max_fails", "must be at least 1, not %d (set passive.disabled to turn ejection off)", o.Passive.MaxFails)
		}
		v.positive(k+".passive.eject", o.Passive.Eject)
	}
}

func (v *validator) health(k string, h *HealthCheck) {
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		v.fail(k+".path", "%q must start with \"/\"", h.Path)
	}
	v.positive(k+".interval", h.Interval)
	v.positive(k+".timeout", h.Timeout)
	if h.Timeout > 0 && h.Interval > 0 && h.Timeout >= h.Interval {
		v.fail(k+".timeout", "%v must be less than the interval (%v)", h.Timeout, h.Interval)
	}
	if h.Rise < 1 {
		v.fail(k+".rise", "must be at least 1, not %d", h.Rise)
	}
	if h.Fall < 1 {
		v.fail(k+".fall", "must be at least 1, not %d", h.Fall)
	}
	if h.ExpectCode != 0 && (h.ExpectCode < 100 || h.ExpectCode > 599) {
		v.fail(k+".expect_code", "must be an HTTP status from 100 to 599 (or 0 for any 2xx or 3xx), not %d", h.ExpectCode)
	}
}

// parseUpstreamURL parses an origin server's address: http or https, a
// host, an optional port, and nothing else ("/" alone is allowed as the
// path and dropped).
func parseUpstreamURL(raw string) (*url.URL, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid URL %q: %s (want http://host[:port] or https://host[:port])", raw, why)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, bad(err.Error())
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, bad("the scheme must be http or https")
	case u.Opaque != "" || u.Hostname() == "":
		return nil, bad("the host is missing")
	case u.User != nil:
		return nil, bad("user info is not allowed")
	case u.Path != "" && u.Path != "/":
		return nil, bad("a path is not allowed")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, bad("a query is not allowed")
	case u.Fragment != "":
		return nil, bad("a fragment is not allowed")
	}
	u.Path, u.RawPath = "", ""
	return u, nil
}

// isPrint reports whether s has no control characters.
func isPrint(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// upstreams validates a list of servers at key and parses their URLs:
// http(s) URLs without a path, each once, weights at least 1. name is how
// an error refers to the list ("servers[2]").
func (v *validator) upstreams(key, name string, list []Upstream) {
	urls := map[string]int{}
	for j := range list {
		s := &list[j]
		sk := index(key, j)
		s.Parsed = nil
		if u, err := parseUpstreamURL(s.URL); err != nil {
			v.fail(sk+".url", "%v", err)
		} else if first, dup := urls[u.String()]; dup {
			v.fail(sk+".url", "%q is already %s[%d]", s.URL, name, first)
		} else {
			urls[u.String()] = j
			s.Parsed = u
		}
		if s.Weight < 1 {
			v.fail(sk+".weight", "must be at least 1, not %d", s.Weight)
		}
	}
}
