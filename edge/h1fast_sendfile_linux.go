//go:build linux

package edge

import (
	"errors"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Bodies the memory tier keeps in memory files (cache.Pages) go to plain
// TCP clients with sendfile(2): the kernel hands the file's pages to the
// socket, with no copy of the body per hit. The head before a body goes
// with MSG_MORE, so that the two leave in full segments as one write's.

// canSendfile reports whether nc takes bodies with sendfile: a plain TCP
// connection.
func canSendfile(nc net.Conn) bool {
	_, ok := nc.(*net.TCPConn)
	return ok
}

// sendOn writes out, then the file part queued after it, on fd, which
// must be non-blocking: turnOn when all is written, turnWait when the
// socket is full (what is left stays queued), turnClose when a write
// failed.
func (c *fastConn) sendOn(fd int) turn {
	for len(c.out) > 0 {
		var n int
		var err error
		switch {
		case c.file.p != nil:
			n, err = c.writevFlags(fd, unix.MSG_MORE)
		case len(c.out) == 1:
			n, err = rawWrite(fd, c.out[0])
		default:
			n, err = c.writevFlags(fd, 0)
		}
		switch {
		case err == unix.EAGAIN:
			return turnWait
		case err == unix.EINTR:
			continue
		case err != nil:
			return turnClose
		}
		c.consume(n)
	}
	for f := &c.file; f.p != nil; {
		if f.off == f.end {
			*f = fileBody{}
			break
		}
		n, err := rawSendfile(fd, f.p.FD(), &f.off, f.end-f.off)
		switch {
		case err == unix.EAGAIN:
			return turnWait
		case err == unix.EINTR:
			continue
		case err != nil || n == 0: // n == 0: the file ended early, which a sealed one cannot
			return turnClose
		}
	}
	return turnOn
}

// errSendFailed is what sendQueued returns when the socket refused a write.
var errSendFailed = errors.New("edge: write to the client failed")

// sendQueued writes out and the file part after it on c's goroutine,
// waiting for room in the socket under the write deadline.
func (c *fastConn) sendQueued() error {
	if c.raw == nil || c.rawOf != c.nc { // attach gives c a new net.Conn
		sc, ok := c.nc.(syscall.Conn)
		if !ok {
			return errSendFailed
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return err
		}
		c.raw, c.rawOf, c.sendStep = raw, c.nc, c.step
	}
	c.stepped = turnClose
	if err := c.raw.Write(c.sendStep); err != nil {
		return err
	}
	if c.stepped != turnOn {
		return errSendFailed
	}
	return nil
}

// step is one round of sendQueued's: false asks the runtime to wait
// until the socket has room.
func (c *fastConn) step(fd uintptr) bool {
	c.stepped = c.sendOn(int(fd))
	return c.stepped != turnWait
}

// writevFlags is writev with flags: sendmsg(2) of out, at most maxIOV
// slices of it, without the runtime's system-call bookkeeping.
func (c *fastConn) writevFlags(fd, flags int) (int, error) {
	iov := c.iov[:0]
	for _, b := range c.out {
		if len(b) == 0 {
			continue
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
		if len(iov) == maxIOV {
			break
		}
	}
	c.iov = iov
	if len(iov) == 0 {
		return 0, nil
	}
	for _, v := range iov {
		raceRead(unsafe.Pointer(v.Base), int(v.Len))
	}
	var msg unix.Msghdr
	msg.Iov = &iov[0]
	msg.SetIovlen(len(iov))
	n, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	clear(iov) // the bodies are not held past the write
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// rawSendfile is sendfile(2) of up to n bytes of in from *off, which it
// advances, to out, without the runtime's system-call bookkeeping; out
// must be non-blocking.
func rawSendfile(out, in int, off *int64, n int64) (int, error) {
	w, _, errno := unix.RawSyscall6(unix.SYS_SENDFILE, uintptr(out), uintptr(in), uintptr(unsafe.Pointer(off)), uintptr(min(n, 1<<30)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(w), nil
}
