package conf

import "net/textproto"

// Key.Query values.
const (
	// QueryAll keys on every query parameter, sorted by name then value.
	QueryAll = "all"
	// QueryNone ignores the query string.
	QueryNone = "none"
)

// policy checks a Policy: the node's cache.policy (k "cache.policy") or a
// route's override (k "routes[i].cache"). Unset fields are not checked.
func (v *validator) policy(k string, p *Policy) {
	if f := p.HeuristicFraction; f != nil && !(*f >= 0 && *f <= 1) {
		v.fail(k+".heuristic_fraction", "must be between 0 and 1, not %v", *f)
	}
	durations := []struct {
		name string
		d    *Duration
	}{
		{"default_ttl", p.DefaultTTL},
		{"heuristic_max", p.HeuristicMax},
		{"stale_while_revalidate", p.StaleWhileRevalidate},
		{"stale_if_error", p.StaleIfError},
		{"stale_if_unreachable", p.StaleIfUnreachable},
	}
	for _, d := range durations {
		if d.d != nil && *d.d < 0 {
			v.fail(k+"."+d.name, "must not be negative, not %v", *d.d)
		}
	}
	v.headerNames(k+".targeted_headers", p.TargetedHeaders)
	if p.Key != nil {
		v.key(k+".key", p.Key)
	}
}

// key checks a cache key recipe.
func (v *validator) key(k string, key *Key) {
	switch key.Query {
	case QueryAll:
	case QueryNone:
		if key.QueryInclude != nil {
			v.fail(k+".query_include", "cannot be used with query = %q (nothing is kept to include from)", QueryNone)
		}
		if key.QueryExclude != nil {
			v.fail(k+".query_exclude", "cannot be used with query = %q (nothing is kept to exclude from)", QueryNone)
		}
	default:
		v.fail(k+".query", "must be %q or %q, not %q", QueryAll, QueryNone, key.Query)
	}
	if key.QueryInclude != nil && key.QueryExclude != nil && key.Query != QueryNone {
		v.fail(k+".query_exclude", "cannot be combined with query_include (include already drops every other parameter)")
	}
	for _, list := range []struct {
		name   string
		params []string
	}{{"query_include", key.QueryInclude}, {"query_exclude", key.QueryExclude}} {
		for i, p := range list.params {
			if p == "" {
				v.fail(index(k+"."+list.name, i), "must not be empty")
			}
		}
	}
	v.headerNames(k+".headers", key.Headers)
	v.keyScheme(k+".scheme", key.Scheme)
	seen := map[string]int{}
	for i, c := range key.Cookies {
		ck := index(k+".cookies", i)
		if !isToken(c) {
			v.fail(ck, "%q is not a valid cookie name", c)
		} else if first, dup := seen[c]; dup {
			v.fail(ck, "%q is listed twice (first as %s)", c, index(k+".cookies", first))
		} else {
			seen[c] = i
		}
	}
}

// headerNames checks a list of header field names: valid tokens, none
// listed twice (in any case).
func (v *validator) headerNames(k string, names []string) {
	seen := map[string]int{}
	for i, n := range names {
		hk := index(k, i)
		canon := canonicalHeaderKey(n)
		if !isToken(n) {
			v.fail(hk, "%q is not a valid header name", n)
		} else if first, dup := seen[canon]; dup {
			v.fail(hk, "%q is listed twice (first as %s)", n, index(k, first))
		} else {
			seen[canon] = i
		}
	}
}

func canonicalHeaderKey(s string) string { return textproto.CanonicalMIMEHeaderKey(s) }

// effective merges a route's policy over the node's over the built-in one,
// and canonicalises header names. Valid input gives every field a value;
// on invalid input the result is best effort and never panics. It shares
// no memory with its inputs.
func effective(route, node Policy, role string) EffectivePolicy {
	p := route.over(node.over(builtinPolicy(role)))
	e := EffectivePolicy{
		Enabled:              *p.Enabled,
		DefaultTTL:           p.DefaultTTL.D(),
		HeuristicFraction:    *p.HeuristicFraction,
		HeuristicMax:         p.HeuristicMax.D(),
		StaleWhileRevalidate: p.StaleWhileRevalidate.D(),
		StaleIfError:         p.StaleIfError.D(),
		StaleIfUnreachable:   p.StaleIfUnreachable.D(),
		AllowSetCookie:       *p.AllowSetCookie,
		TargetedHeaders:      canonicalHeaders(p.TargetedHeaders),
		StripTargetedHeaders: *p.StripTargetedHeaders,
		Key:                  *p.Key,
	}
	if e.TargetedHeaders == nil {
		e.TargetedHeaders = []string{}
	}
	if e.Key.Query == "" {
		e.Key.Query = QueryAll
	}
	e.Key.Headers = canonicalHeaders(e.Key.Headers)
	return e
}
