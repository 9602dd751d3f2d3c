//go:build linux

package edge

import (
	"errors"
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

// detach duplicates fd, a connection's, for the loops; -1 if it cannot.
func detach(fd int) int {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return dup
}

// errNoPeer is attach's error for a socket the client has reset: its
// peer's address is gone with it.
var errNoPeer = errors.New("edge: connection reset by the client")

// attach makes c, owned and out of the set, a net.Conn again from f,
// which holds the descriptor the loops had, and closes f; on an error f
// is left open.
func (c *fastConn) attach(f *os.File) error {
	nc, err := net.FileConn(f) // a duplicate, in the runtime's poller
	if err != nil {
		return err
	}
	if nc.RemoteAddr() == nil {
		nc.Close()
		return errNoPeer
	}
	f.Close()
	// Under f.mu: shutdown reads the net.Conns of the connections it
	// tracks.
	c.f.mu.Lock()
	c.nc = nc
	c.f.mu.Unlock()
	c.fd = pollFD(nc)
	// The new net.Conn has no deadlines; the next ones set must be.
	c.readDue, c.writeDue = time.Time{}, time.Time{}
	return nil
}

// away sends c, owned and just taken out of the set, to its goroutine. Making it a
// net.Conn takes one more descriptor for a moment: at the process's
// limit, it waits for one (attachLater) rather than lose the request or
// the answers it leaves with.
func (p *poller) away(c *fastConn) {
	f := os.NewFile(uintptr(c.fd), "")
	c.fd = -1
	err := c.attach(f)
	switch {
	case err == nil:
		go c.serve(true)
	case isFDLimit(err):
		go p.attachLater(c, f)
	default:
		p.drop(c, f, err)
	}
}

// attachLater retries attach while the process is out of descriptors,
// backing off to 100 ms, for at most a second and not past shutdown;
// then it closes c.
func (p *poller) attachLater(c *fastConn, f *os.File) {
	var err error
	delay := time.Millisecond
	for end := time.Now().Add(time.Second); time.Now().Before(end); delay = min(2*delay, 100*time.Millisecond) {
		time.Sleep(delay)
		if p.f.closing.Load() {
			break
		}
		if err = c.attach(f); err == nil {
			c.serve(true)
			return
		}
		if !isFDLimit(err) {
			break
		}
	}
	p.drop(c, f, err)
}

// drop closes c, which could not be made a net.Conn again for err (nil
// at shutdown), and f, which holds its descriptor.
func (p *poller) drop(c *fastConn, f *os.File, err error) {
	if err != nil && err != errNoPeer {
		p.warn.Do(func() {
			p.f.s.log.Warn("connection closed: it could not leave the event loops", "remote", c.remote, "err", err)
		})
	}
	f.Close()
	p.close(c)
}

// isFDLimit reports whether err is the process's or the system's
// descriptor limit.
func isFDLimit(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
}

// closeDetached closes c's descriptor, once the loops' own.
func (c *fastConn) closeDetached() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}
