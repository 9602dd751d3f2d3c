package edge

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestListenRefusesATakenPort checks that a fixed port another socket
// listens on is refused, although listenTCP's sockets have SO_REUSEPORT:
// whether that socket has it too (another popcache) or not.
func TestListenRefusesATakenPort(t *testing.T) {
	tests := []struct {
		name string
		hold func(addr string) (net.Listener, error)
	}{
		{"held by a plain listener", func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }},
		{"held by listenTCP", listenTCP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, err := tt.hold("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			ln, err := listenTCP(held.Addr().String())
			if err == nil {
				ln.Close()
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatalf("listenTCP on a port held: %v, want EADDRINUSE", err)
			}
		})
	}
}

// TestFastPathReusePortSiblings checks that a plain listener from
// listenTCP is served on one SO_REUSEPORT socket per P, that connections
// the kernel spreads over them are all answered, and that shutdown
// closes every one of them.
func TestFastPathReusePortSiblings(t *testing.T) {
	ln, err := listenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	clk := newClock()
	o := httptest.NewServer(fastOrigin(clk, &counter{}))
	t.Cleanup(o.Close)
	n, stop := launchOn(t, ln, catchAllConfig(t, o, ""), o, clk, nil)
	n.get("/plain", "Host", "a.test")

	want := runtime.GOMAXPROCS(0)
	for deadline := time.Now().Add(5 * time.Second); listeningSockets(t, port) != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sockets listen on port %d, want %d (one per P)", listeningSockets(t, port), port, want)
		}
	}
	for i := range 64 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /plain HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 200 ") || !strings.HasSuffix(string(b), "body of /plain") {
			t.Fatalf("connection %d: %q, %v", i, b, err)
		}
	}
	stop()
	if got := listeningSockets(t, port); got != 0 {
		t.Fatalf("%d sockets still listen on port %d after shutdown", got, port)
	}
}

// listeningSockets counts the IPv4 TCP sockets listening on port, from
// /proc/net/tcp.
func listeningSockets(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	suffix := fmt.Sprintf(":%04X", port)
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], suffix) && f[3] == "0A" { // TCP_LISTEN
			n++
		}
	}
	return n
}
