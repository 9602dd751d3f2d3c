//go:build linux

package edge

import (
	"net"
	"runtime/debug"
	"syscall"

	"golang.org/x/sys/unix"
)

// turn is what becomes of a connection after an event loop served it.
type turn int

const (
	turnWait  turn = iota // it waits in the set: for a request, or for room to write
	turnAway              // it goes to its goroutine (see pollTurn)
	turnClose             // the client went away: close it
	turnOn                // (pollFlush) everything is written: go on
)

// pollTurn serves c, ready, on an event loop: it writes what waited for
// room, then reads, answers the plain hits read and writes their answers,
// all without blocking, until the socket has nothing more. Anything
// else is its goroutine's: a partial head, a head that is not a plain
// hit's (a miss, which missed marks, is handed off at once), a client
// asking to close, or shutdown.
func (c *fastConn) pollTurn(hup bool) turn {
	if c.f.closing.Load() {
		return turnAway
	}
	read := false
	for {
		if t := c.pollFlush(); t != turnOn {
			return t
		}
		partial := false
		for c.r < c.w {
			head, vals, res, _ := parseH1Head(c.rbuf[c.r:c.w], 0, c.hdr, c.vals)
			c.vals = vals
			if res == parseMore && c.r > 0 && c.w == len(c.rbuf) {
				partial = true // the buffer ended mid-head: read the rest
				break
			}
			if res != parseOK || head.close || c.f.closing.Load() {
				return turnAway
			}
			if !c.answer(&head) {
				c.missed = true
				return turnAway
			}
			c.r += head.n
			c.answered, c.lastHead, c.streak = true, head.n, 0
			if c.stay > 0 {
				// Large bodies go faster from connection goroutines,
				// measured: 100 KiB hits at 256 connections did about 13 %
				// more per second (bench/PROFILE.md).
				return turnAway
			}
			if c.file.p != nil || len(c.wbuf)-c.wmark+len(c.out)*fastCopyMax > fastFlushAt {
				if t := c.pollFlush(); t != turnOn {
					return t // the heads left wait for room with the answers
				}
			}
		}
		if t := c.pollFlush(); t != turnOn {
			return t
		}
		if read && c.w < len(c.rbuf) && !hup {
			// A short read emptied the socket: what comes next is a new
			// event, so no read is spent to learn it is not there yet.
			return turnWait
		}
		if partial {
			c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
			c.r = 0
		} else {
			c.r, c.w = 0, 0
			if len(c.rbuf) > fastReadBuf || c.lastHead > fastReadBuf {
				c.release()
			}
		}
		n, err := rawRead(c.fd, c.rbuf[c.w:])
		switch {
		case err == unix.EAGAIN:
			if c.w > 0 {
				return turnAway // a head begun: its goroutine has the header timeout
			}
			return turnWait
		case err == unix.EINTR:
			continue
		case n <= 0 || err != nil:
			return turnClose
		}
		c.w += n
		read = true
	}
}

// pollFlush writes what is queued without blocking: turnOn when it is
// all written, turnWait when the socket took only part of it (the rest
// stays queued, and EPOLLOUT brings the connection back), turnClose when
// the write failed.
func (c *fastConn) pollFlush() turn {
	if c.file.p != nil {
		// out and the file first, as in flush: what was queued after
		// them goes after the file's last byte.
		if t := c.sendOn(c.fd); t != turnOn {
			return t
		}
	}
	if c.wmark < len(c.wbuf) {
		c.out = append(c.out, c.wbuf[c.wmark:])
		c.wmark = len(c.wbuf)
	}
	if t := c.sendOn(c.fd); t != turnOn {
		return t
	}
	c.sent()
	c.outDue = 0
	return turnOn
}

// consume drops the first n bytes written from c.out, and the
// references to the slices done with.
func (c *fastConn) consume(n int) {
	done := 0
	for done < len(c.out) && n >= len(c.out[done]) {
		n -= len(c.out[done])
		done++
	}
	if done < len(c.out) {
		c.out[done] = c.out[done][n:]
	}
	rest := copy(c.out, c.out[done:])
	clear(c.out[rest:])
	c.out = c.out[:rest]
}

// maxIOV is the most slices one writev takes (Linux's UIO_MAXIOV).
const maxIOV = 1024

// pollFD returns nc's file descriptor if it is a plain TCP connection an
// event loop may serve, else -1. The set has a duplicate of it
// (poller.enter).
func pollFD(nc net.Conn) int {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return -1
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if rc.Control(func(d uintptr) { fd = int(d) }) != nil {
		return -1
	}
	return fd
}

// pollConn is what a fast connection keeps for the event loops.
type pollConn struct {
	fd   int       // -1 when the loops may not serve it
	slot *pollSlot // its place in the set, while it has one
	iov  []unix.Iovec
	// raw is rawOf's, the net.Conn c had when sendQueued, which waits
	// with it for room in the socket, took it; sendStep is c.step, made
	// once, and stepped step's result.
	raw      syscall.RawConn
	rawOf    net.Conn
	sendStep func(uintptr) bool
	stepped  turn
	// outDue is when answers waiting for room are cut off (Unix ns):
	// set when they first wait, 0 when none wait, -1 never.
	outDue int64
}

// safeTurn is pollTurn with a panic costing the connection, not the
// process, as in fastConn.run.
func (c *fastConn) safeTurn(hup bool) (t turn) {
	defer func() {
		if p := recover(); p != nil {
			c.f.s.log.Error("fast path panic; connection closed", "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
			t = turnClose
		}
	}()
	return c.pollTurn(hup)
}
