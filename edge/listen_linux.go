package edge

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// deferAcceptSeconds is how long the kernel holds a connection that has
// sent nothing before it is accepted anyway (TCP_DEFER_ACCEPT rounds it
// to SYN-ACK retransmissions: one, here). After that, the header timeout
// applies as to any connection.
const deferAcceptSeconds = 1

// listenTCP opens a client socket on addr with TCP_DEFER_ACCEPT, as
// nginx's "deferred" and HAProxy's "defer-accept" do: a connection is
// accepted once its first bytes (a request head, a TLS ClientHello, a
// PROXY header) have arrived, so its first read finds them instead of
// waiting in the runtime's poller. With short connections that is a
// wake-up and a goroutine switch fewer per connection.
//
// Accepted connections get no TCP keep-alive probes (net.Listen sets
// them up with four setsockopt calls per connection), as nginx and
// HAProxy default to: the idle, header and write timeouts end a
// connection whose client went away.
//
// The socket has SO_REUSEPORT, as HAProxy's and Envoy's have by default,
// so that the fast path can open siblings beside it (reusePortSibling).
// A fixed port is first bound without it: a port another process listens
// on is refused ("address already in use") rather than shared.
func listenTCP(addr string) (net.Listener, error) {
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "0" {
		probe, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		probe.Close()
	}
	return listenReusePort(addr)
}

// listenReusePort is listenTCP without the check that addr is free.
func listenReusePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, deferAcceptSeconds)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// reusePortSibling opens another socket on ln's address when ln was made
// with SO_REUSEPORT (listenTCP), for another accepting goroutine: the
// kernel spreads new connections over the sockets, and their acceptors
// share no lock. nil when ln is not such a listener.
func reusePortSibling(ln net.Listener) net.Listener {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return nil
	}
	on := 0
	if rc.Control(func(fd uintptr) { on, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT) }) != nil || on == 0 {
		return nil
	}
	sib, err := listenReusePort(tl.Addr().String())
	if err != nil {
		return nil
	}
	return sib
}
