//go:build linux

package edge

import "runtime/debug"

// answerAtAccept answers a new plain connection's first request on the
// accepting goroutine, without a goroutine of its own, when that request
// is there already (TCP_DEFER_ACCEPT), is all that was read, asks to
// close the connection, and is a plain hit: a client that opens a
// connection per request then costs no goroutine, no deadline and no
// scheduling. It reports whether the connection is done with (answered
// and closed, or left to a goroutine finishing a write the socket could
// not take at once); false leaves it to fastConn.serve, with whatever
// was read in rbuf, and missed set when the head was no plain hit.
func (c *fastConn) answerAtAccept() (done bool) {
	if c.fd < 0 || c.f.closing.Load() {
		return false
	}
	defer func() {
		// As in fastConn.run: a panic costs the connection, not the
		// process.
		if p := recover(); p != nil {
			c.f.s.log.Error("fast path panic; connection closed", "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
			c.nc.Close()
			c.f.poll.release(c)
			c.f.forget(c)
			done = true
		}
	}()
	if !c.readNow() {
		return false
	}
	head, vals, res, _ := parseH1Head(c.rbuf[:c.w], 0, c.hdr, c.vals)
	c.vals = vals
	if res != parseOK || !head.close || head.n != c.w {
		return false
	}
	if !c.answer(&head) {
		c.missed = true
		return false
	}
	c.f.s.lm.fastAtAccept.Inc()
	if c.pollFlush() == turnWait {
		go c.closeAfterFlush()
		return true
	}
	c.nc.Close()
	c.f.poll.release(c)
	c.f.forget(c)
	return true
}

// closeAfterFlush writes what answerAtAccept's socket could not take at
// once, under the write timeout, then closes the connection.
func (c *fastConn) closeAfterFlush() {
	c.flush()
	c.nc.Close()
	c.f.poll.release(c)
	c.f.forget(c)
}
