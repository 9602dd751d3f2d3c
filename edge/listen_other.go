//go:build !linux

package edge

import "net"

// listenTCP opens a client socket on addr (TCP_DEFER_ACCEPT is Linux's;
// see listen_linux.go).
func listenTCP(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
