package edge

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/popcache/popcache/cache"
)

const (
	fastReadBuf   = 4 << 10  // a connection's first read buffer; it grows to the head limit
	fastCopyMax   = 16 << 10 // bodies up to this size are copied after their head; larger ones are written from the object
	fastFlushAt   = 64 << 10 // pipelined responses are written once this much is pending
	fastWriteCap  = 64 << 10 // a write buffer grown past this is dropped after use
	fastStayLarge = 8        // requests a connection keeps its goroutine for after a large answer
)

// fastConn is one client connection served by the fast path. Everything
// a request needs is kept here and reused: the read buffer, the request
// and its header map, the write buffer.
type fastConn struct {
	f      *fastServer
	nc     net.Conn
	remote string               // nc.RemoteAddr().String(), once
	tls    *tls.ConnectionState // nc's, once; nil on a plain connection

	rbuf []byte
	r, w int // rbuf[r:w] is read and not yet answered

	wbuf  []byte      // response bytes not yet written
	wmark int         // wbuf[wmark:] is not in out yet
	out   net.Buffers // what the next write sends: wbuf slices and large bodies
	// file is a body in a memory file, written after out: with sendfile
	// (h1fast_sendfile_linux.go) when sendfile is set (a plain TCP
	// connection), else copied out (copyQueued).
	file     fileBody
	sendfile bool

	req  http.Request
	url  url.URL
	hdr  http.Header
	vals []string
	rq   Request

	// The deadlines are moved only when they are due to a fraction of
	// their timeout: setting one costs a timer update per request.
	readDue, writeDue time.Time
	inHead            bool // the read deadline is the current head's
	// headLazy: a new connection's first head, whose deadline is not
	// armed yet (fastConn.read).
	headLazy bool

	answered bool // a request was answered here
	lastHead int  // the length of the last head answered
	streak   int  // handoffs in a row before this resumption (see handedConn)

	pollConn      // for the event loops (h1fast_poll_linux.go)
	missed   bool // an event loop found the head at r no plain hit: hand it off
	// stay counts the requests a connection keeps its goroutine for,
	// out of the event loops, after an answer whose body is written from
	// the object (over fastCopyMax; see pollTurn): fastStayLarge after
	// each, one less per answer. Going in and out of the loops costs two
	// descriptor changes and a goroutine, so a connection mixing large
	// and small answers does not alternate.
	stay int
}

func newFastConn(f *fastServer, nc net.Conn) *fastConn {
	c := &fastConn{
		f:      f,
		nc:     nc,
		remote: nc.RemoteAddr().String(),
		rbuf:   f.buf(),
		wbuf:   f.buf()[:0],
		hdr:    make(http.Header, 8),
	}
	c.fd = -1
	c.sendfile = canSendfile(nc)
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tls = &st
	} else if f.poll != nil {
		c.fd = pollFD(nc)
	}
	return c
}

// serve answers requests until the connection ends, is handed off, or
// waits in the event loops' set; resumed when it had been served before
// (by net/http, h1fast_resume.go, or by an event loop).
func (c *fastConn) serve(resumed bool) {
	if c.run(resumed) {
		return // the event loops' now
	}
	c.f.poll.release(c)
	c.f.forget(c)
}

// run is serve's loop; it reports whether c was parked in the event
// loops' set, and is no longer the caller's to touch.
func (c *fastConn) run(resumed bool) (parked bool) {
	defer func() {
		if p := recover(); p != nil {
			c.f.s.log.Error("fast path panic; connection closed", "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
			c.nc.Close()
			parked = false
		}
	}()
	if c.missed {
		c.missed = false
		c.giveUp()
		return false
	}
	if !resumed {
		// The first request's head is due within the header timeout of
		// the connection's opening, as in net/http; read arms it only
		// if the head is not there already (headLazy).
		c.inHead, c.headLazy = true, true
		if c.f.closing.Load() {
			c.nc.Close()
			return
		}
	}
	scan := 0
	for {
		head, vals, res, next := parseH1Head(c.rbuf[c.r:c.w], scan, c.hdr, c.vals)
		c.vals, scan = vals, next
		if res == parseMore && c.w-c.r <= c.f.maxHead {
			switch c.read() {
			case readParked:
				return true
			case readEnd:
				return
			}
			continue
		}
		if res == parseOK {
			// While shutting down, the answer closes the connection.
			head.close = head.close || c.f.closing.Load()
		} else if res == parseHandoff {
			switch parseFraming(c.rbuf[c.r:c.w]).v {
			case framingMore:
				// Up to net/http's own limit for a head (max_header_bytes
				// plus 4 KiB); past it, its answer, from here: handed over
				// unchecked, its end would reach net/http unchecked.
				if c.w-c.r < c.f.maxHead+fastReadBuf {
					switch c.read() { // never parks with a head begun; but if it did, c is the loops'
					case readParked:
						return true
					case readEnd:
						return
					}
					continue
				}
				c.refuse(tooLargeAnswer(c.rbuf[c.r:c.w]))
				return
			case framingBad:
				c.refuse(badFraming)
				return
			}
		}
		if c.file.p != nil && !c.flush() { // a memory file's body goes before the next answer
			c.nc.Close()
			return
		}
		if res != parseOK || !c.answer(&head) {
			c.giveUp()
			return
		}
		c.r += head.n
		c.inHead, c.headLazy, c.answered, c.lastHead, c.streak, scan = false, false, true, head.n, 0, 0
		if head.close {
			c.flush()
			c.nc.Close()
			return
		}
		if (c.file.p != nil || len(c.wbuf)-c.wmark+len(c.out)*fastCopyMax > fastFlushAt) && !c.flush() {
			c.nc.Close()
			return
		}
	}
}

// giveUp ends the fast path's part: it writes the answers pending and
// hands the connection, with what it read and did not answer, to net/http,
// which serves everything else, oversized heads included (431). Except
// an h2c preface after an answered request: net/http would take it for a
// new connection's and switch to HTTP/2 mid-connection, where alone it
// would have refused it; the connection is closed instead.
func (c *fastConn) giveUp() {
	unread := c.rbuf[c.r:c.w]
	if !c.flush() || (c.answered && bytes.HasPrefix(unread, []byte("PRI "))) {
		c.nc.Close()
		return
	}
	// What net/http reads from here on is checked as the gate checks a
	// first head (h1fast_track.go). A first request whose body is already
	// refused in what was read is answered here; the refusal of a later
	// one waits until net/http, having answered those before it, reads it.
	pre := newStreamTracker(c.f.maxHead + fastReadBuf)
	if _, err := pre.feed(unread); err != nil && pre.refusedFirst() {
		if errors.Is(err, errBadChunk) {
			c.refuse(badChunked)
		} else {
			c.refuse(badFraming)
		}
		return
	}
	c.f.handoff(c.nc, unread, c.streak+1, c.tls, newStreamTracker(c.f.maxHead+fastReadBuf))
	c.rbuf = nil // unread is net/http's now: never back to the pool
}

// What fastConn.read did.
const (
	readOn     = iota // it read more
	readEnd           // the connection ended: closed
	readParked        // the connection waits in the event loops' set
)

// read reads more of a request head. Between requests it first writes
// the responses pending, lets go of what a large last request made the
// connection keep, and gives the connection to the event loops, if it
// may, or waits for the next request at most the idle timeout; a head
// begun must be complete within the header timeout. It closes the
// connection when that ends it.
func (c *fastConn) read() int {
	if c.r == c.w && !c.inHead {
		if !c.flush() {
			c.nc.Close()
			return readEnd
		}
		c.r, c.w = 0, 0
		if len(c.rbuf) > fastReadBuf || c.lastHead > fastReadBuf {
			c.release()
		}
		if c.fd >= 0 && c.stay == 0 && c.f.poll.park(c) {
			return readParked
		}
		c.setIdleDeadline()
		if c.f.closing.Load() { // after the deadline: see fastServer.shutdown
			c.nc.Close()
			return readEnd
		}
	} else if !c.inHead || c.headLazy {
		// A new connection's first head is usually there already
		// (TCP_DEFER_ACCEPT): take it without arming the header timeout,
		// which costs a runtime timer, and arm it only to wait.
		if c.headLazy && c.w == 0 && c.readNow() {
			return readOn // the next read, if the head needs one, arms it
		}
		c.headLazy = false
		c.setHeadDeadline()
		if c.f.closing.Load() { // after the deadline: see fastServer.shutdown
			c.nc.Close()
			return readEnd
		}
	}
	if c.w == len(c.rbuf) {
		if c.r > 0 {
			c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
			c.r = 0
		} else {
			grown := make([]byte, min(2*len(c.rbuf), c.f.maxHead+fastReadBuf))
			c.w = copy(grown, c.rbuf[c.r:c.w])
			c.rbuf = grown
		}
	}
	n, err := c.nc.Read(c.rbuf[c.w:])
	c.w += n
	if n == 0 && err != nil {
		c.nc.Close()
		return readEnd
	}
	return readOn
}

// release drops the grown read buffer and every reference into the last
// head (its fields, the request built from it), so that an idle
// connection holds a few KiB, not the largest head it was sent.
func (c *fastConn) release() {
	if len(c.rbuf) != fastReadBuf {
		c.rbuf = c.f.buf()
	}
	clear(c.hdr)
	clear(c.vals[:cap(c.vals)])
	c.vals = c.vals[:0]
	c.req, c.url, c.rq = http.Request{}, url.URL{}, Request{}
	c.lastHead = 0
}

// setHeadDeadline gives the head being read the header timeout (none
// when neither read_header_timeout nor read_timeout is set).
func (c *fastConn) setHeadDeadline() {
	c.inHead = true
	c.readDue = time.Time{}
	var due time.Time
	if t := c.f.headerTimeout; t > 0 {
		due = time.Now().Add(t)
	}
	_ = c.nc.SetReadDeadline(due)
}

// setIdleDeadline lets the connection wait the idle timeout for a
// request, give or take an eighth of it (at most a second).
func (c *fastConn) setIdleDeadline() {
	t := c.f.idleTimeout
	if t <= 0 {
		_ = c.nc.SetReadDeadline(time.Time{})
		return
	}
	now := time.Now()
	if due := now.Add(t); due.Sub(c.readDue) > slack(t) {
		_ = c.nc.SetReadDeadline(due)
		c.readDue = due
	}
}

// slack is how far a deadline of timeout t may be left behind.
func slack(t time.Duration) time.Duration { return min(t/8, time.Second) }

// answer writes the response to head if it is a plain hit, and reports
// whether it was.
func (c *fastConn) answer(head *h1Head) bool {
	if !c.f.hits || c.file.p != nil {
		// A memory file's body still queued (an event loop's, which
		// cannot wait for room) goes before anything after it.
		return false
	}
	s := c.f.s
	if head.rawPath {
		u, err := url.ParseRequestURI(head.target)
		if err != nil {
			return false
		}
		c.url = *u
	} else {
		c.url = url.URL{Path: head.path, RawQuery: head.query, ForceQuery: head.hasQ && head.query == ""}
	}
	proto, minor := "HTTP/1.1", 1
	if head.http10 {
		proto, minor = "HTTP/1.0", 0
	}
	c.req = http.Request{
		Method:     head.method,
		URL:        &c.url,
		Proto:      proto,
		ProtoMajor: 1,
		ProtoMinor: minor,
		Header:     c.hdr,
		Body:       http.NoBody,
		Host:       head.host,
		RemoteAddr: c.remote,
		RequestURI: head.target,
		Close:      head.close,
		TLS:        c.tls,
	}
	now := s.now()
	rq := &c.rq
	*rq = Request{In: &c.req, Start: now}
	obj, heads, code, part := s.fastHit(rq, now)
	if obj == nil {
		return false
	}
	pages := obj.Pages()
	h1 := &heads.H1
	if code == http.StatusNotModified {
		h1 = &heads.H1NotModified
	}
	c.f.fr.h1.Inc()
	s.m.inflight.Inc()
	rq.Code = code
	if c.stay > 0 {
		c.stay--
	}
	start := len(c.wbuf)
	body := obj.Body
	if code == http.StatusPartialContent {
		c.wbuf = s.appendPartialHead(c.wbuf, h1, heads.StatusPrefix, rq, obj.Meta.AgeSeconds(now), part, obj.Size())
		if pages == nil {
			body = body[part.off : part.off+part.n]
		}
	} else {
		c.wbuf = s.appendHitHead(c.wbuf, h1, heads.StatusPrefix, rq, obj.Meta.AgeSeconds(now))
		part.off, part.n = 0, obj.Size()
	}
	if head.http10 {
		c.wbuf[start+len("HTTP/1.")] = '0' // net/http answers HTTP/1.0 in kind
	}
	if altSvc, rh := c.f.fr.hitExtras(rq, obj); altSvc || rh != nil {
		if altSvc {
			c.wbuf = appendField(c.wbuf, "Alt-Svc", c.f.fr.altSvc[0])
		}
		if rh != nil {
			c.wbuf = appendField(c.wbuf, "Strict-Transport-Security", rh.hsts[0])
		}
	}
	switch {
	case head.http10 && !head.close:
		c.wbuf = append(c.wbuf, "Connection: keep-alive\r\n"...)
	case head.close && !head.http10: // HTTP/1.0 closes by default: net/http says nothing
		c.wbuf = append(c.wbuf, "Connection: close\r\n"...)
	}
	c.wbuf = append(c.wbuf, "\r\n"...)
	if head.method == http.MethodGet && code != http.StatusNotModified {
		if pages != nil {
			c.queueFile(pages, part)
			if c.sendfile {
				s.lm.fastSendfile.Inc()
			}
		} else {
			c.writeBody(body)
		}
		rq.BodyBytes = part.n
	}
	s.finish(rq)
	return true
}

// appendField appends one header line.
func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// writeBody queues b after the head just queued: copied when small, else
// written from where it is, in the same system call.
func (c *fastConn) writeBody(b []byte) {
	if len(b) <= fastCopyMax {
		c.wbuf = append(c.wbuf, b...)
		return
	}
	c.stay = fastStayLarge
	c.out = append(c.out, c.wbuf[c.wmark:], b)
	c.wmark = len(c.wbuf)
}

// queueFile queues part of the body in memory file p after the head
// just queued, for sendQueued or sendOn to write with sendfile, or, on a
// connection sendfile cannot write to (TLS), for copyQueued.
func (c *fastConn) queueFile(p *cache.Pages, pt part) {
	c.out = append(c.out, c.wbuf[c.wmark:])
	c.wmark = len(c.wbuf)
	c.file = fileBody{p: p, off: pt.off, end: pt.off + pt.n}
	// Written from the connection's goroutine, as large heap bodies are:
	// 100 KiB hits at 64 connections did 45k-47k req/s with sendfile on
	// the event loops, 56k-60k from goroutines (bench/PROFILE.md,
	// "Bodies in memory files").
	c.stay = fastStayLarge
}

// copyQueued writes out, then the file part, through nc, from the
// file's mapping, for a connection that sendfile cannot write to.
func (c *fastConn) copyQueued() error {
	bufs := c.out
	if _, err := bufs.WriteTo(c.nc); err != nil {
		return err
	}
	f := c.file
	_, err := f.p.WriteRange(c.nc, f.off, f.end)
	return err
}

// fileBody is part of a body in a memory file: bytes [off, end).
type fileBody struct {
	p        *cache.Pages
	off, end int64
}

// pending reports whether c has answers not yet written.
func (c *fastConn) pending() bool {
	return len(c.out) > 0 || c.wmark < len(c.wbuf) || c.file.p != nil
}

// flush writes what is queued, in one system call when it can.
func (c *fastConn) flush() bool {
	if len(c.out) == 0 && c.file.p == nil && c.wmark == len(c.wbuf) {
		return true
	}
	if t := c.f.writeTimeout; t > 0 {
		if due := time.Now().Add(t); due.Sub(c.writeDue) > slack(t) {
			_ = c.nc.SetWriteDeadline(due)
			c.writeDue = due
		}
	}
	if c.file.p != nil {
		// out and the file first: what was queued after them, wbuf[wmark:]
		// (an answer, a refusal), goes after the file's last byte.
		var err error
		if c.sendfile {
			err = c.sendQueued()
		} else {
			err = c.copyQueued()
		}
		clear(c.out)
		c.out, c.file = c.out[:0], fileBody{}
		if err != nil {
			c.sent()
			return false
		}
	}
	if c.wmark < len(c.wbuf) {
		c.out = append(c.out, c.wbuf[c.wmark:])
	}
	var err error
	if len(c.out) > 0 {
		bufs := c.out
		_, err = bufs.WriteTo(c.nc)
	}
	c.sent()
	return err == nil
}

// sent empties the write queue once it is written: it drops the
// references to bodies, and the write buffer if a burst grew it.
func (c *fastConn) sent() {
	c.file = fileBody{}
	clear(c.out)
	c.out = c.out[:0]
	c.wmark = 0
	if cap(c.wbuf) > fastWriteCap {
		c.wbuf = c.f.buf()[:0]
	} else {
		c.wbuf = c.wbuf[:0]
	}
}
