package edge

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/routing"
)

// pass forwards a request upstream without the cache: other methods than
// GET and HEAD, and routes with caching off. The request body is streamed,
// up to the configured limit. A successful unsafe request invalidates
// what is stored for its URL and for the URLs in its response's Location
// and Content-Location on the same host (RFC 9111 §4.4).
func (s *Server) pass(w http.ResponseWriter, rq *Request) {
	r := rq.In
	max := int64(s.cfg.Server.MaxRequestBodyBytes)
	if r.ContentLength > max {
		s.fail(w, rq, errBodyTooLarge)
		return
	}
	out := s.outbound(r.Context(), rq, false)
	if out.Body != nil && out.Body != http.NoBody {
		out.Body = routing.GuardRequestBody(http.MaxBytesReader(w, out.Body, max))
	}
	if h := s.hooks.UpstreamRequest; h != nil {
		if err := h(rq, out); err != nil {
			s.fail(w, rq, err)
			return
		}
	}
	reqTime := s.now()
	resp, err := s.upstream(rq).RoundTrip(out, rq.Key)
	s.m.upstream.WithLabelValues(rq.Route.Name, "pass").Observe(s.now().Sub(reqTime).Seconds())
	if err != nil {
		// A malformed chunk fails the connection's read, and net/http then
		// cancels the request's context as for a client gone: but this
		// client is there, and gets its 400 (h1fast_track.go).
		bad := trackerRefused(r.Context())
		if r.Context().Err() != nil && !bad {
			clientGone(rq, err)
		}
		if bad {
			err = &routing.RequestBodyError{Err: errBadChunk}
		}
		if routing.IsRequestBodyError(err) {
			// The client's body was malformed, too large, cut short or
			// stalled: its error (400, 413 or 408), and where its next
			// request starts is unknown.
			w.Header().Set("Connection", "close")
			s.fail(w, rq, err)
			return
		}
		s.fail(w, rq, &upstreamError{err: err})
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 {
		// A 1xx final status: the transport returns 101 (and only 101)
		// as final; the request asked for no upgrade (Upgrade is
		// hop-by-hop, never forwarded), so the origin must not switch
		// (RFC 9110 §15.2.2), and passing it on would leave a proxy in
		// front tunnelling what this node still parses as HTTP.
		s.fail(w, rq, &upstreamError{err: fmt.Errorf("unexpected %d response", resp.StatusCode)})
		return
	}
	removeHopHeaders(resp.Header)
	removeUpstreamOnly(resp.Header)
	if h := s.hooks.UpstreamResponse; h != nil {
		if err := h(rq, resp); err != nil {
			s.fail(w, rq, err)
			return
		}
	}
	if isUnsafe(r.Method) && resp.StatusCode >= 200 && resp.StatusCode < 400 {
		s.invalidate(rq, resp.Header)
	}
	rq.status.fwdStatus = resp.StatusCode
	if rq.Result == "" {
		rq.Result = "pass"
		if rq.status.fwd == fwdBypass {
			rq.Result = "bypass"
		}
	}
	s.copyResponse(w, rq, resp.StatusCode, resp.Header, resp.Body)
}

// isUnsafe reports whether a method is unsafe (RFC 9110 §9.2.1).
func isUnsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// invalidate drops the stored responses for the request's URL and the
// same-host URLs its response names (§4.4).
func (s *Server) invalidate(rq *Request, respHeader http.Header) {
	r := rq.In
	s.store.Invalidate(s.keyFor(rq, r.URL))
	n := 1
	for _, field := range [...]string{"Location", "Content-Location"} {
		v := respHeader.Get(field)
		if v == "" {
			continue
		}
		u, err := r.URL.Parse(v)
		if err != nil || (u.Host != "" && u.Host != r.Host) {
			continue
		}
		s.store.Invalidate(s.keyFor(rq, u))
		n++
	}
	s.m.invalidations.Add(float64(n))
}

// keyFor is the primary key of u on the request's host, with the route's
// recipe and the request's headers.
func (s *Server) keyFor(rq *Request, u *url.URL) string {
	r := rq.In
	var buf [256]byte
	return string(rq.Route.Key.Append(buf[:0], s.keyScheme(rq), r.Host, u.EscapedPath(), u.RawQuery, r.Header))
}

// keyScheme is the scheme the request is keyed under: https over TLS (h3
// included), behind a trusted proxy that says so, or on a route whose
// keys are all https.
func (s *Server) keyScheme(rq *Request) string {
	r := rq.In
	if r.TLS != nil || rq.Route.Policy.Key.Scheme == conf.KeySchemeHTTPS || s.forwardedHTTPS(r) {
		return "https"
	}
	return "http"
}
