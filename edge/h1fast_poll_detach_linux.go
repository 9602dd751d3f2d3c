//go:build linux

package edge

import (
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// A connection in the set is out of the Go runtime's network poller.
//
// The runtime registers every net.Conn's descriptor in its own epoll
// set, edge triggered, for as long as the net.Conn is open. Left there,
// each request to a connection in the loops' set would also wake the
// runtime's poller, which finds no goroutine waiting and drops the
// event: a second thread woken per request, on cores the loops share
// with everything else. Measured on the loops' prototype (bench/
// PROFILE.md), taking the descriptors out did about a tenth more
// requests per second.
//
// So a connection entering the set trades its net.Conn for a duplicate
// of its descriptor (detach): closing the net.Conn takes the original
// out of the runtime's set, and the duplicate keeps the socket open.
// Leaving for its goroutine, it is made a net.Conn again (attach).

// detach duplicates c's descriptor for the loops; -1 if it cannot.
func detach(fd int) int {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return dup
}

// attach makes c, owned and out of the set, a net.Conn again for its
// goroutine, and closes the descriptor the loops had; false if the
// net.Conn cannot be made (c is then closed).
func (c *fastConn) attach() bool {
	f := os.NewFile(uintptr(c.fd), "")
	nc, err := net.FileConn(f) // a duplicate, in the runtime's poller
	f.Close()
	if err != nil {
		c.fd = -1
		return false
	}
	// Under f.mu: shutdown reads the net.Conns of the connections it
	// tracks.
	c.f.mu.Lock()
	c.nc = nc
	c.f.mu.Unlock()
	c.fd = pollFD(nc)
	// The new net.Conn has no deadlines; the next ones set must be.
	c.readDue, c.writeDue = time.Time{}, time.Time{}
	return true
}

// closeDetached closes c's descriptor, once the loops' own.
func (c *fastConn) closeDetached() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}
