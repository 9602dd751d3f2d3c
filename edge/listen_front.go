package edge

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popcache/popcache/cache"
)

// front is the handler in front of the pipeline on one kind of listener:
// it counts the request by protocol and, on TLS listeners with HTTP/3,
// advertises it with Alt-Svc. Everything it does is precomputed: the
// request path allocates nothing here.
type front struct {
	s      *Server
	h1, h2 prometheus.Counter // requests with ProtoMajor 1, and 2 (or 3 on QUIC)
	// altSvc is the Alt-Svc field value, shared by every response (the
	// pipeline replaces header slices, it never writes into them); nil for
	// none.
	altSvc []string
	// altSvcH2 is the same field for the HTTP/2 hit path (h2hit.go), as a
	// lower-case name and value pair.
	altSvcH2 []string
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		f.h1.Inc()
	} else {
		f.h2.Inc()
	}
	if f.altSvc != nil {
		w.Header()["Alt-Svc"] = f.altSvc
	}
	f.s.ServeHTTP(w, r)
}

// plainFront is the handler of the plain listeners (h1 and h2c).
func (s *Server) plainFront() *front {
	return &front{s: s, h1: s.lm.h1, h2: s.lm.h2c}
}

// tlsFront is the handler of a TLS listener whose UDP twin (if any, port
// > 0) serves HTTP/3 on port.
func (s *Server) tlsFront(h3Port int) *front {
	f := &front{s: s, h1: s.lm.h1TLS, h2: s.lm.h2TLS}
	if h3Port > 0 {
		f.altSvc = []string{altSvcValue(h3Port, int64(s.cfg.TLS.HTTP3.AltSvcMaxAge.D().Seconds()))}
		f.altSvcH2 = []string{"alt-svc", f.altSvc[0]}
	}
	return f
}

// altSvcValue advertises HTTP/3 on port of the same host (RFC 7838, RFC
// 9114 §3.1.1).
func altSvcValue(port int, maxAge int64) string {
	return `h3=":` + strconv.Itoa(port) + `"; ma=` + strconv.FormatInt(maxAge, 10)
}

// hitExtras says which of the fields ServeHTTP sets before the stored
// ones are copied over them a fast-path hit on obj must add (a stored
// field of the same name wins): Alt-Svc when this listener advertises
// HTTP/3, and, over TLS, the route's HSTS (rh nil for none).
func (f *front) hitExtras(rq *Request, obj *cache.Object) (altSvc bool, rh *routeHTTPS) {
	stored := obj.Meta.Header
	altSvc = f.altSvc != nil && len(stored["Alt-Svc"]) == 0
	if rq.In.TLS != nil && len(stored["Strict-Transport-Security"]) == 0 {
		if r := f.s.https[rq.Route.Name]; r != nil && r.hsts != nil {
			rh = r
		}
	}
	return altSvc, rh
}
