package cache

import (
	"net/http"
	"strings"

	"github.com/popcache/popcache/conf"
)

// responseDirectives returns the directives this cache obeys for a
// response, and whether they came from a targeted field. RFC 9213 §2.2:
// the first field of pol.TargetedHeaders with a valid, non-empty value
// wins, and then Cache-Control and Expires are ignored; a field that is
// absent, empty or invalid is skipped as if it were not there.
//
// Valid means, for a Structured targeted field (CDN-Cache-Control and
// any other but Surrogate-Control), a Structured Field Dictionary whose
// known directives have their proper types ([parseTargeted]); it wins
// even when it holds only directives this cache does not know, as RFC
// 9213 §3.1's "CDN-Cache-Control: none" example does. Surrogate-Control,
// older than Structured Fields and read with the Cache-Control grammar,
// wins only with at least one well-formed known directive.
func responseDirectives(h http.Header, pol *conf.EffectivePolicy) (Directives, bool) {
	for _, name := range pol.TargetedHeaders {
		v := h.Values(name)
		if len(v) == 0 {
			continue
		}
		if !structuredTarget(name) {
			if d := ParseDirectives(v); d.Known > 0 {
				return d, true
			}
			continue
		}
		if d, ok := parseTargeted(v); ok {
			return d, true
		}
	}
	return ParseDirectives(h["Cache-Control"]), false
}

// structuredTarget reports whether the targeted field name is a
// Structured Field (RFC 9213 §2.1): every one but Surrogate-Control
// (W3C Edge Architecture, 2001), which predates the convention.
func structuredTarget(name string) bool {
	return !strings.EqualFold(name, "Surrogate-Control")
}

// parseTargeted reads the lines of a Structured targeted field (RFC 9213
// §2.1): a Dictionary (RFC 9651), the lines combined with ", ". ok is
// false, and the field must be ignored, when it does not parse, is
// empty, or a known directive has the wrong type:
//   - max-age, s-maxage, stale-while-revalidate, stale-if-error and
//     min-fresh take an Integer >= 0 (values past MaxDelta are MaxDelta);
//   - max-stale takes a Boolean or such an Integer;
//   - no-cache and private take a Boolean, or a String (or a Token)
//     listing field names;
//   - the other known directives (no-store, public, must-revalidate, ...)
//     take a Boolean.
//
// So "max-age=\"60\"" or "max-age=1.5" void the whole field, as RFC 9213
// §2.1 asks consumers not to coerce such values. A Boolean false (?0)
// turns a directive off. Parameters are ignored (no directive defines
// any); unknown directives are ignored whatever their type. As in any
// Dictionary, a key given twice keeps its last value. It allocates only
// to combine several lines and for no-cache or private field lists.
func parseTargeted(lines []string) (d Directives, ok bool) {
	s := ""
	switch len(lines) {
	case 0:
	case 1:
		s = lines[0]
	default:
		s = strings.Join(lines, ", ")
	}
	d = noDirectives()
	p := sfDictParser{s: s}
	members := 0
	for p.next() {
		members++
		if !d.applyTargeted(&p.m) {
			return Directives{}, false
		}
	}
	if p.err || members == 0 {
		return Directives{}, false
	}
	return d, true
}

// applyTargeted records one member of a Structured targeted field and
// reports false when a known directive has the wrong type.
func (d *Directives) applyTargeted(m *sfMember) bool {
	var flag *bool
	switch m.key {
	case "max-age":
		return d.setInteger(&d.MaxAge, m)
	case "s-maxage":
		return d.setInteger(&d.SMaxAge, m)
	case "stale-while-revalidate":
		return d.setInteger(&d.StaleWhileRevalidate, m)
	case "stale-if-error":
		return d.setInteger(&d.StaleIfError, m)
	case "min-fresh":
		return d.setInteger(&d.MinFresh, m)
	case "max-stale":
		if m.typ == sfBoolean {
			d.MaxStaleAny, d.MaxStale = m.num == 1, -1
			d.Known++
			return true
		}
		d.MaxStaleAny = false
		return d.setInteger(&d.MaxStale, m)
	case "no-cache":
		return d.setFieldList(&d.NoCache, &d.NoCacheFields, m)
	case "private":
		return d.setFieldList(&d.Private, &d.PrivateFields, m)
	case "no-store":
		flag = &d.NoStore
	case "public":
		flag = &d.Public
	case "must-revalidate":
		flag = &d.MustRevalidate
	case "proxy-revalidate":
		flag = &d.ProxyRevalidate
	case "must-understand":
		flag = &d.MustUnderstand
	case "immutable":
		flag = &d.Immutable
	case "no-transform":
		flag = &d.NoTransform
	case "only-if-cached":
		flag = &d.OnlyIfCached
	default:
		return true // an extension: ignored
	}
	if m.typ != sfBoolean {
		return false
	}
	*flag = m.num == 1
	d.Known++
	return true
}

// setInteger stores a non-negative Integer, capped at MaxDelta.
func (d *Directives) setInteger(dst *int64, m *sfMember) bool {
	if m.typ != sfInteger || m.num < 0 {
		return false
	}
	*dst = min(m.num, MaxDelta)
	d.Known++
	return true
}

// setFieldList stores no-cache or private: a Boolean sets the unqualified
// directive; a String or Token lists the fields it covers instead.
func (d *Directives) setFieldList(unqualified *bool, fields *[]string, m *sfMember) bool {
	switch m.typ {
	case sfBoolean:
		*unqualified, *fields = m.num == 1, nil
	case sfString, sfToken:
		list := m.text
		if m.escaped {
			list = unescapeQuoted(list)
		}
		*unqualified, *fields = false, fieldNames(list)
	default:
		return false
	}
	d.Known++
	return true
}
