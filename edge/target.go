package edge

import "net/http"

// validTarget reports whether r's request-target is one the pipeline
// keys, routes and forwards as the same thing: a path beginning with "/"
// (origin-form, or absolute-form with one or none), or "*" for OPTIONS
// (RFC 9112 §3.2), with no space or control byte anywhere; and over
// HTTP/2 and HTTP/3, an authority, in :authority or Host (RFC 9113
// §8.3.1: http and https URIs have one). net/http already answers 400 to
// an HTTP/1.1 request without Host; HTTP/1.0 may still omit it.
//
// net/http parses "GET x:* HTTP/1.1" into a URL with an opaque part and
// an empty path: routing and the cache key would take it for "/" while
// the origin was asked for "*", and its answer would be stored as the
// home page for everyone. HTTP/2's :path may also carry spaces, which
// would go into the upstream request line as they are.
func validTarget(r *http.Request) bool {
	u := r.URL
	if u.Opaque != "" || (r.Host == "" && r.ProtoMajor >= 2) {
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
		if c := r.RequestURI[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
