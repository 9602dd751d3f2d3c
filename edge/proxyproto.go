package edge

import (
	"errors"
	"net"

	"github.com/pires/go-proxyproto"
)

// readProxyHeader reads the PROXY protocol header (v1 or v2) that must
// open c and returns a conn whose RemoteAddr is the client address it
// carries (the peer's own for a LOCAL header, as load balancers send in
// health checks). The caller bounds the read with c's deadline.
//
// A connection without a header is refused: on a PROXY listener every
// connection must come through the load balancer, and guessing whether a
// header is there is what the specification forbids.
func readProxyHeader(c net.Conn) (net.Conn, error) {
	pc := proxyproto.NewConn(c,
		proxyproto.WithPolicy(proxyproto.REQUIRE),
		// No timeout of its own: c's deadline, set by the caller, bounds
		// the header and the TLS handshake together.
		proxyproto.SetReadHeaderTimeout(0),
	)
	// A zero-length read makes the conn parse the header now, in the
	// preparing goroutine, and report a failure, without consuming any of
	// the bytes that follow it.
	if _, err := pc.Read(nil); err != nil {
		return nil, err
	}
	return pc, nil
}

// proxyErrorReason names a PROXY header failure for metrics.
func proxyErrorReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return "missing"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "invalid"
}
