//go:build !linux

package edge

import (
	"context"
	"net"
)

// listenTCP opens a client socket on addr whose connections get no TCP
// keep-alive probes (TCP_DEFER_ACCEPT is Linux's; see listen_linux.go).
func listenTCP(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), "tcp", addr)
}

// reusePortSibling is nil: SO_REUSEPORT's spreading is Linux's.
func reusePortSibling(net.Listener) net.Listener { return nil }
