package edge

import (
	"net/http"

	"github.com/popcache/popcache/routing"
)

// Upstream is where fills, revalidations and passes go: a route's origin
// pool, or a shield tier in front of it. key is the request's primary
// cache key ("" for requests that are not looked up), for consistent
// hashing. RoundTrip has http.RoundTripper's contract otherwise.
type Upstream interface {
	RoundTrip(req *http.Request, key string) (*http.Response, error)
}

// upstream returns where rq's upstream requests go.
func (s *Server) upstream(rq *Request) Upstream {
	if s.upstreamFor != nil {
		if u := s.upstreamFor(rq.Route); u != nil {
			return u
		}
	}
	return rq.Route.Pool
}

// UpstreamFunc picks the Upstream of a route; nil (or a nil result) means
// the route's own origin pool.
type UpstreamFunc func(*routing.Route) Upstream
