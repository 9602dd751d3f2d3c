package edge

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/popcache/popcache/conf"
)

// Listeners are a node's open client sockets, before anything is served
// on them. [Listen] opens them; [Server.ServeListeners] serves them and
// closes them when it returns.
type Listeners struct {
	// Plain are the server.listen sockets: HTTP/1.1 and h2c.
	Plain []net.Listener
	// TLS are the tls.listen TCP sockets, raw: the PROXY header (if
	// enabled) and the TLS handshake are done when serving.
	TLS []net.Listener
	// QUIC are the UDP sockets for HTTP/3, QUIC[i] on the address of
	// TLS[i]; empty when HTTP/3 is disabled.
	QUIC []net.PacketConn
}

// udpRetries is how often Listen tries again when tls.listen asks for any
// free port (port 0) and the TCP port it got is taken on UDP.
const udpRetries = 8

// Listen opens the configured client sockets: every server.listen and
// tls.listen address on TCP, and tls.listen on UDP too for HTTP/3 (the
// UDP socket takes the TCP socket's actual port when the configured port
// is 0). On error nothing stays open.
func Listen(cfg *conf.Config) (*Listeners, error) {
	l := &Listeners{}
	for _, addr := range cfg.Server.Listen {
		ln, err := listenTCP(addr)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("edge: listen on %s: %w", addr, err)
		}
		l.Plain = append(l.Plain, ln)
	}
	h3 := !cfg.TLS.HTTP3.Disabled
	for _, addr := range cfg.TLS.Listen {
		ln, pc, err := listenTLSPair(addr, h3)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.TLS = append(l.TLS, ln)
		if pc != nil {
			l.QUIC = append(l.QUIC, pc)
		}
	}
	return l, nil
}

// listenTLSPair opens addr on TCP and, with h3, on UDP at the same port.
func listenTLSPair(addr string, h3 bool) (net.Listener, net.PacketConn, error) {
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 0; ; attempt++ {
		ln, err := listenTCP(addr)
		if err != nil {
			return nil, nil, fmt.Errorf("edge: listen on %s: %w", addr, err)
		}
		if !h3 {
			return ln, nil, nil
		}
		udpAddr := addr
		if port == "0" {
			host, _, _ := net.SplitHostPort(addr)
			udpAddr = net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		}
		pc, err := net.ListenPacket("udp", udpAddr)
		if err == nil {
			return ln, pc, nil
		}
		ln.Close()
		if port != "0" || attempt >= udpRetries || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("edge: listen on %s (UDP, for HTTP/3): %w", udpAddr, err)
		}
	}
}

// Close closes every socket; it is safe on a partly filled Listeners.
func (l *Listeners) Close() error {
	var errs []error
	for _, ln := range l.Plain {
		errs = append(errs, ignoreClosed(ln.Close()))
	}
	for _, ln := range l.TLS {
		errs = append(errs, ignoreClosed(ln.Close()))
	}
	for _, pc := range l.QUIC {
		errs = append(errs, ignoreClosed(pc.Close()))
	}
	return errors.Join(errs...)
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
