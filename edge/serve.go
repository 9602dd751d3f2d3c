package edge

import (
	"context"
	"net/http"
	"time"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/shield"
)

// ServeHTTP runs one request through the phases, always in this order:
//
//  1. framing and size checks, loop detection (loop.go), then
//     Hooks.RequestFilter, then Options.Methods;
//  2. routing: no route for the host is a 404 (never an open proxy); the
//     route's HTTPS redirect or HSTS applies;
//  3. method: GET and HEAD on a caching route are looked up; any other
//     method (or a route with caching off) is passed upstream, and a
//     successful unsafe request invalidates what is stored for its URL
//     (RFC 9111 §4.4);
//  4. lookup, then the purge rules (a purged object is a miss, a soft-purged
//     one stale): a fresh response is a hit; a stale one is served while it
//     is refreshed in the background when stale-while-revalidate allows,
//     else revalidated; a miss is filled, coalesced with concurrent misses;
//  5. the fields never sent to clients removed (Server.strip),
//     Hooks.ResponseFilter, the response, metrics, Hooks.Logging.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.m.inflight.Inc()
	now := s.now()
	rq := &Request{In: r, Start: now}
	defer s.finish(rq)

	if len(r.RequestURI) > s.maxURI {
		s.fail(w, rq, errURITooLong)
		return
	}
	if !validTarget(r) {
		s.fail(w, rq, errBadTarget)
		return
	}
	if err := s.checkLoop(r); err != nil {
		s.fail(w, rq, err)
		return
	}
	if len(r.Header["Connection"]) > 0 {
		// Fields the client meant for this hop alone are never forwarded,
		// so they must not pick the key or the stored variant either.
		dropNominated(r.Header)
	}
	if len(r.TransferEncoding) > 0 || (r.ProtoMajor == 1 && r.ProtoMinor == 0 && r.ContentLength != 0) {
		// A chunked request may have carried a Content-Length too (which
		// net/http dropped); RFC 9112 §6.3 asks us to close afterwards.
		// On HTTP/1.0 net/http drops Transfer-Encoding unseen and frames
		// by Content-Length (§6.1 says close): the fast path refuses that
		// head (h1fast_framing.go), but not on a connection net/http kept,
		// so an HTTP/1.0 request with a body closes its connection.
		w.Header().Set("Connection", "close")
	}
	if h := s.hooks.RequestFilter; h != nil && h(rq, w) {
		rq.Result = "synthetic"
		return
	}
	if h := s.methods[r.Method]; h != nil {
		rq.Result = "synthetic"
		h.ServeHTTP(w, r)
		return
	}
	rq.Route = s.table.Match(r.Host, r.URL.Path)
	if rq.Route == nil {
		s.fail(w, rq, errNoRoute)
		return
	}
	if s.https != nil && s.applyHTTPS(w, rq) { // redirect to https, or HSTS
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodTrace, http.MethodConnect:
		s.fail(w, rq, errMethod)
		return
	default:
		rq.status.fwd = fwdMethod
		s.pass(w, rq)
		return
	}
	if !rq.Route.Policy.Enabled {
		rq.status.fwd = fwdBypass
		s.pass(w, rq)
		return
	}
	rq.Key = s.key(rq)
	obj, outcome := s.store.Lookup(rq.Key, r.Header, now)
	obj, outcome = s.store.FilterPurged(rq.Key, obj, outcome, r, rq.Route.Key) // purge rules: a miss, or stale
	switch outcome {
	case cache.Found:
		s.serveStored(w, rq, obj, now)
	case cache.Pass:
		rq.status.fwd = fwdMiss
		rq.status.detail = "hit-for-miss"
		s.fetchAndServe(w, rq, nil)
	case cache.VaryMiss:
		rq.status.fwd = fwdVaryMiss
		s.fill(w, rq, nil)
	default:
		rq.status.fwd = fwdURIMiss
		s.fill(w, rq, nil)
	}
}

// key builds the request's primary cache key with the route's recipe.
func (s *Server) key(rq *Request) string { return s.keyFor(rq, rq.In.URL) }

// serveStored answers from a stored response, or revalidates it.
func (s *Server) serveStored(w http.ResponseWriter, rq *Request, obj *cache.Object, now time.Time) {
	m := &obj.Meta
	var reqDirs *cache.Directives
	if cc := rq.In.Header["Cache-Control"]; len(cc) > 0 {
		d := cache.ParseDirectives(cc)
		// Like Varnish, nginx and Fastly, a client cannot make the cache
		// go to the origin for a response it holds fresh: request no-cache,
		// max-age and min-fresh (what browsers send on reload) would let any
		// client bust the cache. max-stale only widens what may be served.
		d.MaxAge, d.MinFresh = -1, -1
		reqDirs = &d
	}
	if m.IsFresh(now) || (reqDirs != nil && m.Satisfies(reqDirs, now)) {
		rq.status.hit = true
		rq.status.setTTL(ttl(m, now))
		rq.Result = "hit"
		if !m.IsFresh(now) {
			rq.status.detail = "max-stale"
			rq.Result = "stale"
		}
		s.writeObject(w, rq, obj, now)
		return
	}
	if m.StaleWhileRevalidateOK(now) {
		rq.status.hit = true
		rq.status.setTTL(ttl(m, now))
		rq.status.detail = "stale-while-revalidate"
		rq.Result = "stale"
		s.revalidateInBackground(rq, obj)
		s.writeObject(w, rq, obj, now)
		return
	}
	if reqDirs != nil && reqDirs.OnlyIfCached {
		s.fail(w, rq, errOnlyIfCached)
		return
	}
	rq.status.fwd = fwdStale
	s.fill(w, rq, obj)
}

// revalidateInBackground refreshes a stale object once, however many
// requests are served it meanwhile: the fill is coalesced on the key.
func (s *Server) revalidateInBackground(rq *Request, stale *cache.Object) {
	ctx := context.WithoutCancel(rq.In.Context())
	bg := &Request{In: rq.In.Clone(ctx), Route: rq.Route, Key: rq.Key, Start: rq.Start}
	// A handler a timed-out shutdown left running must not start one
	// while ServeListeners waits for them (WaitGroup: no Add during Wait).
	s.bgMu.Lock()
	if s.bgDone {
		s.bgMu.Unlock()
		return
	}
	s.bg.Add(1)
	s.bgMu.Unlock()
	go func() {
		defer s.bg.Done()
		f, role, err := s.store.Fill(ctx, bg.Key, func(fctx context.Context) (*cache.Fill, error) {
			return s.fetch(fctx, bg, stale, "revalidate")
		})
		if err != nil {
			s.log.Warn("background revalidation failed", "key", bg.Key, "err", err)
			return
		}
		if role == cache.Leader && f.Private != nil {
			f.Private.Body.Close()
		}
	}()
}

// fill serves a miss (stale == nil) or a revalidation of stale through a
// coalesced fetch.
func (s *Server) fill(w http.ResponseWriter, rq *Request, stale *cache.Object) {
	r := rq.In
	if len(r.Header["Cache-Control"]) > 0 && cache.RequestDirectives(r.Header).OnlyIfCached {
		s.fail(w, rq, errOnlyIfCached)
		return
	}
	kind := "fill"
	if stale != nil {
		kind = "revalidate"
	}
	f, role, err := s.store.Fill(r.Context(), rq.Key, func(ctx context.Context) (*cache.Fill, error) {
		return s.fetch(ctx, rq, stale, kind)
	})
	switch {
	case err != nil:
		s.upstreamFailed(w, rq, stale, err)
		return
	case role == cache.Released:
		s.m.released.Inc()
		s.fetchAndServe(w, rq, stale)
		return
	case role == cache.Collapsed:
		rq.status.collapsed = true
		s.m.collapsed.Inc()
		if vf := f.Object.Meta.VaryFields; len(vf) > 0 && cache.VaryKey(vf, r.Header) != f.Object.Meta.VaryKey {
			// The shared response is another variant: fetch our own.
			rq.status.collapsed = false
			s.fetchAndServe(w, rq, stale)
			return
		}
	}
	s.serveFill(w, rq, f, stale)
}

// fetchAndServe fetches for this request alone, uncoalesced (hit-for-miss,
// or released from a fill that could not be shared). A cacheable response
// is still stored.
func (s *Server) fetchAndServe(w http.ResponseWriter, rq *Request, stale *cache.Object) {
	f, err := s.store.Fetch(rq.In.Context(), rq.Key, func(ctx context.Context) (*cache.Fill, error) {
		return s.fetch(ctx, rq, stale, "fill")
	})
	if err != nil {
		s.upstreamFailed(w, rq, stale, err)
		return
	}
	s.serveFill(w, rq, f, stale)
}

// serveFill writes the outcome of a fill.
func (s *Server) serveFill(w http.ResponseWriter, rq *Request, f *cache.Fill, stale *cache.Object) {
	now := s.now()
	rq.status.fwdStatus = f.UpstreamStatus
	rq.status.stored = f.Stored
	if f.Detail != "" {
		rq.status.detail = f.Detail
	}
	if f.Private != nil {
		rq.Result = "pass"
		s.writePrivate(w, rq, f.Private)
		return
	}
	obj := f.Object
	if obj.Meta.Status >= 500 {
		// A shield's own error for an origin it could not reach (with
		// failover "none", or the last shield tried) is as if this node
		// could not reach it.
		if why := staleOnFailure(rq, stale, now, shield.OriginUnreachable(obj.Meta.Status, obj.Meta.Header)); why != "" {
			s.serveStaleOnError(w, rq, stale, now, why)
			return
		}
	}
	rq.Result = "miss"
	if obj.Meta.IsFresh(now) {
		rq.status.setTTL(ttl(&obj.Meta, now))
	}
	s.writeObject(w, rq, obj, now)
}

// upstreamFailed answers after a failed fetch: the stale object when
// stale-if-error allows, or stale-if-unreachable when upstream could not
// be reached at all (a 502 or 504 of ours, not a status from upstream);
// an error status otherwise.
func (s *Server) upstreamFailed(w http.ResponseWriter, rq *Request, stale *cache.Object, err error) {
	now := s.now()
	if rq.In.Context().Err() != nil {
		clientGone(rq, rq.In.Context().Err())
	}
	code, _ := classify(err)
	if why := staleOnFailure(rq, stale, now, code == http.StatusBadGateway || code == http.StatusGatewayTimeout); why != "" {
		rq.Err = err
		s.serveStaleOnError(w, rq, stale, now, why)
		return
	}
	s.fail(w, rq, err)
}

// staleOnFailure is why stale (nil for none) may answer a fetch that
// failed at now, for Cache-Status: within its stale-if-error window, or,
// when upstream was unreachable, within the route's stale-if-unreachable
// window; "" when it may not.
func staleOnFailure(rq *Request, stale *cache.Object, now time.Time, unreachable bool) string {
	switch {
	case stale == nil:
		return ""
	case stale.Meta.StaleIfErrorOK(now):
		return "stale-if-error"
	case unreachable && stale.Meta.StaleIfUnreachableOK(now, rq.Route.Policy.StaleIfUnreachable):
		return "stale-if-unreachable"
	}
	return ""
}

// serveStaleOnError serves a stale object because upstream failed, with
// detail (the window that allowed it) in Cache-Status.
func (s *Server) serveStaleOnError(w http.ResponseWriter, rq *Request, stale *cache.Object, now time.Time, detail string) {
	rq.status.hit = false
	rq.status.fwd = fwdStale
	rq.status.stored = false
	rq.status.setTTL(ttl(&stale.Meta, now))
	rq.status.detail = detail
	rq.Result = "stale"
	s.writeObject(w, rq, stale, now)
}

// finish counts the request and runs the Logging hook.
func (s *Server) finish(rq *Request) {
	s.m.inflight.Dec()
	route := ""
	if rq.Route != nil {
		route = rq.Route.Name
	}
	if rq.Result == "" {
		rq.Result = "error"
	}
	s.m.observe(route, rq.Code, rq.Result, rq.BodyBytes)
	if h := s.hooks.Logging; h != nil {
		h(rq)
	}
}

// ttl is the remaining freshness in whole seconds as the client can check
// it: the lifetime less the Age header sent with the response.
func ttl(m *cache.Meta, now time.Time) time.Duration {
	return m.Lifetime - m.Age(now).Truncate(time.Second)
}
