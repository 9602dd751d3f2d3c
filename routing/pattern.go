package routing

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
)

// hostKind says how specific a host pattern is; see the package doc.
type hostKind int

const (
	hostExact    hostKind = iota // "www.example.com"
	hostWildcard                 // "*.example.com", stored as its suffix "example.com"
	hostAny                      // "*"
)

// parseHostPattern classifies a configured host and returns the string the
// table indexes it under: the name itself, a wildcard's suffix, or "".
func parseHostPattern(h string) (hostKind, string, error) {
	h = strings.ToLower(h)
	switch {
	case h == "" || h == "*":
		return hostAny, "", nil
	case strings.HasPrefix(h, "*."):
		suffix := strings.TrimSuffix(h[2:], ".")
		if suffix == "" || strings.ContainsAny(suffix, "*:") || strings.HasPrefix(suffix, ".") {
			return 0, "", fmt.Errorf("host %q: want \"*.\" followed by a domain", h)
		}
		return hostWildcard, suffix, nil
	case strings.Contains(h, "*"):
		return 0, "", fmt.Errorf("host %q: '*' is allowed only as \"*\" or a leading \"*.\" label", h)
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return 0, "", fmt.Errorf("host %q: empty name", h+".")
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if strings.Contains(h, ":") {
		if _, err := netip.ParseAddr(h); err != nil {
			return 0, "", fmt.Errorf("host %q: ports are not matched; give the name alone", h)
		}
	}
	return hostExact, h, nil
}

// appendHost appends the name a request's Host header names to dst:
// lower-cased, without port, IPv6 brackets or trailing dot.
func appendHost(dst []byte, host string) []byte {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[1:i]
		}
	} else if i := strings.IndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i+1:], ':') < 0 {
		host = host[:i] // one colon: name:port. More than one: a bare IPv6 address.
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// pathPattern is a compiled path: a prefix, or a glob when it holds '*'.
type pathPattern struct {
	raw     string
	literal string  // raw up to the first '*'; all of raw for a prefix
	glob    []token // the tokens from the first '*' on; nil for a prefix
}

// token is one step of a glob: a literal byte, '*' or "**".
type token struct {
	kind tokenKind
	c    byte // for tokLiteral
}

type tokenKind uint8

const (
	tokLiteral  tokenKind = iota
	tokStar               // any run of bytes other than '/'
	tokStarStar           // any run of bytes
)

func parsePathPattern(p string) (pathPattern, error) {
	if p == "" {
		p = "/"
	}
	if p[0] != '/' {
		return pathPattern{}, fmt.Errorf("path %q: must start with '/'", p)
	}
	i := strings.IndexByte(p, '*')
	if i < 0 {
		return pathPattern{raw: p, literal: p}, nil
	}
	pp := pathPattern{raw: p, literal: p[:i]}
	for rest := p[i:]; rest != ""; {
		if rest[0] != '*' {
			pp.glob = append(pp.glob, token{kind: tokLiteral, c: rest[0]})
			rest = rest[1:]
			continue
		}
		n := len(rest) - len(strings.TrimLeft(rest, "*"))
		if n == 1 {
			pp.glob = append(pp.glob, token{kind: tokStar})
		} else {
			pp.glob = append(pp.glob, token{kind: tokStarStar})
		}
		rest = rest[n:]
	}
	return pp, nil
}

// isGlob reports whether p holds a wildcard.
func (p *pathPattern) isGlob() bool { return p.glob != nil }

// match reports whether path matches p.
func (p *pathPattern) match(path string) bool {
	if !strings.HasPrefix(path, p.literal) {
		return false
	}
	if p.glob == nil {
		return true
	}
	return matchGlob(p.glob, path[len(p.literal):])
}

// matchGlob reports whether all of s matches the tokens g. It simulates the
// glob as an NFA whose state i means "g[:i] matched so far", one bit per
// state, so it runs in O(len(s)·len(g)) with no backtracking, and without
// allocating for globs of up to 255 tokens.
func matchGlob(g []token, s string) bool {
	n := len(g) // state n accepts
	words := (n + 1 + 63) / 64
	var bufA, bufB [4]uint64
	cur, next := bufA[:], bufB[:]
	if words > len(bufA) {
		cur, next = make([]uint64, words), make([]uint64, words)
	}
	cur, next = cur[:words], next[:words]
	cur[0] = 1
	closeStars(g, cur)
	for i := 0; i < len(s); i++ {
		c := s[i]
		clear(next)
		live := false
		for w, word := range cur {
			for word != 0 {
				st := w*64 + bits.TrailingZeros64(word)
				word &= word - 1
				if st == n {
					continue
				}
				switch t := g[st]; {
				case t.kind == tokLiteral && t.c == c:
					setBit(next, st+1)
				case t.kind == tokStar && c != '/', t.kind == tokStarStar:
					setBit(next, st)
				default:
					continue
				}
				live = true
			}
		}
		if !live {
			return false
		}
		closeStars(g, next)
		cur, next = next, cur
	}
	return cur[n/64]&(1<<(n%64)) != 0
}

// closeStars adds the states reachable by letting stars match nothing.
// Ascending order carries the closure through runs of stars.
func closeStars(g []token, set []uint64) {
	for st, t := range g {
		if t.kind != tokLiteral && set[st/64]&(1<<(st%64)) != 0 {
			setBit(set, st+1)
		}
	}
}

func setBit(set []uint64, i int) { set[i/64] |= 1 << (i % 64) }
