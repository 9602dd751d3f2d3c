package edge

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The HTTP/1.1 fast path.
//
// net/http spends more on a request than the cache does on a hit: a
// background read and its goroutine wake-up per request, the request and
// header maps built anew, the response header sorted and written field by
// field, and the head and body written in separate system calls. Measured
// on a 2-core machine, a bare net/http handler answering a constant 1 KiB
// body was slower than Traffic Server answering from its cache.
//
// So each listener, plain or TLS, is served by fastServer first (on TLS,
// the connections whose ALPN chose HTTP/1.1 or nothing). Its connection
// loop reads requests into one buffer, parses the narrow, common form of
// request a hit is (parseH1Head), runs the hit phases of the pipeline
// (Server.plainHit), and writes the hit's memoised head (or a 206 made
// from it, for a Range) and its body in one system call, pipelined
// responses batched. The first request that
// is anything else (a miss, a POST, an h2c preface, a malformed or
// oversized head, HTTP/1.0) hands the connection to net/http, replaying
// the bytes read and not answered: net/http answers it with every check
// and every limit it has, so the fast path adds no parsing that could
// disagree with net/http about a request it answers itself. Once net/http
// has answered cleanly, the fast path takes the connection back
// (h1fast_resume.go).

// fastServer serves one listener, plain or TLS: hits in its own
// connection loop, everything else through hs, to which it hands
// connections over. On a TLS listener it serves the connections whose
// ALPN chose HTTP/1.1 (or nothing); those that chose h2 go to hs at once.
type fastServer struct {
	s   *Server
	ln  net.Listener
	off *handoffListener // what hs Accepts from
	// fr is hs's handler, whose request counter and Alt-Svc the hits
	// answered here share.
	fr *front
	// hits is false when hooks want every request (Server.fastPathOK):
	// the heads are then only checked for their framing and handed to
	// net/http.
	hits bool

	headerTimeout, idleTimeout, writeTimeout time.Duration
	maxHead                                  int

	// poll is the event loops' set of a plain listener's connections
	// waiting for a request (h1fast_poll_linux.go); nil without.
	poll *poller

	closing atomic.Bool
	mu      sync.Mutex
	conns   map[*fastConn]struct{}
	// siblings are the SO_REUSEPORT sockets serve opened beside ln.
	siblings []net.Listener
	wg       sync.WaitGroup // connection loops

	bufs sync.Pool // of *connBuf: connections' buffers (h1fast_bufs.go)
}

// newFastServer serves ln's hits; fr is the handler of the net/http
// server it hands everything else to.
func newFastServer(s *Server, ln net.Listener, fr *front) *fastServer {
	sc := s.cfg.Server
	f := &fastServer{
		s:             s,
		ln:            ln,
		off:           newHandoffListener(ln.Addr()),
		fr:            fr,
		hits:          s.fastPathOK(),
		headerTimeout: sc.ReadHeaderTimeout.D(),
		idleTimeout:   sc.IdleTimeout.D(),
		writeTimeout:  sc.WriteTimeout.D(),
		maxHead:       int(sc.MaxHeaderBytes),
		conns:         make(map[*fastConn]struct{}),
	}
	f.bufs.New = func() any { return new(connBuf) }
	if f.headerTimeout == 0 {
		f.headerTimeout = sc.ReadTimeout.D()
	}
	if f.idleTimeout == 0 { // as net/http: no idle timeout means the read timeout
		f.idleTimeout = sc.ReadTimeout.D()
	}
	return f
}

// fastPathOK reports whether s may answer hits outside ServeHTTP: not
// when a hook wants to see or change requests and responses.
func (s *Server) fastPathOK() bool {
	h := &s.hooks
	return !s.noFastPath && h.RequestFilter == nil && h.ResponseFilter == nil && h.Logging == nil
}

// serve accepts connections until the listener fails or is closed; it
// returns nil when shutdown closed it.
//
// A plain listener served by the event loops gets SO_REUSEPORT siblings
// (reusePortSibling), for one accepting goroutine per P when serving
// starts. Each answers the connections that close after one plain hit
// itself (answerAtAccept), so one goroutine alone would serve every new
// connection in turn, on one core; two goroutines on one socket take
// turns on its lock. Connection-per-request hits on two Ps: one acceptor
// did 46.9k-48.9k req/s with a p99 of 4.5-5.0 ms, two on one socket
// 40.4k-43.4k, two on sibling sockets 48.7k-49.8k with a p99 of 3.6-4.2
// ms (bench/PROFILE.md, "Connections that close after one request").
func (f *fastServer) serve() error {
	lns := []net.Listener{f.ln}
	if f.poll != nil {
		f.mu.Lock()
		for len(lns) < runtime.GOMAXPROCS(0) && !f.closing.Load() {
			sib := reusePortSibling(f.ln)
			if sib == nil {
				break
			}
			f.siblings = append(f.siblings, sib)
			lns = append(lns, sib)
		}
		f.mu.Unlock()
	}
	errs := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errs <- f.accept(ln) }()
	}
	// The first to stop says why: nil after shutdown, which closes every
	// socket, so the others follow; an error ends serving, and the
	// shutdown that follows stops them.
	if err := <-errs; err != nil {
		return err
	}
	for range lns[1:] {
		<-errs
	}
	return nil
}

// accept is one of serve's accepting goroutines.
func (f *fastServer) accept(ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if f.closing.Load() {
				return nil
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				// EMFILE and the like: wait, as net/http does, rather than spin.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				f.s.log.Warn("accept failed; retrying", "addr", ln.Addr(), "err", err, "wait", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if tc, ok := nc.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
			if !f.off.give(nc) {
				nc.Close()
			}
			continue
		}
		c := newFastConn(f, nc)
		if !f.track(c) {
			nc.Close()
			return nil
		}
		if c.answerAtAccept() {
			continue
		}
		go c.serve(false) // into the event loops' set once idle (fastConn.read)
	}
}

// track adds c to the connections shutdown stops and waits for, unless
// shutdown began.
func (f *fastServer) track(c *fastConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing.Load() {
		return false
	}
	f.conns[c] = struct{}{}
	f.wg.Add(1)
	return true
}

// forget is track undone, when c's loop ends; c's buffers go back to
// the pool.
func (f *fastServer) forget(c *fastConn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.recycle()
	f.wg.Done()
}

// shutdown stops accepting, stops each connection once its current
// request is answered (idle ones at once), and waits for them until ctx
// is done, then closes those left. Connections already handed off are
// net/http's to drain.
func (f *fastServer) shutdown(ctx context.Context) {
	f.mu.Lock()
	f.closing.Store(true)
	for c := range f.conns {
		// Wakes a loop waiting for a request; one answering a request
		// sees closing before it reads again (fastConn.read).
		_ = c.nc.SetReadDeadline(time.Now())
	}
	sibs := f.siblings // serve adds none once closing is set
	f.mu.Unlock()
	f.ln.Close()
	for _, sib := range sibs {
		sib.Close()
	}
	if f.poll != nil {
		// The loops never block on a client: they stop at once, and
		// leave no connection to the force close below but goroutines'.
		f.poll.shutdown()
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		f.mu.Lock()
		for c := range f.conns {
			c.nc.Close()
		}
		f.mu.Unlock()
		<-done
	}
	// f.off is closed by the net/http server's Shutdown, after this: a
	// loop handing off its connection meanwhile still finds it served.
}

// handoff passes nc to net/http with the bytes read but not answered;
// streak counts the handoffs in a row, this one included; state is nc's
// TLS state, nil for plain connections.
func (f *fastServer) handoff(nc net.Conn, unread []byte, streak int, state *tls.ConnectionState, track *streamTracker) {
	f.s.lm.fastHandoffs.Inc()
	_ = nc.SetDeadline(time.Time{})
	if !f.off.give(&handedConn{Conn: nc, prefix: unread, f: f, streak: streak, tls: state, track: track}) {
		nc.Close()
	}
}
