package conf

import (
	"fmt"
	"slices"
	"strings"
)

func (v *validator) routes(c *Config) {
	if len(c.Routes) == 0 {
		v.fail("routes", "at least one [[routes]] is required")
	}
	origins := map[string]bool{}
	for _, o := range c.Origins {
		origins[o.Name] = true
	}
	names := map[string]int{} // name → index of the first route so named
	for i := range c.Routes {
		r := &c.Routes[i]
		k := index("routes", i)
		switch first, dup := names[r.Name]; {
		case r.Name == "":
			v.fail(k+".name", "is required")
		case dup:
			v.fail(k+".name", "%q is already the name of routes[%d]", r.Name, first)
		default:
			names[r.Name] = i
		}
		switch {
		case r.Origin == "":
			v.fail(k+".origin", "is required")
		case !origins[r.Origin]:
			v.fail(k+".origin", "%q names no origin (have %s)", r.Origin, quoteAll(originNames(c.Origins)))
		}
		for j, h := range r.Hosts {
			norm, err := hostPattern(h)
			if err != nil {
				v.fail(index(k+".hosts", j), "%v", err)
				continue
			}
			r.Hosts[j] = norm
		}
		for j, p := range r.Paths {
			if err := checkPathPattern(p); err != nil {
				v.fail(index(k+".paths", j), "%v", err)
			}
		}
		v.policy(k+".cache", &r.Cache)
		r.Effective = effective(r.Cache, c.Cache.Policy, c.Role)
	}
}

func originNames(origins []Origin) []string {
	names := make([]string, 0, len(origins))
	for _, o := range origins {
		names = append(names, o.Name)
	}
	return names
}

// quoteAll formats names as `"a", "b"`, or "none".
func quoteAll(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// hostPattern checks a route host pattern and returns it lower-cased. A
// pattern is "*" (any host), an exact DNS name ("example.com", IPv4
// literals included) or "*." and a DNS name ("*.example.com", one or more
// labels in front). Ports are never part of a pattern.
func hostPattern(h string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("invalid host pattern %q: %s", h, why)
	}
	p := strings.ToLower(h)
	if p == "*" {
		return p, nil
	}
	name := strings.TrimPrefix(p, "*.")
	switch {
	case name == "":
		return bad("empty name")
	case strings.Contains(name, "*"):
		return bad(`'*' is allowed only as "*" or as a leading "*."`)
	case strings.Contains(name, ":"):
		return bad("ports and IPv6 literals are not allowed (a pattern matches the host name alone)")
	case strings.HasSuffix(name, "."):
		return bad("remove the trailing dot")
	case len(name) > 253:
		return bad("longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if err := checkLabel(label); err != "" {
			return bad(err)
		}
	}
	return p, nil
}

// checkLabel returns why a DNS label is invalid, or "". Underscores are
// allowed: they occur in real host names.
func checkLabel(label string) string {
	switch {
	case label == "":
		return "empty label"
	case len(label) > 63:
		return "a label is longer than 63 characters"
	case label[0] == '-' || label[len(label)-1] == '-':
		return "a label starts or ends with '-'"
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Sprintf("%q is not allowed in a host name", rune(c))
		}
	}
	return ""
}

// checkPathPattern checks a route path pattern: it starts with "/" and may
// hold globs ('*' within a segment, "**" across segments).
func checkPathPattern(p string) error {
	bad := func(why string) error {
		return fmt.Errorf("invalid path pattern %q: %s", p, why)
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		return bad(`must start with "/"`)
	case strings.ContainsAny(p, "?#"):
		return bad("a query or fragment is not allowed")
	case strings.Contains(p, "***"):
		return bad(`use "*" (within a segment) or "**" (across segments)`)
	case strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return bad("spaces and control characters are not allowed")
	}
	return nil
}

// canonicalHeaders returns names in canonical form, in order.
func canonicalHeaders(names []string) []string {
	if names == nil {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = canonicalHeaderKey(n)
	}
	return slices.Clip(out)
}
