package edge

import (
	"bufio"
	"bytes"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParseH1Head(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want parseResult
		// For parseOK:
		method, target, path, query, host string
		rawPath, close                    bool
		hdr                               http.Header
	}{
		{name: "wrk's request", in: "GET /obj/1k/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", want: parseOK,
			method: "GET", target: "/obj/1k/1", path: "/obj/1k/1", host: "127.0.0.1:8080", hdr: http.Header{}},
		{name: "HEAD with query and fields", in: "HEAD /a?b=1&c HTTP/1.1\r\nhost: x\r\naccept-encoding:  gzip \r\nX-A: 1\r\nx-a: 2\r\n\r\n", want: parseOK,
			method: "HEAD", target: "/a?b=1&c", path: "/a", query: "b=1&c", host: "x",
			hdr: http.Header{"Accept-Encoding": {"gzip"}, "X-A": {"1", "2"}}},
		{name: "escaped path goes to net/url", in: "GET /a%20b HTTP/1.1\r\nHost: x\r\n\r\n", want: parseOK,
			method: "GET", target: "/a%20b", path: "/a%20b", host: "x", rawPath: true, hdr: http.Header{}},
		{name: "Connection close", in: "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n", want: parseOK,
			method: "GET", target: "/", path: "/", host: "x", close: true, hdr: http.Header{"Connection": {"keep-alive, Close"}}},
		{name: "pipelined: the first head only", in: "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\n", want: parseOK,
			method: "GET", target: "/1", path: "/1", host: "x", hdr: http.Header{}},
		{name: "HTTP/1.0 closes by default", in: "GET / HTTP/1.0\r\nHost: x\r\n\r\n", want: parseOK,
			method: "GET", target: "/", path: "/", host: "x", close: true, hdr: http.Header{}},
		{name: "HTTP/1.0 keep-alive", in: "HEAD / HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive\r\n\r\n", want: parseOK,
			method: "HEAD", target: "/", path: "/", host: "x", hdr: http.Header{"Connection": {"Keep-Alive"}}},
		{name: "empty value", in: "GET / HTTP/1.1\r\nHost: x\r\nX-E:\r\n\r\n", want: parseOK,
			method: "GET", target: "/", path: "/", host: "x", hdr: http.Header{"X-E": {""}}},

		{name: "Pragma: no-cache reads as Cache-Control: no-cache", in: "GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n", want: parseOK,
			method: "GET", target: "/", path: "/", host: "x", hdr: http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"no-cache"}}},
		{name: "Pragma beside Cache-Control", in: "GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\n\r\n", want: parseOK,
			method: "GET", target: "/", path: "/", host: "x", hdr: http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"max-age=0"}}},

		{name: "partial method", in: "GE", want: parseMore},
		{name: "maybe an h2c preface", in: "PR", want: parseMore},
		{name: "partial head", in: "GET / HTTP/1.1\r\nHost: x\r\n", want: parseMore},
		{name: "no bytes", in: "", want: parseMore},

		{name: "h2c preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", want: parseHandoff},
		{name: "POST", in: "POST / HTTP/1.1\r\nHost: x\r\n\r\n", want: parseHandoff},
		{name: "lower-case method", in: "get / HTTP/1.1\r\nHost: x\r\n\r\n", want: parseHandoff},
		{name: "HTTP/1.0 keep-alive and close", in: "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", want: parseHandoff},
		{name: "HTTP/1.0 without Host", in: "GET / HTTP/1.0\r\n\r\n", want: parseHandoff},
		{name: "HTTP/0.9-like", in: "GET / HTTP/0.9\r\nHost: x\r\n\r\n", want: parseHandoff},
		{name: "absolute form", in: "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", want: parseHandoff},
		{name: "asterisk form", in: "GET * HTTP/1.1\r\nHost: x\r\n\r\n", want: parseHandoff},
		{name: "two spaces", in: "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", want: parseHandoff},
		{name: "fragment", in: "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", want: parseHandoff},
		{name: "control byte in target", in: "GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", want: parseHandoff},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: x\n\n", want: parseHandoff},
		{name: "bare LF later", in: "GET / HTTP/1.1\r\nHost: x\n\r\n", want: parseHandoff},
		{name: "no Host", in: "GET / HTTP/1.1\r\n\r\n", want: parseHandoff},
		{name: "two Hosts", in: "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", want: parseHandoff},
		{name: "bad Host", in: "GET / HTTP/1.1\r\nHost: x y\r\n\r\n", want: parseHandoff},
		{name: "Content-Length", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", want: parseHandoff},
		{name: "Transfer-Encoding", in: "GET / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n", want: parseHandoff},
		{name: "Expect", in: "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", want: parseHandoff},
		{name: "Upgrade", in: "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", want: parseHandoff},
		{name: "Connection option", in: "GET / HTTP/1.1\r\nHost: x\r\nConnection: x-foo\r\n\r\n", want: parseHandoff},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", want: parseHandoff},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", want: parseHandoff},
		{name: "no colon", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n", want: parseHandoff},
		{name: "NUL in value", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", want: parseHandoff},
		{name: "CR in value", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", want: parseHandoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{"Stale": {"from the last request"}}
			head, _, res, _ := parseH1Head([]byte(tt.in), 0, hdr, nil)
			if res != tt.want {
				t.Fatalf("result %v, want %v", res, tt.want)
			}
			if res != parseOK {
				return
			}
			if head.method != tt.method || head.target != tt.target || head.path != tt.path || head.query != tt.query ||
				head.host != tt.host || head.rawPath != tt.rawPath || head.close != tt.close {
				t.Errorf("head %+v", head)
			}
			if end := strings.Index(tt.in, "\r\n\r\n") + 4; head.n != end {
				t.Errorf("n = %d, want %d", head.n, end)
			}
			if !maps.EqualFunc(hdr, tt.hdr, slices.Equal) {
				t.Errorf("header %v, want %v", hdr, tt.hdr)
			}
		})
	}
}

// TestParseH1HeadTrickle feeds a head a byte at a time, resuming the
// scan where the last parseMore left it, as fastConn does: the result is
// the whole parse's.
func TestParseH1HeadTrickle(t *testing.T) {
	in := []byte("GET /t?x HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 22\r\n\r\nGET /next")
	end := bytes.Index(in, []byte("\r\n\r\n")) + 4
	scan := 0
	for i := 0; i < end; i++ {
		_, _, res, next := parseH1Head(in[:i], scan, http.Header{}, nil)
		if res != parseMore {
			t.Fatalf("%d bytes: result %v, want more", i, res)
		}
		if next < scan || next > i {
			t.Fatalf("%d bytes: resume at %d after %d", i, next, scan)
		}
		scan = next
	}
	hdr := http.Header{}
	head, _, res, _ := parseH1Head(in, scan, hdr, nil)
	if res != parseOK || head.n != end || head.target != "/t?x" || hdr.Get("B") != "22" || hdr.Get("A") != "1" {
		t.Fatalf("result %v, head %+v, header %v", res, head, hdr)
	}
}

// TestParseH1HeadReusesArena checks that one request's fields never show
// through the next's: the map and value arena are reused.
func TestParseH1HeadReusesArena(t *testing.T) {
	hdr := http.Header{}
	var vals []string
	_, vals, _, _ = parseH1Head([]byte("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n"), 0, hdr, vals)
	a := hdr["A"]
	_, _, _, _ = parseH1Head([]byte("GET / HTTP/1.1\r\nHost: x\r\nC: 3\r\n\r\n"), 0, hdr, vals)
	if len(hdr) != 1 || hdr.Get("C") != "3" {
		t.Fatalf("second header %v", hdr)
	}
	if a[0] != "1" && a[0] != "3" { // the arena slot is reused: a slice kept across requests may change
		t.Fatalf("arena slot %q", a[0])
	}
}

// FuzzParseH1Head checks the fast path's parser against net/http's: a
// head it accepts must be one http.ReadRequest accepts too and reads as
// the same request; and it must never accept a head net/http refuses.
func FuzzParseH1Head(f *testing.F) {
	for _, s := range []string{
		"GET /obj/1k/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
		"HEAD /a?b=1&c HTTP/1.1\r\nhost: x\r\naccept-encoding:  gzip \r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"GET /a%20b/%2F?q=%zz HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n",
		"GET /a!*'() HTTP/1.1\r\nHost: x\r\nUser-Agent: \x80\xff\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive\r\n\r\n",
		"HEAD /h HTTP/1.0\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		hdr := http.Header{}
		head, _, res, _ := parseH1Head(b, 0, hdr, nil)
		if res != parseOK {
			return
		}
		if head.rawPath {
			if _, err := url.ParseRequestURI(head.target); err != nil {
				return // the fast path hands it off (fastConn.answer)
			}
		}
		if head.n <= 0 || head.n > len(b) {
			t.Fatalf("n = %d of %d bytes", head.n, len(b))
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(b[:head.n]))))
		if err != nil {
			t.Fatalf("accepted %q, which net/http refuses: %v", b[:head.n], err)
		}
		if req.Method != head.method || req.RequestURI != head.target || req.Host != head.host || req.Close != head.close {
			t.Fatalf("%q: net/http reads %s %s host %q close %v; fast path %+v", b[:head.n], req.Method, req.RequestURI, req.Host, req.Close, head)
		}
		if req.ContentLength != 0 || len(req.TransferEncoding) > 0 {
			t.Fatalf("%q: accepted a request with a body", b[:head.n])
		}
		if !maps.EqualFunc(req.Header, hdr, slices.Equal) {
			t.Fatalf("%q: header %v, net/http %v", b[:head.n], hdr, req.Header)
		}
		if !head.rawPath && (req.URL.Path != head.path || req.URL.EscapedPath() != head.path || req.URL.RawQuery != head.query) {
			t.Fatalf("%q: path %q query %q, net/url %q (escaped %q) %q", b[:head.n], head.path, head.query, req.URL.Path, req.URL.EscapedPath(), req.URL.RawQuery)
		}
	})
}
