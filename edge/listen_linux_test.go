package edge

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestListenDefersAccept checks that client sockets are opened with
// TCP_DEFER_ACCEPT, that a connection sending at once is served as
// before (accepted with its bytes there), and that it has no TCP
// keep-alive probes.
func TestListenDefersAccept(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			ln, err := listenTCP(addr)
			if err != nil {
				t.Skipf("no %s here: %v", addr, err)
			}
			defer ln.Close()
			rc, err := ln.(*net.TCPListener).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var v int
			var gerr error
			if err := rc.Control(func(fd uintptr) {
				v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
			}); err != nil || gerr != nil {
				t.Fatal(err, gerr)
			}
			if v <= 0 {
				t.Fatalf("TCP_DEFER_ACCEPT = %d, want it on", v)
			}
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("GET")); err != nil {
				t.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			buf := make([]byte, 3)
			if n, err := s.Read(buf); err != nil || string(buf[:n]) != "GET" {
				t.Fatalf("read %q, %v", buf[:n], err)
			}
			src, err := s.(*net.TCPConn).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Control(func(fd uintptr) {
				v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
			}); err != nil || gerr != nil {
				t.Fatal(err, gerr)
			}
			if v != 0 {
				t.Errorf("SO_KEEPALIVE = %d on an accepted connection, want off", v)
			}
		})
	}
}
