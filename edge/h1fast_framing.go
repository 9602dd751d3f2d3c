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
//
// net/http deletes Transfer-Encoding before a handler could see either,
// so the fast path checks the heads it reads before handing them over:
// the first of every connection, and each after the fast path took the
// connection back. (A connection that stays with net/http, after a
// request with a body, is not checked again: net/http's framing, closing
// after any Transfer-Encoding on HTTP/1.1, then stands alone.)

// framingVerdict is what checkFraming made of a buffered head.
type framingVerdict int

const (
	framingOK   framingVerdict = iota // hand it to net/http as it is
	framingMore                       // the head is not complete yet
	framingBad                        // refuse it: 400, and close
)

// checkFraming looks at the request head at the start of b. A head whose
// request line is not HTTP/1.0 or HTTP/1.1 is net/http's to judge, at
// once. Line ends may be CRLF or a bare LF, as net/http reads them.
func checkFraming(b []byte) framingVerdict {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return framingMore
	}
	line := bytes.TrimSuffix(b[:nl], []byte("\r"))
	var http10 bool
	switch {
	case bytes.HasSuffix(line, []byte(" HTTP/1.1")):
	case bytes.HasSuffix(line, []byte(" HTTP/1.0")):
		http10 = true
	default:
		return framingOK
	}
	var te, cl, inTE bool
	var last []byte // the last transfer coding named so far
	for rest := b[nl+1:]; ; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return framingMore
		}
		field := bytes.TrimSuffix(rest[:i], []byte("\r"))
		rest = rest[i+1:]
		if len(field) == 0 {
			break
		}
		value := field
		if field[0] == ' ' || field[0] == '\t' { // obs-fold: more of the field above
			if !inTE {
				continue
			}
		} else {
			var name []byte
			name, value, _ = bytes.Cut(field, []byte(":"))
			inTE = bytes.EqualFold(name, []byte("Transfer-Encoding"))
			switch {
			case inTE:
				te = true
			case bytes.EqualFold(name, []byte("Content-Length")):
				cl = true
				continue
			default:
				continue
			}
		}
		for _, coding := range bytes.Split(value, []byte(",")) {
			if coding = bytes.Trim(coding, " \t"); len(coding) > 0 {
				last = coding
			}
		}
	}
	if te && (cl || http10 || !bytes.EqualFold(last, []byte("chunked"))) {
		return framingBad
	}
	return framingOK
}

// badFraming is the answer to a head checkFraming refused, in net/http's
// form for a malformed request.
const badFraming = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
	"400 Bad Request: ambiguous framing (Transfer-Encoding with Content-Length, on HTTP/1.0, or not ending in chunked)"

// lingerAfterRefusal is how long a refused connection stays half-closed,
// as net/http's after an error answer: closing at once, with the body
// unread, would reset the connection and could cut the answer short.
const lingerAfterRefusal = 500 * time.Millisecond

// refuseFraming writes the pending answers and the 400, and closes.
func (c *fastConn) refuseFraming() {
	c.f.s.lm.fastRefused.Inc()
	c.wbuf = append(c.wbuf, badFraming...)
	if c.flush() {
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			time.Sleep(lingerAfterRefusal)
		}
	}
	c.nc.Close()
}
