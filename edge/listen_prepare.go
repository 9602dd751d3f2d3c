package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// prepListener wraps a TCP listener whose connections need work before
// HTTP can be spoken on them: a PROXY protocol header to read, a TLS
// handshake, or both. That work runs in a goroutine per connection, never
// in Accept, so that one slow client cannot hold up the others, and it is
// bounded by a timeout. Accept returns only connections that are ready;
// failures are counted and closed here.
//
// A ready TLS connection is a *tls.Conn with its handshake done, so
// net/http sees the negotiated ALPN protocol and serves HTTP/2 on it.
type prepListener struct {
	inner   net.Listener
	proxy   bool        // read a PROXY header first
	tlsConf *tls.Config // nil: no TLS
	timeout time.Duration
	m       *listenMetrics

	ready chan net.Conn
	errc  chan error // Accept errors of inner, passed on to the caller
	ctx   context.Context
	stop  context.CancelFunc // cancels ctx: closes conns being prepared

	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // the accept loop and the preparing goroutines
}

func newPrepListener(inner net.Listener, proxy bool, tlsConf *tls.Config, timeout time.Duration, m *listenMetrics) *prepListener {
	ctx, stop := context.WithCancel(context.Background())
	l := &prepListener{
		inner: inner, proxy: proxy, tlsConf: tlsConf, timeout: timeout, m: m,
		ready: make(chan net.Conn), errc: make(chan error), ctx: ctx, stop: stop,
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next ready connection.
func (l *prepListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops accepting, closes the connections still being prepared and
// waits for their goroutines. Connections already returned by Accept are
// not touched.
func (l *prepListener) Close() error {
	l.closeOnce.Do(func() {
		l.stop()
		l.closeErr = l.inner.Close()
	})
	l.wg.Wait()
	return l.closeErr
}

// Addr returns the inner listener's address.
func (l *prepListener) Addr() net.Addr { return l.inner.Addr() }

func (l *prepListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				l.stop()
				return
			}
			// Temporary errors (EMFILE, ...) go to the caller, whose
			// backoff applies before its next Accept lets us go on.
			select {
			case l.errc <- err:
				continue
			case <-l.ctx.Done():
				return
			}
		}
		l.wg.Add(1)
		go l.prepare(c)
	}
}

// prepare readies one connection and hands it to Accept.
func (l *prepListener) prepare(raw net.Conn) {
	defer l.wg.Done()
	// Closing the listener aborts the reads below by closing raw.
	unhook := context.AfterFunc(l.ctx, func() { raw.Close() })
	c, err := l.prepareConn(raw)
	if !unhook() || err != nil {
		raw.Close()
		return
	}
	select {
	case l.ready <- c:
	case <-l.ctx.Done():
		c.Close()
	}
}

// prepareConn reads the PROXY header and does the TLS handshake, as
// configured, within the timeout.
func (l *prepListener) prepareConn(raw net.Conn) (net.Conn, error) {
	if err := raw.SetDeadline(time.Now().Add(l.timeout)); err != nil {
		return nil, err
	}
	c := raw
	if l.proxy {
		pc, err := readProxyHeader(raw)
		if err != nil {
			l.m.proxyErrors.WithLabelValues(proxyErrorReason(err)).Inc()
			return nil, err
		}
		c = pc
	}
	if l.tlsConf != nil {
		tc := tls.Server(c, l.tlsConf)
		if err := tc.Handshake(); err != nil {
			if l.ctx.Err() == nil {
				l.m.handshakeErrors.WithLabelValues(handshakeErrorReason(err)).Inc()
			}
			return nil, err
		}
		c = tc
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return c, nil
}

// handshakeErrorReason names a TLS handshake failure for metrics.
func handshakeErrorReason(err error) string {
	var rhe tls.RecordHeaderError
	var oe *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &rhe):
		return "not_tls"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed):
		return "client_closed"
	case errors.As(err, &oe) && oe.Op == "remote error":
		return "client_alert"
	}
	return "protocol"
}
