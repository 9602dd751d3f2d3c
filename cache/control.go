package cache

import (
	"net/http"
	"net/textproto"
	"strings"
)

// MaxDelta is the largest delta-seconds value the cache represents,
// 2^31 seconds (about 68 years). RFC 9111 §1.2.2 asks that any larger
// value, or any overflow, be taken as exactly this.
const MaxDelta = 1 << 31

// Directives are the parsed members of a Cache-Control field, or of a
// targeted field with the same syntax (CDN-Cache-Control, RFC 9213;
// Surrogate-Control). One struct serves requests and responses; each
// field notes where it has meaning (RFC 9111 §5.2.1 and §5.2.2, RFC 5861).
//
// Delta-seconds members are int64 seconds, -1 when the directive is
// absent, otherwise in [0, MaxDelta]. A directive whose argument is
// missing, negative or not an integer counts as 0 (RFC 9111 §4.2.1:
// invalid freshness information is treated as stale), so
// "max-age=soon" makes a response stale and "max-stale=x" grants nothing.
//
// Duplicates: the first occurrence of a directive wins, except that a
// second max-age or s-maxage with a different value sets that directive
// to 0. RFC 9111 §4.2.1 allows either "first occurrence" or "stale" for
// conflicting freshness; stale is the conservative choice for a shared
// cache and matches §4.2.1's advice to honour the most restrictive
// directive.
type Directives struct {
	// MaxAge is max-age: in a response, its freshness lifetime; in a
	// request, the oldest response the client accepts.
	MaxAge int64
	// SMaxAge is s-maxage (responses): the lifetime for shared caches,
	// overriding MaxAge and Expires; it also implies proxy-revalidate.
	SMaxAge int64
	// MaxStale is max-stale=N (requests): staleness the client accepts.
	MaxStale int64
	// MaxStaleAny is max-stale without an argument: any staleness.
	MaxStaleAny bool
	// MinFresh is min-fresh (requests): the response must stay fresh for
	// at least this long.
	MinFresh int64
	// StaleWhileRevalidate and StaleIfError are the RFC 5861 windows
	// (responses).
	StaleWhileRevalidate int64
	StaleIfError         int64

	// NoStore is no-store (both).
	NoStore bool
	// NoCache is an unqualified no-cache: stored responses must be
	// revalidated before every use.
	NoCache bool
	// NoCacheFields are the canonical field names of no-cache="a, b"
	// (responses): those fields must not be served without revalidation.
	NoCacheFields []string
	// Private is an unqualified private (responses): no shared cache may
	// store the response.
	Private bool
	// PrivateFields are the canonical field names of private="a, b": a
	// shared cache must not store those fields.
	PrivateFields []string
	// Public, MustRevalidate, ProxyRevalidate, MustUnderstand and
	// Immutable are the response directives of the same names.
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	MustUnderstand  bool
	Immutable       bool
	// NoTransform is no-transform (both).
	NoTransform bool
	// OnlyIfCached is only-if-cached (requests).
	OnlyIfCached bool

	// Known counts the recognised directives with well-formed arguments.
	// Zero means the field said nothing this cache understands, so a
	// Surrogate-Control with Known == 0 is ignored. (A Structured targeted
	// field such as CDN-Cache-Control is obeyed whenever it is a valid,
	// non-empty dictionary, RFC 9213 §2.2; see [parseTargeted].)
	Known int
}

// noDirectives is Directives with every delta-seconds value absent (-1).
func noDirectives() Directives {
	return Directives{
		MaxAge:               -1,
		SMaxAge:              -1,
		MaxStale:             -1,
		MinFresh:             -1,
		StaleWhileRevalidate: -1,
		StaleIfError:         -1,
	}
}

// ParseDirectives parses the lines of a Cache-Control-style field. Names
// are case-insensitive; arguments are tokens or quoted strings; unknown
// directives and garbage are skipped up to the next comma. Garbled
// restrictive directives still apply (a malformed no-cache="..." list
// reads as an unqualified no-cache, likewise private); garbled relaxing
// ones (public, immutable, max-stale) are ignored. It allocates
// only for no-cache="..." and private="..." field lists.
//
// It also reads Surrogate-Control, which has this grammar. Targeted
// fields such as CDN-Cache-Control are Structured Field Dictionaries
// (RFC 9213 §2.1), read strictly by [parseTargeted] instead.
func ParseDirectives(fields []string) Directives {
	d := noDirectives()
	for _, line := range fields {
		p := directiveParser{s: line}
		for p.next() {
			d.apply(&p)
		}
	}
	return d
}

// RequestDirectives parses the Cache-Control of a request (RFC 9111
// §5.2.1). Targeted fields are response-only, so they play no part.
func RequestDirectives(h http.Header) Directives {
	return ParseDirectives(h["Cache-Control"])
}

// directiveParser walks one field line, one directive per next() call.
type directiveParser struct {
	s string
	i int

	name    string
	arg     string // unquoted argument; escapes are still in place when escaped is set
	hasArg  bool
	escaped bool // arg holds quoted-pairs
	clean   bool // the directive ended at a comma or the end of the line, no junk
}

// next parses the next directive into p and reports whether there was one.
func (p *directiveParser) next() bool {
	s := p.s
	for {
		for p.i < len(s) && (s[p.i] == ',' || isOWS(s[p.i])) {
			p.i++
		}
		if p.i >= len(s) {
			return false
		}
		start := p.i
		for p.i < len(s) && isTchar(s[p.i]) {
			p.i++
		}
		if p.i == start { // not a token: skip the whole member
			p.skipMember()
			continue
		}
		p.name = s[start:p.i]
		p.arg, p.hasArg, p.escaped = "", false, false
		p.clean = true
		p.skipOWS()
		if p.i < len(s) && s[p.i] == '=' {
			p.i++
			p.skipOWS()
			p.hasArg = true
			if p.i < len(s) && s[p.i] == '"' {
				p.clean = p.quotedString()
			} else {
				a := p.i
				for p.i < len(s) && isTchar(s[p.i]) {
					p.i++
				}
				p.arg = s[a:p.i]
			}
			p.skipOWS()
		}
		if p.i < len(s) && s[p.i] != ',' {
			p.clean = false
			p.skipMember()
		}
		return true
	}
}

// quotedString reads a quoted-string starting at the opening quote and
// reports whether it was terminated.
func (p *directiveParser) quotedString() bool {
	s := p.s
	p.i++ // opening quote
	a := p.i
	for p.i < len(s) {
		switch s[p.i] {
		case '\\':
			p.escaped = true
			p.i += 2
			continue
		case '"':
			p.arg = s[a:p.i]
			p.i++
			return true
		}
		p.i++
	}
	p.arg = s[a:min(p.i, len(s))]
	p.i = len(s)
	return false
}

// skipMember advances to the next comma that is not inside a quoted string.
func (p *directiveParser) skipMember() {
	s := p.s
	inQuote := false
	for ; p.i < len(s); p.i++ {
		switch c := s[p.i]; {
		case inQuote && c == '\\':
			p.i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ',':
			return
		}
	}
}

func (p *directiveParser) skipOWS() {
	for p.i < len(p.s) && isOWS(p.s[p.i]) {
		p.i++
	}
}

// apply records the directive p has just parsed.
func (d *Directives) apply(p *directiveParser) {
	var buf [32]byte
	if len(p.name) > len(buf) {
		return // longer than any directive we know
	}
	name := buf[:len(p.name)]
	for i := 0; i < len(p.name); i++ {
		c := p.name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		name[i] = c
	}
	switch string(name) { // no allocation: the compiler compares bytes
	case "max-age":
		d.setDeltaConflictStale(&d.MaxAge, p)
	case "s-maxage":
		d.setDeltaConflictStale(&d.SMaxAge, p)
	case "max-stale":
		if !p.hasArg {
			d.MaxStaleAny = d.loosen(p) || d.MaxStaleAny
			return
		}
		d.setDelta(&d.MaxStale, p)
	case "min-fresh":
		d.setDelta(&d.MinFresh, p)
	case "stale-while-revalidate":
		d.setDelta(&d.StaleWhileRevalidate, p)
	case "stale-if-error":
		d.setDelta(&d.StaleIfError, p)
	case "no-store":
		d.NoStore = true
		d.flag(p)
	case "no-cache":
		if !p.hasArg {
			d.NoCache = true
			d.flag(p)
			return
		}
		if fs, ok := fieldList(p); ok {
			if d.NoCacheFields == nil {
				d.NoCacheFields = fs
			} else {
				d.NoCacheFields = append(d.NoCacheFields, fs...)
			}
			d.Known++
		} else {
			d.NoCache = true // garbled list: the most restrictive reading
		}
	case "private":
		if !p.hasArg {
			d.Private = true
			d.flag(p)
			return
		}
		if fs, ok := fieldList(p); ok {
			if d.PrivateFields == nil {
				d.PrivateFields = fs
			} else {
				d.PrivateFields = append(d.PrivateFields, fs...)
			}
			d.Known++
		} else {
			d.Private = true // garbled list: the most restrictive reading
		}
	case "public":
		d.Public = d.loosen(p) || d.Public
	case "must-revalidate":
		d.MustRevalidate = true
		d.flag(p)
	case "proxy-revalidate":
		d.ProxyRevalidate = true
		d.flag(p)
	case "must-understand":
		d.MustUnderstand = true
		d.flag(p)
	case "no-transform":
		d.NoTransform = true
		d.flag(p)
	case "immutable":
		d.Immutable = d.loosen(p) || d.Immutable
	case "only-if-cached":
		d.OnlyIfCached = true
		d.flag(p)
	}
}

// flag counts a valueless directive as known when it was well-formed.
// The directive itself takes effect either way: a garbled "no-store"
// must still forbid storage.
func (d *Directives) flag(p *directiveParser) {
	if p.clean && !p.hasArg {
		d.Known++
	}
}

// loosen reports whether a valueless directive that relaxes the rules
// (public, immutable, max-stale) was well-formed, counting it as known.
// Garbled ones, such as "public=no", are ignored rather than obeyed.
func (d *Directives) loosen(p *directiveParser) bool {
	if p.clean && !p.hasArg {
		d.Known++
		return true
	}
	return false
}

// setDelta stores a delta-seconds argument into *dst unless an earlier
// occurrence already set it.
func (d *Directives) setDelta(dst *int64, p *directiveParser) {
	v, ok := deltaArg(p)
	if ok {
		d.Known++
	}
	if *dst < 0 {
		*dst = v
	}
}

// setDeltaConflictStale is setDelta for freshness directives: a later
// occurrence with a different value makes the directive 0 (stale).
func (d *Directives) setDeltaConflictStale(dst *int64, p *directiveParser) {
	v, ok := deltaArg(p)
	if ok {
		d.Known++
	}
	if *dst < 0 {
		*dst = v
	} else if *dst != v {
		*dst = 0
	}
}

// deltaArg reads p's argument as delta-seconds (RFC 9111 §1.2.2), quoted
// or not. Anything invalid is 0, reported with ok false; values past
// MaxDelta are MaxDelta.
func deltaArg(p *directiveParser) (v int64, ok bool) {
	if !p.hasArg || p.escaped || !p.clean {
		return 0, false
	}
	return parseDelta(p.arg)
}

// parseDelta parses delta-seconds (1*DIGIT), capping at MaxDelta. It
// returns 0, false for anything else, including the empty string.
func parseDelta(a string) (v int64, ok bool) {
	if a == "" {
		return 0, false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v < MaxDelta {
			v = v*10 + int64(c-'0')
		}
	}
	return min(v, MaxDelta), true
}

// fieldList reads the argument of no-cache="..." or private="..." as a
// list of field names, canonicalised. A bare token argument is accepted
// as a single name. Elements that are not tokens are dropped.
func fieldList(p *directiveParser) ([]string, bool) {
	if !p.clean {
		return nil, false
	}
	a := p.arg
	if p.escaped {
		a = unescapeQuoted(a)
	}
	return fieldNames(a), true
}

// fieldNames splits a comma-separated list of field names, dropping
// empty elements and those that are not tokens, and canonicalises them.
// It returns nil when no name remains.
func fieldNames(a string) []string {
	var out []string
	for a != "" {
		var el string
		el, a, _ = strings.Cut(a, ",")
		el = strings.Trim(el, " \t")
		if el == "" || !isToken(el) {
			continue
		}
		if out == nil {
			out = make([]string, 0, 1+strings.Count(a, ","))
		}
		out = append(out, textproto.CanonicalMIMEHeaderKey(el))
	}
	return out
}

// unescapeQuoted removes the backslashes of quoted-pairs.
func unescapeQuoted(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// isTchar reports whether c is a token character (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return s != ""
}
