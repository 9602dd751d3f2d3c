package edge

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"runtime"
	"strconv"
)

// Taking connections back from net/http.
//
// A connection handed off at a miss would stay with net/http for good,
// and a browser's connection almost always meets a miss sooner or
// later. So after net/http answers a request on a handed-off
// connection, the plain listeners' handler (resumer) takes the connection
// back with Hijack when the exchange left it clean: an HTTP/1.1 GET or
// HEAD without a body, not asking to close, answered with a complete,
// length-delimited response that does not close. The bytes net/http had
// read past the request go back into the fast path's buffer.

// fastServerKey is the context key of a handed-off connection the fast
// path may take back (set by withFastServer).
type fastServerKey struct{}

// withFastServer is the ConnContext of a net/http server the fast path
// hands connections to: it marks the requests of a handed-off connection
// with it.
func withFastServer(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*handedConn); ok {
		return context.WithValue(ctx, fastServerKey{}, hc)
	}
	return ctx
}

// resumer is the handler of a net/http server the fast path hands
// connections to: it gives the requests of a handed-off TLS connection
// their TLS state (net/http sees a plain connection), runs next, then
// gives the connection back to the fast path if it is clean, unless it
// has been handed off maxHandoffStreak times in a row.
type resumer struct{ next http.Handler }

func (h resumer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hc, _ := r.Context().Value(fastServerKey{}).(*handedConn)
	if hc != nil && hc.tls != nil && r.TLS == nil {
		r.TLS = hc.tls
	}
	if hc == nil || hc.streak >= maxHandoffStreak || r.ProtoMajor != 1 {
		h.next.ServeHTTP(w, r)
		return
	}
	cw := &countingWriter{ResponseWriter: w}
	h.next.ServeHTTP(cw, r)
	if !cw.cleanEnd(r) || hc.f.closing.Load() {
		return
	}
	// Hijack writes out the header and what net/http buffered past its
	// 2 KiB response buffer, not that buffer: flush it first.
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	// The answer is out; taking the connection back is housekeeping.
	// When a coalesced miss completes, hundreds of waiters wake at once:
	// yielding here lets the others write their answers before this one
	// hijacks and re-registers its connection (bench/PROFILE.md, "The
	// cold burst's fan-out").
	runtime.Gosched()
	nc, rw, err := rc.Hijack()
	if err != nil {
		return
	}
	hc.f.resume(nc, rw.Reader, hc.streak)
}

// resume serves nc on the fast path again, starting with the bytes br
// had read and what remained of the handoff's replay; streak is the
// handoffs in a row so far.
func (f *fastServer) resume(nc net.Conn, br *bufio.Reader, streak int) {
	buffered, _ := br.Peek(br.Buffered())
	unread := append([]byte(nil), buffered...)
	if hc, ok := nc.(*handedConn); ok {
		unread = append(unread, hc.prefix...)
		nc = hc.Conn
	}
	c := newFastConn(f, nc)
	c.answered, c.streak = true, streak
	if len(unread) > len(c.rbuf) {
		c.rbuf = make([]byte, len(unread))
	}
	c.w = copy(c.rbuf, unread)
	if !f.track(c) {
		nc.Close()
		return
	}
	f.s.lm.fastResumes.Inc()
	go c.serve(true)
}

// countingWriter notes what a handler wrote, so that resumer can tell a
// complete response from one cut short or framed by the close.
type countingWriter struct {
	http.ResponseWriter
	code int // the final status; 0 until written
	n    int64
	err  error
}

func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Unwrap lets http.ResponseController reach net/http's writer.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// cleanEnd reports whether the exchange of r left the connection ready
// for the next request, as the fast path reads it: an HTTP/1.1 GET or
// HEAD without a body nor Connection: close, answered in full with a
// body its Content-Length delimits (or no body), without Connection or
// Transfer-Encoding.
func (w *countingWriter) cleanEnd(r *http.Request) bool {
	if w.code == 0 || w.err != nil || r.Close || !r.ProtoAtLeast(1, 1) ||
		(r.Method != http.MethodGet && r.Method != http.MethodHead) || r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return false
	}
	h := w.Header()
	if len(h["Connection"]) > 0 || len(h["Transfer-Encoding"]) > 0 {
		return false
	}
	if r.Method == http.MethodHead || !bodyAllowed(w.code) {
		return true
	}
	cl := h["Content-Length"]
	if len(cl) != 1 {
		return false
	}
	n, err := strconv.ParseInt(cl[0], 10, 64)
	return err == nil && n == w.n
}
