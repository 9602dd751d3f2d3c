package edge

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/popcache/popcache/conf"
)

// routeHTTPS is a route's HTTPS behaviour, compiled from conf.RouteHTTPS.
type routeHTTPS struct {
	redirect bool
	port     int      // redirect port; 0: the first TLS listener's actual port
	hsts     []string // Strict-Transport-Security, shared by every response; nil for none
	hstsH2   []string // the same as a lower-case name and value pair (h2hit.go)
}

// newRouteHTTPS compiles the routes' HTTPS sections by route name; nil
// when no route redirects or sends HSTS, so that the pipeline skips the
// lookup.
func newRouteHTTPS(routes []conf.Route) map[string]*routeHTTPS {
	var m map[string]*routeHTTPS
	for i := range routes {
		h := &routes[i].HTTPS
		if !h.Redirect && h.HSTS == "" {
			continue
		}
		if m == nil {
			m = map[string]*routeHTTPS{}
		}
		rh := &routeHTTPS{redirect: h.Redirect, port: h.RedirectPort}
		if h.HSTS != "" {
			rh.hsts = []string{h.HSTS}
			rh.hstsH2 = []string{"strict-transport-security", h.HSTS}
		}
		m[routes[i].Name] = rh
	}
	return m
}

// applyHTTPS runs right after routing: over plain HTTP, a route that
// redirects answers 308 to https (and handled is true); over TLS, a route
// with HSTS gets its header. Never HSTS over plain HTTP (RFC 6797 §7.2).
func (s *Server) applyHTTPS(w http.ResponseWriter, rq *Request) (handled bool) {
	rh := s.https[rq.Route.Name]
	if rh == nil {
		return false
	}
	if rq.In.TLS != nil {
		if rh.hsts != nil {
			w.Header()["Strict-Transport-Security"] = rh.hsts
		}
		return false
	}
	if !rh.redirect {
		return false
	}
	port := rh.port
	if port == 0 {
		port = int(s.tlsPort.Load())
	}
	w.Header()["Location"] = []string{httpsURL(rq.In, port)}
	w.Header()["Content-Length"] = []string{"0"} // framed: the connection can go back to the fast path
	rq.Result = "synthetic"
	rq.Code = http.StatusPermanentRedirect
	w.WriteHeader(http.StatusPermanentRedirect)
	return true
}

// httpsURL is r's URL over https on port (left out when 443 or unknown).
func httpsURL(r *http.Request, port int) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	var b strings.Builder
	b.WriteString("https://")
	switch {
	case port != 0 && port != 443:
		b.WriteString(net.JoinHostPort(host, strconv.Itoa(port)))
	case strings.Contains(host, ":"): // an IPv6 literal
		b.WriteString("[" + host + "]")
	default:
		b.WriteString(host)
	}
	b.WriteString(r.URL.RequestURI())
	return b.String()
}
