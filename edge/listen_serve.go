package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"

	"github.com/quic-go/quic-go/http3"
)

// ServeListeners serves the sockets of l until ctx is done or one of them
// fails, then drains: it stops accepting, lets requests in flight finish
// within the shutdown timeout, and waits for background revalidations. It
// closes every socket of l before it returns.
//
//   - Plain: HTTP/1.1 and h2c; with server.proxy_protocol, each connection
//     must open with a PROXY header. Hits over HTTP/1.1 are answered by the
//     fast path (h1fast.go), everything else by net/http. The fast path
//     also checks the framing of the heads it hands over
//     (h1fast_framing.go), even when hooks turn its hits off.
//   - TLS: the PROXY header (tls.proxy_protocol) and the TLS handshake,
//     then HTTP/1.1 (hits by the fast path too) or HTTP/2 as ALPN chose;
//     responses advertise HTTP/3 with Alt-Svc when QUIC[i] serves it.
//   - QUIC: HTTP/3.
//
// While TLS is served, changed certificate files are reloaded every
// tls.reload_interval.
func (s *Server) ServeListeners(ctx context.Context, l *Listeners) error {
	defer l.Close()
	if len(l.TLS)+len(l.QUIC) > 0 && s.tlsConf == nil {
		return errors.New("edge: serve: TLS listeners given but tls.listen is not configured")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timeout := s.cfg.TLS.HandshakeTimeout.D()

	var servers []*http.Server
	var fast []*fastServer
	var wg sync.WaitGroup
	errc := make(chan error, 2*(len(l.Plain)+len(l.TLS))+len(l.QUIC)) // net/http and a fast path per TCP listener
	serve := func(hs *http.Server, ln net.Listener) {
		wg.Go(func() { errc <- hs.Serve(ln) })
	}

	if len(l.Plain) > 0 {
		hs := s.HTTPServer()
		fr, _ := hs.Handler.(*front)
		servers = append(servers, hs)
		// Handed-off connections come back (h1fast_resume.go).
		hs.ConnContext = withFastServer
		hs.Handler = resumer{next: hs.Handler}
		for _, ln := range l.Plain {
			if s.cfg.Server.ProxyProtocol {
				ln = newPrepListener(ln, true, nil, s.cfg.Server.ReadHeaderTimeout.D(), s.lm)
			}
			f := newFastServer(s, ln, fr) // hits here, the rest handed to hs
			if n := s.cfg.Server.EventLoops; f.hits && n >= 0 && !s.cfg.Server.ProxyProtocol {
				f.poll = newPoller(f, n)
			}
			fast = append(fast, f)
			serve(hs, f.off)
			wg.Go(func() { errc <- f.serve() })
		}
	}

	var tlsProtocols http.Protocols
	tlsProtocols.SetHTTP1(true)
	tlsProtocols.SetHTTP2(true)
	for i, ln := range l.TLS {
		if i == 0 {
			s.tlsPort.Store(int32(ln.Addr().(*net.TCPAddr).Port))
		}
		h3Port := 0
		if i < len(l.QUIC) {
			h3Port = l.QUIC[i].LocalAddr().(*net.UDPAddr).Port
		}
		fr := s.tlsFront(h3Port)
		hs := s.httpServer(fr, &tlsProtocols)
		servers = append(servers, hs)
		pl := newPrepListener(ln, s.cfg.TLS.ProxyProtocol, s.tlsConf, timeout, s.lm)
		// HTTP/1.1 hits answered by the fast path, as on the plain
		// listeners; h2 connections are handed over at once.
		hs.ConnContext = withFastServer
		hs.Handler = resumer{next: hs.Handler}
		f := newFastServer(s, pl, fr)
		fast = append(fast, f)
		serve(hs, f.off)
		wg.Go(func() { errc <- f.serve() })
	}

	var h3 *http3.Server
	if len(l.QUIC) > 0 {
		h3 = s.newH3Server(s.tlsConf)
		for _, pc := range l.QUIC {
			wg.Go(func() { errc <- h3.Serve(pc) })
		}
	}
	if s.certs != nil && s.certs.hasFiles() {
		wg.Go(func() { s.certs.watch(ctx, s.cfg.TLS.ReloadInterval.D()) })
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Server.ShutdownTimeout.D())
	defer scancel()
	var drain sync.WaitGroup
	for _, f := range fast { // before net/http's Shutdown closes their handoff listeners
		drain.Go(func() { f.shutdown(sctx) })
	}
	drain.Wait()
	for _, hs := range servers {
		drain.Go(func() {
			if serr := hs.Shutdown(sctx); serr != nil {
				hs.Close()
			}
		})
	}
	if h3 != nil {
		drain.Go(func() { _ = h3.Shutdown(sctx) })
	}
	drain.Wait()
	// http3 leaves the UDP sockets to their owner; closing them ends its
	// Serve calls if Shutdown did not.
	for _, pc := range l.QUIC {
		pc.Close()
	}
	wg.Wait()
	s.bgMu.Lock()
	s.bgDone = true
	s.bgMu.Unlock()
	s.bg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
