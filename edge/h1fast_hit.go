package edge

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/popcache/popcache/cache"
)

// plainHit returns the object that answers rq as a plain fresh hit from
// memory, or nil when rq needs more of the pipeline than that; it writes
// nothing. It runs the phases of [Server.ServeHTTP] that a hit goes
// through, and gives up wherever ServeHTTP would do anything else: a URI
// over the limit, a loop, no route, an HTTPS redirect, a route that does
// not cache, anything but a fresh hit in the memory tier (misses, stale
// objects, hit-for-miss, objects a purge rule covers, bodies on disk or
// still arriving), a status without a body, or a stored response without
// Content-Type (net/http would sniff one). A Range is left to its caller
// (see [Server.fastHit]). (Request Cache-Control and Pragma change
// nothing for a fresh object: see serveStored.) Its callers serve nil
// through ServeHTTP, which runs every phase again: so an answer from here
// is always the one ServeHTTP would give.
func (s *Server) plainHit(rq *Request, now time.Time) *cache.Object {
	r := rq.In
	h := r.Header
	if len(r.RequestURI) > s.maxURI || !validTarget(r) || s.checkLoop(r) != nil {
		return nil
	}
	rt := s.table.Match(r.Host, r.URL.Path)
	if rt == nil || !rt.Policy.Enabled {
		return nil
	}
	if rh := s.https[rt.Name]; rh != nil && rh.redirect && r.TLS == nil {
		return nil // a redirect; over TLS the caller adds HSTS itself (see h2Hit)
	}
	rq.Route = rt
	rq.Key = s.key(rq)
	// Looked up without counting: a request handed on is looked up again.
	obj := s.store.PeekMemory(rq.Key, h, now)
	if obj == nil || !obj.Meta.IsFresh(now) || !bodyAllowed(obj.Meta.Status) ||
		len(obj.Meta.Header["Content-Type"]) == 0 || s.store.PurgeApplies(obj, r, rt.Key) {
		return nil
	}
	return obj
}

// fastHit is plainHit for the fast paths: for a hit it marks rq one and
// returns the object, its heads, and the status to answer, as
// [Server.writeObject] decides it: the stored one, 304 when the client's
// conditional matches (RFC 9110 §13.2.2), or 206 with the part of the
// body a Range asks for; else obj is nil, as for a Range no byte of the
// body satisfies (416), or one on an object with a stored Content-Range
// (see appendH1Head): both left to ServeHTTP.
func (s *Server) fastHit(rq *Request, now time.Time) (obj *cache.Object, heads *cache.Heads, code int, p part) {
	obj = s.plainHit(rq, now)
	if obj == nil {
		return nil, nil, 0, p
	}
	code = obj.Meta.Status
	if h := rq.In.Header; code == http.StatusOK {
		if hasConditional(h) && cache.NotModified(h, &obj.Meta, now) {
			code = http.StatusNotModified
		} else if rq.In.Method == http.MethodGet && len(h["Range"]) > 0 {
			if code, p.off, p.n = rangeOf(h, obj); code == http.StatusRequestedRangeNotSatisfiable {
				return nil, nil, 0, p
			}
		}
	}
	heads = s.hitHeads(obj)
	if code == http.StatusPartialContent && heads.H1.RangeAt == 0 {
		return nil, nil, 0, p
	}
	rq.status.hit = true
	rq.status.setTTL(ttl(&obj.Meta, now))
	rq.Result = "hit"
	return obj, heads, code, p
}

// part is the part of a body a 206 answers with: n bytes from off.
type part struct{ off, n int64 }

// hitHeads returns the heads of plain hits on obj, which is in memory,
// made on its first such hit and kept for its life: only Age and
// Cache-Status change from one hit to the next, and each hit writes
// those itself (see [Server.appendHitHead] and [Server.hitMemo]).
func (s *Server) hitHeads(obj *cache.Object) *cache.Heads {
	if hd := obj.Heads.Load(); hd != nil {
		return hd
	}
	hd := &cache.Heads{
		H1:            exactHead(appendH1Head(make([]byte, 0, 1024), obj, obj.Meta.Status, s.strip)),
		H1NotModified: exactHead(appendH1Head(make([]byte, 0, 1024), obj, http.StatusNotModified, s.strip)),
		StatusPrefix:  appendStatusPrefix(nil, obj.Meta.Header["Cache-Status"]),
	}
	hd.H2, hd.H2Length = s.h2Fields(obj)
	hd.H2NotModified = withoutField(hd.H2, "content-type")
	obj.Heads.Store(hd)
	return hd
}

// exactHead returns h with its head copied to a slice of its own size:
// heads live as long as their object.
func exactHead(h cache.H1Head) cache.H1Head {
	h.Head = bytes.Clone(h.Head)
	return h
}

// appendHitHead appends the whole HTTP/1.1 head hd of a plain hit but
// its empty line, with the Age and Cache-Status lines of rq at age (in
// seconds) where they go: what net/http would write for rq.
func (s *Server) appendHitHead(dst []byte, hd *cache.H1Head, prefix []byte, rq *Request, age int64) []byte {
	dst = append(dst, hd.Head[:hd.AgeAt]...)
	dst = append(dst, "Age: "...)
	dst = strconv.AppendInt(dst, age, 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, hd.Head[hd.AgeAt:hd.StatusAt]...)
	dst = append(dst, "Cache-Status: "...)
	dst = append(dst, prefix...)
	dst = rq.status.appendTo(dst, s.cfg.Server.Name)
	dst = append(dst, "\r\n"...)
	return append(dst, hd.Head[hd.StatusAt:]...)
}

// appendPartialHead appends the head of the 206 that answers a Range for
// part p of obj, made from hd, the head of its 200 (hd.RangeAt > 0): its
// status line, then hd's fields with Age, Cache-Status, Content-Length
// and Content-Range where they sort, as net/http writes what
// [applyRange] sets.
func (s *Server) appendPartialHead(dst []byte, hd *cache.H1Head, prefix []byte, rq *Request, age int64, p part, size int64) []byte {
	dst = append(dst, "HTTP/1.1 206 Partial Content\r\n"...)
	line := bytes.IndexByte(hd.Head, '\n') + 1
	fields := cache.H1Head{Head: hd.Head[line:hd.LengthAt], AgeAt: hd.AgeAt - line, StatusAt: hd.StatusAt - line}
	dst = s.appendHitHead(dst, &fields, prefix, rq, age)
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, p.n, 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, hd.Head[hd.LengthEnd:hd.RangeAt]...)
	dst = append(dst, "Content-Range: "...)
	dst = appendContentRange(dst, p.off, p.n, size)
	dst = append(dst, "\r\n"...)
	return append(dst, hd.Head[hd.RangeAt:]...)
}

// appendStatusPrefix appends the upstream Cache-Status entries, each
// followed by ", ", as they start a Cache-Status line net/http writes:
// leading spaces trimmed, line breaks made spaces (see appendFieldValue).
func appendStatusPrefix(dst []byte, upstream []string) []byte {
	p := appendCacheStatusPrefix(nil, upstream)
	i := 0
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
		i++
	}
	for _, c := range p[i:] {
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// bodyAllowed reports whether a response with status code may have a
// body (RFC 9110 §6.4.1).
func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// appendH1Head appends the HTTP/1.1 response head of a plain hit on obj,
// which is in memory, answered with status code (the stored status, or a
// 304), and returns it with where its Age and Cache-Status lines go (see
// [cache.H1Head]): the status line, the stored fields with Content-Length
// set to the body's length, but those in strip, in the order and form
// net/http writes them (sorted, line breaks in values made spaces,
// values trimmed, invalid names skipped; a 304 without Content-Type and
// Content-Length), and for a 200 where a 206's fields go.
func appendH1Head(dst []byte, obj *cache.Object, code int, strip []string) cache.H1Head {
	m := &obj.Meta
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if text := http.StatusText(code); text != "" {
		dst = append(dst, text...)
	} else {
		dst = append(dst, "status code "...)
		dst = strconv.AppendInt(dst, int64(code), 10)
	}
	dst = append(dst, "\r\n"...)

	keys := make([]string, 0, len(m.Header)+4)
	for k := range m.Header {
		if !framingField(k) && !slices.Contains(strip, k) && httpguts.ValidHeaderFieldName(k) &&
			(code != http.StatusNotModified || k != "Content-Type") {
			keys = append(keys, k)
		}
	}
	keys = append(keys, "Age", "Cache-Status")
	if code != http.StatusNotModified {
		keys = append(keys, "Content-Length")
	}
	// Where a 206's Content-Range would go (see cache.H1Head), unless a
	// stored one is there.
	partial := code == http.StatusOK && len(m.Header["Content-Range"]) == 0
	if partial {
		keys = append(keys, "Content-Range")
	}
	slices.Sort(keys)
	var h cache.H1Head
	contentLength := []string{strconv.FormatInt(obj.Size(), 10)}
	for _, k := range keys {
		vs := m.Header[k]
		switch k {
		case "Age":
			h.AgeAt = len(dst)
			continue
		case "Cache-Status":
			h.StatusAt = len(dst)
			continue
		case "Content-Length":
			vs = contentLength
			h.LengthAt = len(dst)
		case "Content-Range":
			if partial {
				h.RangeAt = len(dst)
				continue
			}
		}
		for _, v := range vs {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = appendFieldValue(dst, v)
			dst = append(dst, "\r\n"...)
		}
		if k == "Content-Length" {
			h.LengthEnd = len(dst)
		}
	}
	h.Head = dst
	return h
}

// framingField reports whether k is a field the fast path writes itself
// or that must never come from a stored header: the hop-by-hop fields,
// Content-Length, Age and Cache-Status.
func framingField(k string) bool {
	switch k {
	case "Content-Length", "Age", "Cache-Status":
		return true
	}
	return slices.Contains(hopHeaders[:], k)
}

// appendFieldValue appends v trimmed of spaces and tabs, its CR and LF
// made spaces, as net/http writes a field value.
func appendFieldValue(dst []byte, v string) []byte {
	i, j := 0, len(v)
	for i < j && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
		i++
	}
	for j > i && (v[j-1] == ' ' || v[j-1] == '\t' || v[j-1] == '\r' || v[j-1] == '\n') {
		j--
	}
	for k := i; k < j; k++ {
		c := v[k]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
