package cache

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/popcache/popcache/conf"
)

// KeyRecipe builds the primary cache key of a request from a route's
// [conf.Key]. It is compiled once at load and is safe for concurrent use.
//
// A key is, in order: the recipe prefix; the scheme; "://"; the host,
// lower-cased, without a trailing dot or the scheme's default port; the
// path, with percent-encoded unreserved characters decoded and other
// percent-encodings upper-cased (RFC 3986 §6.2.2 — equivalent for every
// origin); then "?" and the kept query parameters sorted by name and value;
// then each selected header and cookie. What is NOT normalised, because
// origins may tell the forms apart: dot segments ("/a/../b"), duplicate
// slashes, letter case of the path, "+" versus "%20" in the query, the
// order of a repeated parameter's values, and the order of values in a
// header.
type KeyRecipe struct {
	prefix  string
	noQuery bool
	include []string // sorted; nil means all
	exclude []string // sorted
	headers []string // canonical names
	cookies []string
}

// NewKeyRecipe compiles k. It assumes k was validated by conf.
func NewKeyRecipe(k conf.Key) (*KeyRecipe, error) {
	r := &KeyRecipe{prefix: k.Prefix}
	switch k.Query {
	case "", "all":
	case "none":
		r.noQuery = true
	default:
		return nil, fmt.Errorf("cache: key recipe: query %q: want \"all\" or \"none\"", k.Query)
	}
	if len(k.QueryInclude) > 0 {
		r.include = slices.Sorted(slices.Values(k.QueryInclude))
	}
	if len(k.QueryExclude) > 0 {
		r.exclude = slices.Sorted(slices.Values(k.QueryExclude))
	}
	for _, h := range k.Headers {
		r.headers = append(r.headers, http.CanonicalHeaderKey(h))
	}
	r.cookies = slices.Clone(k.Cookies)
	return r, nil
}

// Append appends the key of a request to dst and returns the result.
// scheme is "http" or "https", host the request's Host, rawPath its
// escaped path (URL.EscapedPath or RawPath), rawQuery its URL.RawQuery.
func (r *KeyRecipe) Append(dst []byte, scheme, host, rawPath, rawQuery string, h http.Header) []byte {
	dst = append(dst, r.prefix...)
	dst = append(dst, scheme...)
	dst = append(dst, "://"...)
	dst = appendHost(dst, scheme, host)
	if rawPath == "" {
		rawPath = "/"
	}
	dst = appendNormalizedEscapes(dst, rawPath)
	if !r.noQuery && rawQuery != "" {
		dst = r.appendQuery(dst, rawQuery)
	}
	for _, name := range r.headers {
		dst = append(dst, "\x00h:"...)
		dst = append(dst, name...)
		dst = append(dst, '=')
		for i, v := range h[name] {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, strings.TrimSpace(v)...)
		}
	}
	if len(r.cookies) > 0 {
		dst = r.appendCookies(dst, h)
	}
	return dst
}

// NormalHost returns host as keys hold it: lower-case, without a trailing
// dot and without the scheme's default port. It returns host itself, with
// no allocation, when that is already its form. An edge forwards this
// form upstream, so that every request sharing a key asks the origin for
// the same host.
func NormalHost(scheme, host string) string {
	var buf [128]byte
	b := appendHost(buf[:0], scheme, host)
	if string(b) == host {
		return host
	}
	return string(b)
}

// appendHost appends host lower-cased, without a trailing dot and without
// the scheme's default port.
func appendHost(dst []byte, scheme, host string) []byte {
	hostname, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		hostname, port = host[:i], host[i+1:]
	}
	hostname = strings.TrimSuffix(hostname, ".")
	for i := 0; i < len(hostname); i++ {
		c := hostname[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		dst = append(dst, ':')
		dst = append(dst, port...)
	}
	return dst
}

// appendQuery appends "?" and the kept parameters of q sorted; a query
// whose parameters are all dropped appends nothing.
func (r *KeyRecipe) appendQuery(dst []byte, q string) []byte {
	var stack [16]string
	params := stack[:0]
	for q != "" {
		var p string
		p, q, _ = strings.Cut(q, "&")
		if p == "" {
			continue
		}
		// A parameter is dropped only when the origin cannot read it as
		// another: not when it holds a ';' (a separator at many origins,
		// "utm_source=x;a=evil"), and by its name as the origin decodes
		// it ("%61" is "a").
		if (r.include != nil || r.exclude != nil) && !strings.Contains(p, ";") {
			name := paramName(p)
			if r.include != nil {
				if _, ok := slices.BinarySearch(r.include, name); !ok {
					continue
				}
			}
			if _, ok := slices.BinarySearch(r.exclude, name); ok {
				continue
			}
		}
		params = append(params, p)
	}
	if len(params) == 0 {
		return dst
	}
	// By name only, stably: the values of a repeated name keep their
	// order, which origins read (the first at some, the last at others).
	// Not at all when an origin could read two parameters as one name
	// the sort tells apart ("%61" and "a", "a+b" and "a%20b", a name
	// after a ';'): the sort would then fix their order whatever order
	// the client sent.
	if sortable(params) {
		slices.SortStableFunc(params, func(a, b string) int {
			an, _, _ := strings.Cut(a, "=")
			bn, _, _ := strings.Cut(b, "=")
			return strings.Compare(an, bn)
		})
	}
	dst = append(dst, '?')
	for i, p := range params {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = appendNormalizedEscapes(dst, p)
	}
	return dst
}

// paramName returns the name of the query parameter p with its
// percent-encodings decoded ("+" stays: names in a recipe have none).
func paramName(p string) string {
	name, _, _ := strings.Cut(p, "=")
	if !strings.Contains(name, "%") {
		return name
	}
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '%' && i+2 < len(name) && isHex(name[i+1]) && isHex(name[i+2]) {
			b = append(b, unhex(name[i+1])<<4|unhex(name[i+2]))
			i += 2
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

// sortable reports whether sorting params by their raw names keeps the
// relative order of every two parameters an origin may read as the same
// name: none holds a ';' (a separator at many origins), and no two names
// differ only in percent-encoding or in '+' for a space.
func sortable(params []string) bool {
	for i, p := range params {
		name, _, _ := strings.Cut(p, "=")
		if strings.Contains(p, ";") {
			return false
		}
		if !strings.ContainsAny(name, "%+") {
			continue
		}
		loose := strings.ReplaceAll(paramName(p), "+", " ")
		for j, o := range params {
			on, _, _ := strings.Cut(o, "=")
			if j != i && on != name && strings.ReplaceAll(paramName(o), "+", " ") == loose {
				return false
			}
		}
	}
	return true
}

// appendCookies appends the selected cookies' values, in recipe order.
func (r *KeyRecipe) appendCookies(dst []byte, h http.Header) []byte {
	for _, name := range r.cookies {
		dst = append(dst, "\x00c:"...)
		dst = append(dst, name...)
		dst = append(dst, '=')
		dst = append(dst, cookieValue(h["Cookie"], name)...)
	}
	return dst
}

// cookieValue returns the value of the first cookie called name in the
// Cookie header lines, or "".
func cookieValue(lines []string, name string) string {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				return strings.Trim(v, "\"")
			}
		}
	}
	return ""
}

// appendNormalizedEscapes appends s with percent-encoded unreserved
// characters decoded and the hex digits of other escapes upper-cased.
func appendNormalizedEscapes(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			dst = append(dst, c)
			continue
		}
		b := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(b) {
			dst = append(dst, b)
		} else {
			dst = append(dst, '%', upperHex(s[i+1]), upperHex(s[i+2]))
		}
		i += 2
	}
	return dst
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
