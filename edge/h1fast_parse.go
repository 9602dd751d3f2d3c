package edge

import (
	"bytes"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// h1Head is a request head accepted by parseH1Head: a plain HTTP/1.1 GET
// or HEAD without a body, in origin form. Every string is a substring of
// one copy of the head.
type h1Head struct {
	method string // http.MethodGet or http.MethodHead
	target string // the request-target
	path   string // target before '?'
	query  string // target after '?', raw
	// rawPath is set when path holds bytes that url.URL would keep
	// escaped (a '%', or a reserved byte): it must be parsed by net/url.
	rawPath bool
	hasQ    bool // target had a '?'
	host    string
	// close: the connection closes after the answer (Connection: close;
	// on HTTP/1.0, no Connection: keep-alive).
	close     bool
	http10    bool // an HTTP/1.0 request
	keepAlive bool // Connection: keep-alive
	n         int  // bytes of the head, its final CRLF included
}

// parseResult is what parseH1Head made of a buffer.
type parseResult int

const (
	parseOK      parseResult = iota
	parseMore                // the head is not complete yet
	parseHandoff             // anything the fast path does not take
)

// parseH1Head parses the request head at the start of b into h's header
// map (cleared first), with vals as the arena of field values. scan is
// where to resume looking for the head's end: 0 for a new head, else what
// the last parseMore of this head returned; so a head that trickles in is
// scanned once, not once per read.
//
// It accepts only the narrow form the fast path answers, and a form that
// net/http would parse to the very same request: "GET" or "HEAD", an
// origin-form target of visible ASCII, "HTTP/1.1" or "HTTP/1.0" (with Host), CRLF line ends, token
// field names, field values free of control bytes, exactly one valid
// Host, and no Content-Length, Transfer-Encoding, Expect, Upgrade or
// HTTP2-Settings, no Connection option but close or keep-alive, and no
// field those options name (Keep-Alive, Close), which are the hop's alone.
// Anything else is parseHandoff, as early as the bytes tell: net/http
// then parses it again and answers it, errors and limits included, so
// nothing strict is done here twice. Host is kept out of the map, as
// net/http does.
func parseH1Head(b []byte, scan int, hdr http.Header, vals []string) (head h1Head, _ []string, res parseResult, next int) {
	// The request line decides early: another method or version never
	// waits for more bytes. The start of "PRI " does, so that the caller
	// can tell an h2c preface (fastConn.giveUp).
	switch {
	case bytes.HasPrefix(b, []byte("GET ")):
		head.method = http.MethodGet
	case bytes.HasPrefix(b, []byte("HEAD ")):
		head.method = http.MethodHead
	case len(b) < 5 && (bytes.HasPrefix([]byte("GET "), b) || bytes.HasPrefix([]byte("HEAD "), b) || bytes.HasPrefix([]byte("PRI "), b)):
		return head, vals, parseMore, 0
	default:
		return head, vals, parseHandoff, 0
	}
	end, next := headEnd(b, scan)
	switch end {
	case -1:
		return head, vals, parseMore, next
	case -2:
		return head, vals, parseHandoff, 0
	}
	head.n = end
	s := string(b[:end]) // the one copy every field is cut from
	line, rest, _ := strings.Cut(s, "\r\n")
	if !parseRequestLine(line, &head) {
		return head, vals, parseHandoff, 0
	}
	clear(hdr)
	vals = vals[:0]
	hosts := 0
	for rest != "\r\n" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok || !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
			return head, vals, parseHandoff, 0
		}
		value = strings.Trim(value, " \t")
		key := canonicalKey(name)
		switch key {
		case "Host":
			hosts++
			if hosts > 1 || !httpguts.ValidHostHeader(value) {
				return head, vals, parseHandoff, 0
			}
			head.host = value
			continue
		case "Content-Length", "Transfer-Encoding", "Expect", "Upgrade", "Http2-Settings",
			"Keep-Alive", "Close": // fields the accepted Connection options would nominate: see dropNominated
			return head, vals, parseHandoff, 0
		case "Connection":
			if !connectionOptions(value, &head) {
				return head, vals, parseHandoff, 0
			}
		}
		if old := hdr[key]; old != nil {
			hdr[key] = append(old, value) // a repeated field: copies, old is capped
			continue
		}
		vals = append(vals, value)
		hdr[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if hosts != 1 || len(hdr["Connection"]) > 1 {
		// net/http reads only the first Connection line for keep-alive
		// and close: more than one is its call.
		return head, vals, parseHandoff, 0
	}
	if head.http10 {
		// HTTP/1.0 closes unless the client asked to keep the connection
		// (net/http's wantsHttp10KeepAlive); both asked is net/http's call.
		if head.close && head.keepAlive {
			return head, vals, parseHandoff, 0
		}
		head.close = !head.keepAlive
	}
	// As net/http does (RFC 9111 §5.4): Pragma: no-cache without
	// Cache-Control reads as Cache-Control: no-cache.
	if p := hdr["Pragma"]; len(p) > 0 && p[0] == "no-cache" && hdr["Cache-Control"] == nil {
		vals = append(vals, "no-cache")
		hdr["Cache-Control"] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	return head, vals, parseOK, 0
}

// headEnd returns the length of the head at the start of b (through the
// empty line), scanning from from, the start of a line. If the head is
// not complete it returns -1 and the start of its last, incomplete line,
// where the next scan resumes; -2 if a line ends in a bare LF (net/http
// tolerates it; the fast path does not).
func headEnd(b []byte, from int) (end, next int) {
	for off := from; ; {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return -1, off
		}
		i += off
		if i == 0 || b[i-1] != '\r' {
			return -2, 0
		}
		if i == off+1 && off > 0 { // "\r\n" alone: the empty line
			return i + 1, 0
		}
		off = i + 1
	}
}

// parseRequestLine fills head's target fields from "METHOD SP target SP
// HTTP/1.1"; the method was checked by the caller.
func parseRequestLine(line string, head *h1Head) bool {
	rest := line[len(head.method)+1:]
	target, proto, ok := strings.Cut(rest, " ")
	if !ok || (proto != "HTTP/1.1" && proto != "HTTP/1.0") || target == "" || target[0] != '/' {
		return false
	}
	head.http10 = proto == "HTTP/1.0"
	head.target = target
	path := target
	for i := 0; i < len(target); i++ {
		c := target[i]
		if c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
		if c == '?' && !head.hasQ {
			head.hasQ = true
			path, head.query = target[:i], target[i+1:]
			continue
		}
		if !head.hasQ && !plainPathByte(c) {
			head.rawPath = true
		}
	}
	head.path = path
	return true
}

// plainPathByte reports whether c stands for itself in a URL path: net/url
// neither unescapes nor escapes it, so the path is its own EscapedPath.
func plainPathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
		return true
	}
	return false
}

// connectionOptions accepts a Connection value of close and keep-alive
// options only, noting close.
func connectionOptions(v string, head *h1Head) bool {
	for v != "" {
		var opt string
		opt, v, _ = strings.Cut(v, ",")
		switch opt = strings.Trim(opt, " \t"); {
		case strings.EqualFold(opt, "close"):
			head.close = true
		case strings.EqualFold(opt, "keep-alive"):
			head.keepAlive = true
		case opt == "":
		default:
			return false
		}
	}
	return true
}

// canonicalKey returns name in net/http's canonical form, without
// allocating when it already is in that form or is a common field name.
func canonicalKey(name string) string {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (upper && 'a' <= c && c <= 'z') || (!upper && 'A' <= c && c <= 'Z') {
			return http.CanonicalHeaderKey(name)
		}
		upper = c == '-'
	}
	return name
}
