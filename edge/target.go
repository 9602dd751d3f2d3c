package edge

import (
	"net/http"
	"strings"
)

// validTarget reports whether r's request-target is one the pipeline
// keys, routes and forwards as the same thing: a path beginning with "/"
// (origin-form, or absolute-form with one or none), or "*" for OPTIONS
// (RFC 9112 §3.2), of visible ASCII only (no space, control or non-ASCII
// byte: RFC 3986 has none); and, but for HTTP/1.0, a host, in Host or
// :authority (RFC 9113 §8.3.1; RFC 9110 §4.2.1: an http or https URI
// with an empty host is invalid). net/http already answers 400 to an
// HTTP/1.1 request without Host, not to one with an empty Host.
//
// net/http parses "GET x:* HTTP/1.1" into a URL with an opaque part and
// an empty path: routing and the cache key would take it for "/" while
// the origin was asked for "*", and its answer would be stored as the
// home page for everyone. HTTP/2's :path may also carry spaces, which
// would go into the upstream request line as they are.
func validTarget(r *http.Request) bool {
	if r.Method == http.MethodConnect && r.ProtoMajor == 1 {
		// Refused anyway (405), but a malformed CONNECT is a 400 first:
		// its target is authority-form, host:port (RFC 9112 §3.2.3).
		return authorityForm(r.RequestURI)
	}
	u := r.URL
	if u.Opaque != "" || (r.Host == "" && (r.ProtoMajor != 1 || r.ProtoMinor != 0)) {
		return false
	}
	switch {
	case u.Path == "*":
		if r.Method != http.MethodOptions {
			return false
		}
	case u.Path == "":
		if u.Host == "" { // only absolute-form may leave the path empty
			return false
		}
	case u.Path[0] != '/':
		return false
	}
	for i := 0; i < len(r.RequestURI); i++ {
		if c := r.RequestURI[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// authorityForm reports whether t is host:port with a port of digits.
func authorityForm(t string) bool {
	i := strings.LastIndexByte(t, ':')
	if i <= 0 || i == len(t)-1 || strings.ContainsAny(t, "/?#@ ") {
		return false
	}
	for _, c := range t[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
