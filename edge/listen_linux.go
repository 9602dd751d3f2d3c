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
func listenTCP(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, deferAcceptSeconds)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}
