package edge

import (
	"context"
	"crypto/tls"
	"net/http"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// newH3Server builds the HTTP/3 server of the QUIC sockets. tlsConf is the
// TCP listeners' configuration; http3 serves a clone with ALPN h3, so the
// certificates (and their reloads) are shared.
//
// HTTP/3 requests carry r.TLS like HTTPS over TCP, so they get the same
// cache keys, X-Forwarded-Proto and HSTS as HTTP/2 over TLS.
func (s *Server) newH3Server(tlsConf *tls.Config) *http3.Server {
	t := &s.cfg.TLS
	h := &h3Front{front: front{s: s, h1: s.lm.h3, h2: s.lm.h3}, allow0RTT: t.HTTP3.Allow0RTT}
	srv := &http3.Server{
		Handler:   h,
		TLSConfig: tlsConf,
		QUICConfig: &quic.Config{
			MaxIncomingStreams:   int64(t.HTTP3.MaxStreams),
			MaxIdleTimeout:       t.HTTP3.IdleTimeout.D(),
			HandshakeIdleTimeout: t.HandshakeTimeout.D(),
			Allow0RTT:            t.HTTP3.Allow0RTT,
		},
		MaxHeaderBytes: int(s.cfg.Server.MaxHeaderBytes),
		IdleTimeout:    t.HTTP3.IdleTimeout.D(),
		Logger:         s.log,
	}
	if t.HTTP3.Allow0RTT {
		srv.ConnContext = func(ctx context.Context, c *quic.Conn) context.Context {
			return context.WithValue(ctx, quicConnKey{}, c)
		}
	}
	return srv
}

// quicConnKey is the context key of a request's *quic.Conn (set only when
// 0-RTT is allowed).
type quicConnKey struct{}

// h3Front is the front of the QUIC sockets. With 0-RTT allowed, it
// answers 425 Too Early (RFC 8470) to unsafe requests that arrive before
// the handshake is complete, since early data can be replayed; the client
// retries them once it is.
type h3Front struct {
	front
	allow0RTT bool
}

func (f *h3Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.allow0RTT && !isSafeMethod(r.Method) {
		if c, ok := r.Context().Value(quicConnKey{}).(*quic.Conn); ok {
			select {
			case <-c.HandshakeComplete():
			default:
				f.h2.Inc()
				w.WriteHeader(http.StatusTooEarly)
				return
			}
		}
	}
	f.front.ServeHTTP(w, r)
}

// isSafeMethod reports whether a request with this method changes nothing
// at the origin (RFC 9110 §9.2.1), so that a replay is harmless.
func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
