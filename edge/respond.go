package edge

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/popcache/popcache/cache"
)

// writeObject writes a stored (or just fetched) object to the client:
// the stored header as is, Age and Cache-Status, then the body, or a 304
// when the client's own conditional matches (RFC 9110 §13.2.2), or the
// part a single Range asks for (206, or 416; see range.go), or no body for
// HEAD. A body in memory is written in one call; one on disk or still
// arriving is streamed, and cut short (the connection aborted) if it
// cannot be completed.
func (s *Server) writeObject(w http.ResponseWriter, rq *Request, obj *cache.Object, now time.Time) {
	r := rq.In
	h := w.Header()
	s.copyStored(h, obj)
	if rq.status.isPlainHit() {
		m := s.hitMemo(rq, obj, now)
		h["Age"], h["Cache-Status"] = m.Age, m.CacheStatus
	} else {
		h["Age"] = []string{obj.Meta.AgeHeader(now)}
		s.setCacheStatus(h, rq, obj.Meta.Header["Cache-Status"])
	}
	code := obj.Meta.Status
	off, n := int64(0), int64(-1)
	if code == http.StatusOK {
		if hasConditional(r.Header) && cache.NotModified(r.Header, &obj.Meta, now) {
			// No Content-Length on a 304 (RFC 9110 §8.6 allows it, but
			// HTTP/2 clients such as Go's then expect a body), nor
			// Content-Type: as net/http's HTTP/1.1 writes it, on every
			// protocol.
			code = http.StatusNotModified
			delete(h, "Content-Length")
			delete(h, "Content-Type") // RFC 9110 §15.4.5
		} else if r.Method == http.MethodGet && len(r.Header["Range"]) > 0 {
			// GET only: range handling is not defined for other methods,
			// whose Range a server must ignore (RFC 9110 §14.2).
			code, off, n = applyRange(h, r.Header, obj)
		}
	}
	if f := s.hooks.ResponseFilter; f != nil {
		f(rq, h)
	}
	rq.Code = code
	w.WriteHeader(code)
	if r.Method == http.MethodHead || code == http.StatusNotModified || code == http.StatusRequestedRangeNotSatisfiable {
		return
	}
	if obj.InMemory() {
		b := obj.Body
		if n >= 0 {
			b = b[off : off+n]
		}
		m, err := w.Write(b)
		rq.BodyBytes = int64(m)
		if err != nil {
			rq.Err = err
		}
		return
	}
	s.writeBody(w, rq, obj, off, n)
}

// copyStored copies obj's stored fields into h, but those the purge tags
// strip from client responses (which conf keeps clear of the fields the
// pipeline sets itself: Age, Cache-Status, framing).
func (s *Server) copyStored(h http.Header, obj *cache.Object) {
	for k, v := range obj.Meta.Header {
		h[k] = v
	}
	for _, k := range s.strip {
		delete(h, k)
	}
}

// writeBody streams a body that is on disk or still arriving, flushing
// whenever it has to wait for more.
func (s *Server) writeBody(w http.ResponseWriter, rq *Request, obj *cache.Object, off, n int64) {
	var rc *http.ResponseController
	flush := func() {
		if rc == nil {
			rc = http.NewResponseController(w)
		}
		_ = rc.Flush()
	}
	written, err := obj.WriteBody(rq.In.Context(), w, off, n, flush)
	rq.BodyBytes = written
	if err == nil {
		return
	}
	rq.Err = err
	if errors.Is(err, cache.ErrIncomplete) {
		s.log.Warn("response cut short", "host", rq.In.Host, "uri", rq.In.RequestURI, "sent", written, "err", err)
	}
	// The status line is gone: the client must see the body incomplete,
	// never a shorter body that looks whole.
	panic(http.ErrAbortHandler)
}

// hasConditional reports whether the request carries a validator-based
// precondition the cache answers itself.
func hasConditional(h http.Header) bool {
	return len(h["If-None-Match"]) > 0 || len(h["If-Modified-Since"]) > 0
}

// setCacheStatus sets Cache-Status to the upstream entries (if any) with
// ours appended (RFC 9211 §2: the cache nearest the client comes last).
func (s *Server) setCacheStatus(h http.Header, rq *Request, upstream []string) {
	var buf [160]byte
	b := appendCacheStatusPrefix(buf[:0], upstream)
	b = rq.status.appendTo(b, s.cfg.Server.Name)
	h["Cache-Status"] = []string{string(b)}
}

// hitMemo returns the Age and Cache-Status lines of a plain hit on obj
// (rq's status must be one), made once per second of the object's age
// and shared by that second's hits.
func (s *Server) hitMemo(rq *Request, obj *cache.Object, now time.Time) *cache.ServeMemo {
	age := obj.Meta.AgeSeconds(now)
	if m := obj.Memo.Load(); m != nil && m.AgeSeconds == age {
		return m
	}
	var buf [160]byte
	b := appendCacheStatusPrefix(buf[:0], obj.Meta.Header["Cache-Status"])
	b = rq.status.appendTo(b, s.cfg.Server.Name)
	a := &struct {
		m     cache.ServeMemo
		lines [2]string
		h2    [4]string
	}{}
	a.lines = [2]string{strconv.FormatInt(age, 10), string(b)}
	a.m = cache.ServeMemo{AgeSeconds: age, Age: a.lines[0:1:1], CacheStatus: a.lines[1:2:2]}
	a.h2 = [4]string{"age", a.lines[0], "cache-status", a.lines[1]}
	a.m.H2 = a.h2[:2:2]
	if httpguts.ValidHeaderFieldValue(a.lines[1]) {
		a.m.H2 = a.h2[:]
	}
	obj.Memo.Store(&a.m)
	return &a.m
}

// appendCacheStatusPrefix appends the upstream Cache-Status entries,
// each followed by ", ": what comes before a cache's own (RFC 9211 §2).
func appendCacheStatusPrefix(dst []byte, upstream []string) []byte {
	for _, u := range upstream {
		dst = append(dst, u...)
		dst = append(dst, ", "...)
	}
	return dst
}

// writePrivate streams an unshared upstream response to the client.
func (s *Server) writePrivate(w http.ResponseWriter, rq *Request, p *cache.PrivateResponse) {
	defer p.Body.Close()
	s.copyResponse(w, rq, p.Status, p.Header, p.Body)
}

// copyResponse writes an upstream response's header and streams its body,
// flushing as it goes when the length is unknown (streams, SSE).
func (s *Server) copyResponse(w http.ResponseWriter, rq *Request, status int, header http.Header, body io.Reader) {
	h := w.Header()
	for k, v := range header {
		h[k] = v
	}
	if pol := &rq.Route.Policy; pol.StripTargetedHeaders {
		for _, t := range pol.TargetedHeaders {
			delete(h, t)
		}
	}
	h["Via"] = appendVia(header["Via"], s.via)
	s.setCacheStatus(h, rq, header["Cache-Status"])
	for _, k := range s.strip {
		delete(h, k)
	}
	if f := s.hooks.ResponseFilter; f != nil {
		f(rq, h)
	}
	rq.Code = status
	w.WriteHeader(status)
	if rq.In.Method == http.MethodHead {
		return
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	flush := len(header["Content-Length"]) == 0
	rc := http.NewResponseController(w)
	for {
		n, rerr := body.Read(*bp)
		if n > 0 {
			m, werr := w.Write((*bp)[:n])
			rq.BodyBytes += int64(m)
			if werr != nil {
				rq.Err = werr
				return
			}
			if flush {
				_ = rc.Flush()
			}
		}
		if rerr != nil {
			if rerr != io.EOF {
				// Headers are gone: all we can do is cut the response short
				// so the client sees it incomplete.
				rq.Err = rerr
				panic(http.ErrAbortHandler)
			}
			return
		}
	}
}

// copyBufSize is the size of the buffers used to stream bodies.
const copyBufSize = 32 << 10
