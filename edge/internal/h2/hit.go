// Copyright 2026 The popcache authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package h2

// popcache: answering a request from the connection's serve goroutine.
//
// A stream normally gets a handler goroutine, which hands its HEADERS and
// DATA to the serve goroutine over channels and waits for each. A cache
// hit needs none of that: [Server.Hit] answers it from memory, and
// serveHit queues the frames at once, on the serve goroutine, with the
// same flow control and stream bookkeeping a handler's frames get.

import (
	"net/http"
	"runtime/debug"
	"slices"

	"github.com/popcache/popcache/edge/internal/h2/httpcommon"
	"golang.org/x/net/http/httpguts"
)

// Hit is the answer [Server.Hit] gives to a request.
type Hit struct {
	// Status is the response status code.
	Status int
	// Fields are the response's header fields as name and value pairs,
	// made by [AppendFields]; Extra are more of them (those that change
	// from hit to hit, a listener's or a route's own, such as alt-svc),
	// in the same form. All are only read.
	Fields []string
	Extra  [4][]string
	// ContentLength is the content-length field value; "" for none.
	ContentLength string
	// Body is the body, written after the header unless it is empty. It
	// is only read, and must stay unmodified until written.
	Body []byte
	// Hold, if not nil, is kept reachable for as long as any frame of
	// the response is queued or being written: the owner of memory Body
	// is in that the collector does not see (a mapped file).
	Hold any
}

// AppendFields appends the fields of h, but Content-Length, to
// dst as name and value pairs in the form a handler's response header
// takes on the wire: sorted, names lowered, and the fields HTTP/2 would
// leave out left out (invalid names or values, Transfer-Encoding other
// than trailers). It reports false when h has a field that changes how a
// handler's response is written (Connection, Trailer): such a response
// must go through a handler.
func AppendFields(dst []string, h http.Header) ([]string, bool) {
	keys := make([]string, 0, len(h))
	for k := range h {
		switch k {
		case "Connection", "Trailer":
			return dst, false
		case "Content-Length":
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lk, ascii := httpcommon.LowerHeader(k)
		if !ascii || !validWireHeaderFieldName(lk) {
			continue
		}
		for _, v := range h[k] {
			if !httpguts.ValidHeaderFieldValue(v) || (lk == "transfer-encoding" && v != "trailers") {
				continue
			}
			dst = append(dst, lk, v)
		}
	}
	return dst, true
}

// serveHit asks [Server.Hit] for an answer to req, the request of stream
// st with no body, and if it gives one queues it and releases rw: the
// stream then ends as a handler's would, when its last frame is written.
func (sc *serverConn) serveHit(st *stream, rw *responseWriter, req *http.Request) bool {
	sc.serveG.check()
	h := &sc.hit
	defer func() { *h = Hit{} }() // keep no body alive on an idle connection
	if !sc.askHit(req, h) {
		return false
	}
	rws := rw.rws
	rw.rws = nil
	responseWriterStatePool.Put(rws)
	// processHeaders would also clear the connection's read deadline,
	// for ReadTimeout bounds a request, not a connection; but net/http
	// clears it before handing the connection over (Go 1.26: after the
	// TLS handshake, and for h2c in maybeServeUnencryptedHTTP2).

	endStream := req.Method == http.MethodHead || len(h.Body) == 0
	hw := &writeResHeaders{
		streamID:      st.id,
		httpResCode:   h.Status,
		fields:        [5][]string{h.Fields, h.Extra[0], h.Extra[1], h.Extra[2], h.Extra[3]},
		endStream:     endStream,
		contentLength: h.ContentLength,
	}
	hw.bound = headerBlockBound(hw)
	st.hold = h.Hold // popcache: every frame of st holds st
	sc.writeFrame(FrameWriteRequest{write: hw, stream: st})
	if !endStream {
		sc.writeFrame(FrameWriteRequest{write: &writeData{streamID: st.id, p: h.Body, endStream: true}, stream: st})
	}
	return true
}

// askHit asks [Server.Hit] for an answer to req in h. A panic there is
// logged and taken for no answer, so that the handler serves req (and
// recovers from a panic of its own for this stream alone) instead of the
// connection dying with every stream on it.
func (sc *serverConn) askHit(req *http.Request, h *Hit) (ok bool) {
	defer func() {
		if e := recover(); e != nil {
			*h = Hit{}
			ok = false
			sc.logf("http2: panic answering a hit for %v: %v\n%s", sc.conn.RemoteAddr(), e, debug.Stack())
		}
	}()
	return sc.srv.Hit(req, h)
}

// headerBlockBound is an upper bound on the bytes of w's HEADERS frame:
// the frame header, two dynamic table size updates, and each field as a
// literal with a new name (RFC 7541 §6.2), Huffman coding being used
// only where it is shorter. It is 0 when the block might need
// CONTINUATION frames.
func headerBlockBound(w *writeResHeaders) int {
	const perField = 1 + 3 + 3 // representation byte, and two lengths of up to 3 bytes each (< 2^14 + 127)
	n := frameHeaderLen + 2*6 + perField + len(":status") + 3
	for _, fs := range w.fields {
		for _, f := range fs {
			n += len(f)
		}
		n += len(fs) / 2 * perField
	}
	n += perField + len("content-length") + len(w.contentLength)
	if n-frameHeaderLen > minMaxFrameSize || len(w.contentLength) > 100 {
		return 0
	}
	for _, fs := range w.fields {
		for _, f := range fs {
			if len(f) > 1<<14 {
				return 0
			}
		}
	}
	return n
}
