package edge

import (
	"net/http"
	"strconv"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/edge/internal/h2"
)

// The HTTP/2 hit path: plain hits answered on the connection's own
// goroutine, with no handler goroutine and no channel handoffs (see
// edge/internal/h2, hit.go). The rest goes to the handler as before.

// h2Hit answers r when it is a plain fresh hit in memory, with the
// answer [Server.ServeHTTP] would give (see [Server.plainHit]); else it
// returns false and r goes to the handler. It is the h2.Server's Hit, so
// it runs on the connection's serve goroutine and must not block.
func (f *front) h2Hit(r *http.Request, h *h2.Hit) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	s := f.s
	now := s.now()
	rq := &Request{In: r, Start: now}
	obj, heads, code, part := s.fastHit(rq, now)
	if obj == nil || heads.H2 == nil {
		return false
	}
	pages := obj.Pages()
	var body []byte
	if r.Method == http.MethodGet && code != http.StatusNotModified {
		off, n := int64(0), obj.Size()
		if code == http.StatusPartialContent {
			off, n = part.off, part.n
		}
		if pages == nil {
			body = obj.Body[off : off+n]
		} else {
			body = pages.Bytes()[off : off+n]
		}
	}
	f.h2.Inc()
	s.lm.h2FastHits.Inc()
	s.m.inflight.Inc()
	rq.Code = code
	*h = h2.Hit{Status: code, Fields: heads.H2}
	if code == http.StatusNotModified {
		h.Fields = heads.H2NotModified
	}
	h.Extra[0] = s.hitMemo(rq, obj, now).H2
	if altSvc, rh := f.hitExtras(rq, obj); altSvc || rh != nil {
		if altSvc {
			h.Extra[1] = f.altSvcH2
		}
		if rh != nil {
			h.Extra[2] = rh.hstsH2
		}
	}
	switch code {
	case http.StatusNotModified: // no Content-Length on a 304: see writeObject
	case http.StatusPartialContent: // as applyRange sets it
		h.Extra[3] = []string{"content-range", contentRange(part.off, part.n, obj.Size())}
		h.ContentLength = strconv.FormatInt(part.n, 10)
	default:
		h.ContentLength = heads.H2Length
	}
	h.Body = body
	if pages != nil {
		// The mapping lives as long as pages: the server keeps it until
		// the last frame of body is written.
		h.Hold = pages
	}
	rq.BodyBytes = int64(len(body))
	s.finish(rq)
	return true
}

// h2Fields returns the HTTP/2 header fields and Content-Length of a plain
// hit on obj, as [Server.writeObject] and the HTTP/2 server write them:
// the stored fields but those in strip, and without Age and Cache-Status,
// which [Server.hitMemo] makes for each second.
// It returns nil when the fast path must leave the response to the
// handler: a stored Content-Length missing or malformed, no Date (the
// server would add one), or a field that changes how the server writes
// the response (see h2.AppendFields).
func (s *Server) h2Fields(obj *cache.Object) ([]string, string) {
	stored := obj.Meta.Header
	cl := stored["Content-Length"]
	if len(cl) == 0 || len(stored["Date"]) == 0 {
		return nil, ""
	}
	if _, err := strconv.ParseUint(cl[0], 10, 63); err != nil {
		return nil, ""
	}
	h := make(http.Header, len(stored)+2)
	s.copyStored(h, obj)
	delete(h, "Age")
	delete(h, "Cache-Status")
	fields, ok := h2.AppendFields(make([]string, 0, 2*len(h)+2), h)
	if !ok {
		return nil, ""
	}
	return fields, cl[0]
}

// withoutField returns the name and value pairs of fields but those
// named name (lower-case); nil for nil.
func withoutField(fields []string, name string) []string {
	if fields == nil {
		return nil
	}
	out := make([]string, 0, len(fields))
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] != name {
			out = append(out, fields[i], fields[i+1])
		}
	}
	return out
}
