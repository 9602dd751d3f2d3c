package edge

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
)

// handoffListener is how the HTTP/1.1 fast path passes connections to
// net/http: Accept returns the connections given to it, each replaying
// the bytes the fast path read but did not answer. It never touches a
// socket of its own.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the next connection handed off, or net.ErrClosed once
// the listener is closed.
func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and give fail from now on.
func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the address of the fast path's listener.
func (l *handoffListener) Addr() net.Addr { return l.addr }

// give hands c to whoever Accepts; false if the listener is closed, and
// c is then the caller's to close.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

// handedConn is a connection handed to net/http: its first reads return
// prefix, the bytes the fast path had read and not answered; f is the
// fast server it came from, which takes it back after a response that
// leaves it clean (h1fast_resume.go), unless this is the maxHandoffStreak-th
// handoff in a row without a request the fast path answered.
type handedConn struct {
	net.Conn
	prefix []byte
	f      *fastServer
	streak int // handoffs in a row, this one included
	// tls is the state of a TLS connection, for the requests net/http
	// reads from it: to net/http it is a plain one (resumer sets r.TLS).
	tls *tls.ConnectionState
	// track checks the requests net/http reads, prefix included (see
	// h1fast_track.go); never nil.
	track       *streamTracker
	badLineSent bool // badRequestLine was given in place of a refused head
}

// maxHandoffStreak is how many handoffs in a row, with no request the fast
// path could answer in between, leave a connection with net/http for good:
// a client sending only misses or passes would otherwise pay a handoff and
// a hijack per request.
const maxHandoffStreak = 3

func (c *handedConn) Read(p []byte) (n int, err error) {
	if c.track.bad != nil {
		return c.refusedRead(p)
	}
	fromPrefix := len(c.prefix) > 0
	if fromPrefix {
		n = copy(p, c.prefix)
	} else {
		n, err = c.Conn.Read(p)
	}
	ok := n
	if n > 0 {
		ok, _ = c.track.feed(p[:n]) // a refusal stays in c.track.bad
	}
	// What was refused is kept, never passed on: if the fast path takes
	// the connection back after the requests before it, its own gate
	// answers it (h1fast_resume.go); if not, net/http's next read gets
	// the refusal, and net/http answers 400 and closes.
	if fromPrefix {
		c.prefix = c.prefix[ok:]
		if len(c.prefix) == 0 {
			c.prefix = nil // let go of the fast path's read buffer
		}
	} else if ok < n {
		c.prefix = append([]byte(nil), p[ok:n]...)
	}
	if c.track.bad == nil {
		return n, err
	}
	if ok > 0 {
		return ok, nil
	}
	return c.refusedRead(p)
}

// badRequestLine is what net/http is given in place of a head the tracker
// refused: a request line it cannot parse, so that it answers its own 400
// in order, after the answers before it, and closes. An error instead
// would end its serve loop at the Peek before the next request, closing
// without an answer.
const badRequestLine = "BAD\r\n\r\n"

// refusedRead is a read once the tracker refused what came: the refusal,
// except to net/http's one-byte background read during a request, which
// gets nothing, so that the request before the refused one is answered.
// The next read, for the next request (or more of this one's body), gets
// the refusal.
func (c *handedConn) refusedRead(p []byte) (int, error) {
	if len(p) == 1 {
		return 0, nil
	}
	if errors.Is(c.track.bad, errBadFraming) && !c.badLineSent && len(p) >= len(badRequestLine) {
		c.badLineSent = true
		return copy(p, badRequestLine), nil
	}
	return 0, c.track.bad
}

// CloseWrite half-closes a TCP connection; net/http does it before
// closing after an error response, so that the client reads the response
// before a reset.
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
