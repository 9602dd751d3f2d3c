package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/popcache/popcache/cache"
)

// fetch makes one upstream GET for rq — a fill, or a revalidation of stale
// — and stores what may be stored. A small body (announced, at most one
// disk chunk) is read whole first: one that fails half-way is an error. A
// larger or unannounced one is streamed: the Object returned serves it as
// it arrives, to every client of the key, while the store writes it (a
// failure then cuts the readers short and stores nothing). One larger
// than any tier takes, or uncacheable, is handed back as a Private stream.
func (s *Server) fetch(ctx context.Context, rq *Request, stale *cache.Object, kind string) (*cache.Fill, error) {
	out := s.outbound(ctx, rq, true)
	if stale != nil {
		cache.AddValidators(out.Header, &stale.Meta)
	}
	if h := s.hooks.UpstreamRequest; h != nil {
		if err := h(rq, out); err != nil {
			return nil, err
		}
	}
	reqTime := s.now()
	resp, err := s.upstream(rq).RoundTrip(out, rq.Key)
	respTime := s.now()
	s.m.upstream.WithLabelValues(rq.Route.Name, kind).Observe(respTime.Sub(reqTime).Seconds())
	if err != nil {
		s.m.fills.WithLabelValues("error").Inc()
		return nil, &upstreamError{err: err}
	}
	if resp.StatusCode < 200 { // an unsolicited 101: see pass
		resp.Body.Close()
		s.m.fills.WithLabelValues("error").Inc()
		return nil, &upstreamError{err: fmt.Errorf("unexpected %d response", resp.StatusCode)}
	}
	removeHopHeaders(resp.Header)
	removeUpstreamOnly(resp.Header)
	if h := s.hooks.UpstreamResponse; h != nil {
		if err := h(rq, resp); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	pol := &rq.Route.Policy
	if stale != nil && resp.StatusCode == http.StatusNotModified {
		resp.Body.Close()
		meta, verdict, ok := cache.Freshen(&stale.Meta, resp.Header, reqTime, respTime, pol)
		if !ok {
			// The 304 is for another representation: fetch it whole.
			return s.fetch(ctx, rq, nil, kind)
		}
		s.prepare(&meta, stale.Size())
		obj := stale.WithMeta(meta)
		f := &cache.Fill{Object: obj, UpstreamStatus: http.StatusNotModified, Detail: verdict.Reason}
		if verdict.Storable {
			f.Stored = s.store.Put(rq.Key, obj, respTime)
		} else {
			// The 304 withdrew permission to store: serve it, drop the copy.
			s.store.Invalidate(rq.Key)
		}
		s.m.fills.WithLabelValues("refreshed").Inc()
		return f, nil
	}

	meta, verdict := cache.Evaluate(http.MethodGet, rq.In.Header, resp.StatusCode, resp.Header, reqTime, respTime, pol)
	limit := int64(s.cfg.Cache.MaxObjectBytes)
	detail := verdict.Reason
	if verdict.Storable && resp.ContentLength > s.store.MaxObjectBytes() {
		verdict.Storable, detail = false, "too-large"
	}
	if !verdict.Storable && resp.StatusCode < 500 {
		// Uncacheable: the response goes to the client that asked, alone,
		// and — when the response itself says so, not just this request —
		// the URL is remembered so later requests do not queue.
		if !requestSide(verdict.Reason) {
			s.store.MarkPass(rq.Key, respTime)
		}
		s.m.fills.WithLabelValues("not_stored").Inc()
		return s.private(resp, detail), nil
	}
	if verdict.Storable && (resp.ContentLength < 0 || resp.ContentLength > min(limit, s.store.ChunkBytes())) {
		return s.stream(rq, resp, meta, detail, respTime), nil
	}
	body, err := readBody(resp, limit)
	if err != nil {
		resp.Body.Close()
		s.m.fills.WithLabelValues("error").Inc()
		return nil, &upstreamError{err: fmt.Errorf("reading body: %w", err)}
	}
	if int64(len(body)) > limit {
		// Longer than announced (or unannounced): stream the rest.
		s.store.MarkPass(rq.Key, respTime)
		s.m.fills.WithLabelValues("not_stored").Inc()
		p := s.private(resp, "too-large")
		p.Private.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return p, nil
	}
	resp.Body.Close()
	if verdict.Storable {
		meta.BodySize = int64(len(body))
	} else {
		// A server error without freshness: shared with the waiters of this
		// fill (each would get one like it) but not stored. Evaluate left
		// its times zero: without them its Age would be decades.
		meta.Header = resp.Header
		meta.Status = resp.StatusCode
		meta.RequestTime, meta.ResponseTime = reqTime, respTime
	}
	s.prepare(&meta, int64(len(body)))
	obj := &cache.Object{Meta: meta, Body: body}
	f := &cache.Fill{Object: obj, UpstreamStatus: resp.StatusCode, Detail: detail}
	if verdict.Storable {
		f.Stored = s.store.Put(rq.Key, obj, respTime)
		if !f.Stored {
			f.Detail = "admission"
		}
		s.m.fills.WithLabelValues("stored").Inc()
	} else {
		s.m.fills.WithLabelValues("not_stored").Inc()
	}
	return f, nil
}

// stream stores a cacheable response while its body arrives and returns
// the Object that serves it meanwhile.
func (s *Server) stream(rq *Request, resp *http.Response, meta cache.Meta, detail string, respTime time.Time) *cache.Fill {
	meta.BodySize = resp.ContentLength
	s.prepare(&meta, resp.ContentLength)
	obj, stored := s.store.Stream(rq.Key, meta, resp.Body, respTime)
	f := &cache.Fill{Object: obj, Stored: stored, UpstreamStatus: resp.StatusCode, Detail: detail}
	if stored {
		s.m.fills.WithLabelValues("stored").Inc()
	} else {
		f.Detail = "too-large"
		s.m.fills.WithLabelValues("not_stored").Inc()
	}
	return f
}

// requestSide reports whether a refusal to store came from the request
// (its no-store, Authorization or Cookie), which says nothing about what other
// requests for the URL will get.
func requestSide(reason string) bool {
	return reason == cache.ReasonRequestNoStore || reason == cache.ReasonAuthorization || reason == cache.ReasonCookie
}

// private wraps an unshareable response.
func (s *Server) private(resp *http.Response, detail string) *cache.Fill {
	return &cache.Fill{
		Private:        &cache.PrivateResponse{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body},
		UpstreamStatus: resp.StatusCode,
		Detail:         detail,
	}
}

// prepare makes a stored header ready to replay on every hit: our Via
// entry, an exact Content-Length (none while size is unknown, -1: the
// store adds it once the body is complete), and slices clipped so that a
// hook's append never writes into memory shared between hits. The header
// is copied compact, as it will be kept: a map sized for its fields and
// one array for all values (the fields added here had grown the map to
// a kilobyte for a 1 KiB body).
func (s *Server) prepare(m *cache.Meta, size int64) {
	h := m.Header
	if h == nil {
		h = make(http.Header)
		m.Header = h
	}
	delete(h, "Age")
	if via := h["Via"]; len(via) == 0 || !endsWithEntry(via[len(via)-1], s.via) {
		h["Via"] = appendVia(via, s.via)
	}
	if size < 0 {
		delete(h, "Content-Length")
	} else if m.Status != http.StatusNoContent && m.Status != http.StatusNotModified && m.Status >= 200 {
		h["Content-Length"] = []string{strconv.FormatInt(size, 10)}
	}
	m.Header = h.Clone() // its value slices are clipped
}

// endsWithEntry reports whether a Via line ends with entry.
func endsWithEntry(line, entry string) bool {
	return len(line) >= len(entry) && line[len(line)-len(entry):] == entry
}

// readBody reads a response body, up to limit+1 bytes so that the caller
// can tell an over-long body. A body of announced length within the limit
// is read into a slice of exactly its size, as it will be kept.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	size := resp.ContentLength
	if size >= 0 && size <= limit {
		// The transport ends the body at Content-Length: nothing follows.
		b := make([]byte, size)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // none of it came
			}
			return nil, err
		}
		// Read to the end: over HTTP/2 the stream may end in a later frame,
		// and closing the body before would reset it (and a byte past the
		// announced length is an error there). HTTP/1.1 has EOF at once.
		var one [1]byte
		switch n, err := resp.Body.Read(one[:]); {
		case n > 0:
			return nil, errors.New("edge: body longer than its Content-Length")
		case err != io.EOF && err != nil:
			return nil, err
		case err == nil:
			if _, err := io.ReadFull(resp.Body, one[:]); err != io.EOF {
				if err == nil {
					err = errors.New("edge: body longer than its Content-Length")
				}
				return nil, err
			}
		}
		return b, nil
	}
	buf := bytes.NewBuffer(make([]byte, 0, 32<<10+1))
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if resp.ContentLength >= 0 && int64(buf.Len()) < resp.ContentLength {
		return nil, io.ErrUnexpectedEOF
	}
	return buf.Bytes(), nil
}

// readCloser joins a reader with the closer of the body it reads.
type readCloser struct {
	io.Reader
	io.Closer
}
