package edge

import (
	"bytes"
	"time"
)

// The framing gate: the framings of a request body that net/http
// resolves one way while a proxy in front of us may resolve another.
//
//   - Transfer-Encoding with Content-Length (RFC 9112 §6.3): net/http
//     frames by Transfer-Encoding alone and closes afterwards, as the RFC
//     allows; a front end that framed by Content-Length sees another
//     request boundary. nginx and Varnish answer 400, and so do we.
//   - Transfer-Encoding on HTTP/1.0 (RFC 9112 §6.1: faulty framing, the
//     connection must close): net/http ignores the field, frames by
//     Content-Length and keeps the connection open.
//   - Transfer-Encoding whose final coding is not chunked (RFC 9112 §6.3:
//     the length cannot be determined; the server MUST answer 400 and
//     close). net/http answers 501, as for any coding it does not know.
//   - obs-fold, a field line continued on the next (RFC 9112 §5.2: reject
//     with 400, or unfold). net/http unfolds; a front end that does not
//     reads another field (a folded Transfer-Encoding is the classic).
//     nginx refuses it, and so do we.
//
// net/http deletes Transfer-Encoding before a handler could see either,
// so the fast path checks the heads it reads before handing them over:
// the first of every connection, and each after the fast path took the
// connection back. A head is read whole first, up to net/http's own limit
// (max_header_bytes plus 4 KiB; 431 past it). On a connection that stays
// with net/http (after a request with a body, a response it frames by
// closing or chunks, or three handoffs in a row), a streamTracker runs
// the same checks on every head net/http reads (h1fast_track.go); and
// ServeHTTP closes the connection after any chunked request and any
// HTTP/1.0 request with a body (TestReviewFramingGateBypass).

// framingVerdict is what parseFraming made of a buffered head.
type framingVerdict int

const (
	framingOK   framingVerdict = iota // hand it to net/http as it is
	framingMore                       // the head is not complete yet
	framingBad                        // refuse it: 400, and close
)

// framing is what parseFraming made of a request head.
type framing struct {
	v framingVerdict
	// headLen is the head's length, the empty line included, once it is
	// complete (framingOK or framingBad); -1 for a head not HTTP/1.x.
	headLen int
	// chunked: the body is chunked (framingOK only).
	chunked bool
	// length is the Content-Length: -1 for none, -2 for one that is not
	// a single decimal number (net/http judges it).
	length int64
	// upgrade: the request asks to switch protocols (Upgrade, or CONNECT):
	// what follows on the connection may not be HTTP/1.
	upgrade bool
}

// parseFraming looks at the request head at the start of b: any
// obs-fold, or a Transfer-Encoding refused as above, is framingBad. A head
// whose request line is not HTTP/1.x is net/http's to judge, at once.
// Line ends may be CRLF or a bare LF, as net/http reads them.
func parseFraming(b []byte) framing {
	f := framing{headLen: -1, length: -1}
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		f.v = framingMore
		return f
	}
	line := bytes.TrimSuffix(b[:nl], []byte("\r"))
	// net/http serves any HTTP/1.x, and honours Transfer-Encoding from
	// HTTP/1.1 up ("HTTP/1.2" ... "HTTP/1.9" included).
	i := bytes.LastIndex(line, []byte(" HTTP/1."))
	if i < 0 || i+len(" HTTP/1.")+1 != len(line) || line[len(line)-1] < '0' || line[len(line)-1] > '9' {
		f.v = framingOK
		return f
	}
	http10 := line[len(line)-1] == '0'
	f.upgrade = bytes.HasPrefix(line, []byte("CONNECT "))
	var te, cl bool
	var last []byte // the last transfer coding named so far
	rest := b[nl+1:]
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			f.v = framingMore
			return f
		}
		field := bytes.TrimSuffix(rest[:i], []byte("\r"))
		rest = rest[i+1:]
		if len(field) == 0 {
			break
		}
		if field[0] == ' ' || field[0] == '\t' {
			f.v = framingBad // obs-fold
			f.headLen = framingHeadEnd(b, rest)
			return f
		}
		name, value, _ := bytes.Cut(field, []byte(":"))
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			te = true
		case bytes.EqualFold(name, []byte("Content-Length")):
			n := parseLength(value)
			if cl && n != f.length {
				n = -2
			}
			cl, f.length = true, n
			continue
		case bytes.EqualFold(name, []byte("Upgrade")):
			f.upgrade = true
			continue
		default:
			continue
		}
		for _, coding := range bytes.Split(value, []byte(",")) {
			if coding = bytes.Trim(coding, " \t"); len(coding) > 0 {
				last = coding
			}
		}
	}
	f.headLen = len(b) - len(rest)
	if te && (cl || http10 || !bytes.EqualFold(last, []byte("chunked"))) {
		f.v = framingBad
		return f
	}
	f.v, f.chunked = framingOK, te
	return f
}

// framingHeadEnd is the length of the head at the start of b whose unread part
// starts at rest, once it is complete (its empty line read); -1 before.
func framingHeadEnd(b, rest []byte) int {
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return -1
		}
		field := bytes.TrimSuffix(rest[:i], []byte("\r"))
		rest = rest[i+1:]
		if len(field) == 0 {
			return len(b) - len(rest)
		}
	}
}

// parseLength reads a Content-Length value: a decimal number of at most
// 18 digits between optional spaces and tabs, else -2.
func parseLength(v []byte) int64 {
	v = bytes.Trim(v, " \t")
	if len(v) == 0 || len(v) > 18 {
		return -2
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return -2
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// badFraming is the answer to a head parseFraming refused, in net/http's
// form for a malformed request.
const badFraming = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
	"400 Bad Request: ambiguous framing (obs-fold; or Transfer-Encoding with Content-Length, on HTTP/1.0, or not ending in chunked)"

// lingerAfterRefusal is how long a refused connection stays half-closed,
// as net/http's after an error answer: closing at once, with the body
// unread, would reset the connection and could cut the answer short.
const lingerAfterRefusal = 500 * time.Millisecond

// badChunked is the answer to a chunked body malformed in the bytes read
// with its head (see h1fast_chunks.go).
const badChunked = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
	"400 Bad Request: malformed chunked body"

// headTooLarge is net/http's answer to a head over its limit, which the
// fast path gives itself to a head it could not read whole; see
// tooLargeAnswer for when the request line alone is too long.
const headTooLarge = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
	"431 Request Header Fields Too Large"

// lineTooLong and methodTooLong answer a request line that did not end
// within the limit: a target that long is 414 (as nginx answers); no
// method is, so a line without even the space after its method is 400.
const (
	lineTooLong = "HTTP/1.1 414 URI Too Long\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
		"414 URI Too Long"
	methodTooLong = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
		"400 Bad Request: malformed request line"
)

// tooLargeAnswer is the answer to b, a head that did not end within the
// limit: 400 when its method did not, 414 when its request line did not,
// else 431.
func tooLargeAnswer(b []byte) string {
	switch {
	case bytes.IndexByte(b, '\n') >= 0:
		return headTooLarge
	case bytes.IndexByte(b, ' ') < 0:
		return methodTooLong
	}
	return lineTooLong
}

// refuse writes the pending answers and answer (badFraming or
// headTooLarge), and closes.
func (c *fastConn) refuse(answer string) {
	c.f.s.lm.fastRefused.Inc()
	c.wbuf = append(c.wbuf, answer...)
	if c.flush() {
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			time.Sleep(lingerAfterRefusal)
		}
	}
	c.nc.Close()
}
