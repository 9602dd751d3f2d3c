package edge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// HTTP/1.1 framing and parsing cases after the public MDA2AV/Http11Probe
// catalog (its test ids name the cases), sent as raw bytes to an edge
// with the fast path and to one with net/http alone. Each case runs three
// ways: through net/http only; through the fast path to a target not
// cached (the fast path parses, then hands off); and to a target cached
// beforehand, so that any request the fast path takes for a plain GET or
// HEAD would be answered as a hit from its own parser. The three must
// agree, and agree with the case: a request that desynchronises a proxy
// in front of popcache, or smuggles a second request past it, shows here
// as a wrong status, a connection left open, or a response too many.
//
// The cases popcache gets wrong today are in the table with what the
// catalog expects, and are skipped naming the cause: remove the known
// text with the fix, and the case must pass.

// h11Host is the Host of every case; the catch-all route takes it.
const h11Host = "h11.test"

// h11Case is one raw request and what must come back.
type h11Case struct {
	id string // the catalog's test id
	// req is the bytes sent: {H} stands for the Host, {T} for the target
	// and {L} for the length of what follows the first empty line.
	req   string
	build func(target string) string // the bytes sent, when req cannot say them
	codes []int                      // the statuses the first response may have
	then  []int                      // the statuses a second response may have; nil: none may come
	close bool                       // the server must close the connection after its last response
	known string                     // a known failure: why; the case is skipped
}

// h11Result is what an exchange read back.
type h11Result struct {
	codes  []int  // the statuses of the responses read
	extra  string // bytes after them: a response too many, or a body too long
	closed bool   // the server closed the connection
}

func TestH11Catalog(t *testing.T) {
	clk := newClock()
	o := httptest.NewServer(h11Origin(clk))
	t.Cleanup(o.Close)
	fast, _ := launch(t, catchAllConfig(t, o, ""), o, clk)
	slow, _ := launchWith(t, catchAllConfig(t, o, ""), o, clk, func(s *Server) { s.noFastPath = true })

	for _, c := range h11Cases() {
		t.Run(c.id, func(t *testing.T) {
			if c.known != "" {
				t.Skip("known: " + c.known)
			}
			path := "/h11/" + strings.ToLower(c.id)
			warm := path + "/warm"
			for range 2 {
				fast.get(warm, "Host", h11Host)
			}
			if resp, _ := fast.get(warm, "Host", h11Host); !strings.HasPrefix(cacheStatusOf(resp), "popcache; hit") {
				t.Fatalf("%s not cached: Cache-Status %q", warm, resp.Header.Get("Cache-Status"))
			}
			base := h11Exchange(t, slow, c, path+"/slow")
			h11Check(t, "net/http", c, base)
			for _, m := range []struct {
				name, target string
			}{{"fast path, not cached", path + "/cold"}, {"fast path, cached", warm}} {
				got := h11Exchange(t, fast, c, m.target)
				h11Check(t, m.name, c, got)
				if !slices.Equal(got.codes, base.codes) || (c.close && got.closed != base.closed) {
					t.Errorf("%s answered %v (closed %v), net/http alone %v (closed %v)", m.name, got.codes, got.closed, base.codes, base.closed)
				}
			}
		})
	}
}

// h11Check reports where r breaks what c expects.
func h11Check(t *testing.T, mode string, c h11Case, r h11Result) {
	t.Helper()
	want := 1
	if c.then != nil {
		want = 2
	}
	switch {
	case len(r.codes) != want:
		t.Errorf("%s: %d responses %v, want %d", mode, len(r.codes), r.codes, want)
	case !slices.Contains(c.codes, r.codes[0]):
		t.Errorf("%s: status %d, want one of %v", mode, r.codes[0], c.codes)
	case want == 2 && !slices.Contains(c.then, r.codes[1]):
		t.Errorf("%s: second status %d, want one of %v", mode, r.codes[1], c.then)
	}
	if r.extra != "" {
		t.Errorf("%s: %d bytes after the responses: %.80q", mode, len(r.extra), r.extra)
	}
	if c.close && !r.closed {
		t.Errorf("%s: connection left open", mode)
	}
}

// h11Exchange sends c's request for target on a new connection to n,
// reads the responses c expects, then what follows until the server
// closes the connection: at most 5s when c wants it closed, else 300ms.
func h11Exchange(t *testing.T, n *node, c h11Case, target string) h11Result {
	t.Helper()
	req := strings.NewReplacer("{H}", h11Host, "{T}", target).Replace(c.req)
	if c.build != nil {
		req = c.build(target)
	}
	if _, body, ok := strings.Cut(req, "\r\n\r\n"); ok {
		req = strings.Replace(req, "{L}", strconv.Itoa(len(body)), 1)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var r h11Result
	method, _, _ := strings.Cut(req, " ")
	want := 1
	if c.then != nil {
		want = 2
	}
	for i := range want {
		if i > 0 {
			method = http.MethodGet // the second request of a case is a GET
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			break
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("reading the body of a %d: %v", resp.StatusCode, err)
		}
		r.codes = append(r.codes, resp.StatusCode)
	}
	wait := 300 * time.Millisecond
	if c.close {
		wait = 5 * time.Second
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	rest, err := io.ReadAll(br)
	r.extra = string(rest)
	r.closed = err == nil || errors.Is(err, syscall.ECONNRESET)
	return r
}

// h11Origin serves cacheable 200s to GET and HEAD, dated by clk, and
// answers any other method with the length of the body it read, unstored.
func h11Origin(clk *clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Date", clk.Now().UTC().Format(http.TimeFormat))
		h.Set("Content-Type", "text/plain")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			n, _ := io.Copy(io.Discard, r.Body)
			h.Set("Cache-Control", "no-store")
			fmt.Fprintf(w, "%s %d", r.Method, n)
			return
		}
		h.Set("Cache-Control", "max-age=600")
		h.Set("ETag", `"h11"`)
		h.Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		body := "hello from " + r.URL.Path
		h.Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	})
}

// h11Cases is the table. Requests are the catalog's, with the target
// parameterised; a follow-up request the catalog sends after reading the
// first response is pipelined in the same write here, which only makes
// a leak more likely to show.
func h11Cases() []h11Case {
	const (
		get  = "GET {T} HTTP/1.1\r\nHost: {H}\r\n\r\n"
		post = "POST {T} HTTP/1.1\r\nHost: {H}\r\n"
		te   = "Transfer-Encoding: chunked\r\n"
		// Why the known failures fail: net/http decides the framing ones
		// before popcache's handler runs; the body ones are decided by
		// popcache's error mapping; the lenient ones by net/http's chunked
		// reader, which popcache does not see.
		framingGate = "net/http decides, before popcache's handler: needs a strict HTTP/1.1 framing check in front of net/http (handedConn.Read)"
		bodyErr     = "a malformed chunked body fails the upstream RoundTrip and pass.go/classify maps it to 502; must be 400 + close"
		lenient     = "net/http's chunked reader ignores chunk extensions and trailing OWS; accepted as 200"
	)
	reject := []int{400}
	ok := []int{200}
	return []h11Case{
		// Content-Length: only 1*DIGIT, one value.
		{id: "SMUG-DUPLICATE-CL", req: post + "Content-Length: 5\r\nContent-Length: 10\r\n\r\nhelloworld", codes: reject, close: true},
		{id: "SMUG-CL-COMMA-DIFFERENT", req: post + "Content-Length: 5, 10\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-CL-COMMA-SAME", req: post + "Content-Length: 5, 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-CL-NEGATIVE", req: post + "Content-Length: -1\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CL-NEGATIVE-ZERO", req: post + "Content-Length: -0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CL-OCTAL", req: post + "Content-Length: 0o5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-CL-HEX-PREFIX", req: post + "Content-Length: 0x5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-CL-UNDERSCORE", req: post + "Content-Length: 1_0\r\n\r\nhelloworld", codes: reject, close: true},
		{id: "SMUG-CL-INTERNAL-SPACE", req: post + "Content-Length: 1 0\r\n\r\nhello12345", codes: reject, close: true},
		{id: "RFC9112-6.1-CL-PLUS-SIGN", req: post + "Content-Length: +5\r\n\r\nhello", codes: reject, close: true},
		{id: "RFC9112-6.1-CL-NON-NUMERIC", req: post + "Content-Length: abc\r\n\r\n", codes: reject, close: true},
		{id: "MAL-CL-OVERFLOW", req: post + "Content-Length: 99999999999999999999\r\n\r\n", codes: reject, close: true},
		{id: "MAL-CL-EMPTY", req: post + "Content-Length: \r\n\r\n", codes: reject, close: true},
		{id: "SMUG-DUPLICATE-CL-SMUGGLED-GET", req: post + "Content-Length: 4\r\nContent-Length: {L}\r\n\r\nPING" + get, codes: reject, close: true},
		{id: "SMUG-CLTE-SMUGGLED-GET-CL-PLUS", req: post + "Content-Length: +5\r\n" + te + "\r\n0\r\n\r\n" + get, codes: reject, close: true},
		{id: "SMUG-CLTE-SMUGGLED-GET-CL-NON-NUMERIC", req: post + "Content-Length: 5x\r\n" + te + "\r\n0\r\n\r\n" + get, codes: reject, close: true},

		// Transfer-Encoding: chunked alone is understood; the connection
		// closes after any request that also had a Content-Length.
		{id: "SMUG-TE-XCHUNKED", req: post + "Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\nhello", codes: []int{400, 501}, close: true},
		{id: "SMUG-TE-IDENTITY", req: post + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", codes: []int{400, 501}, close: true},
		{id: "COMP-UNKNOWN-TE-501", req: post + "Transfer-Encoding: gzip\r\n\r\n", codes: []int{400, 501}, close: true},
		{id: "SMUG-TE-SP-BEFORE-COLON", req: post + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-TE-VTAB", req: post + "Transfer-Encoding: \x0bchunked\r\nContent-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-TE-FORMFEED", req: post + "Transfer-Encoding: \x0cchunked\r\nContent-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-TE-NULL", req: post + "Transfer-Encoding: chunked\x00\r\nContent-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-CL-TE-BOTH", req: post + "Content-Length: 26\r\n" + te + "\r\nD\r\nhello-bananas\r\n0\r\n\r\n", codes: []int{200, 400}, close: true},
		{id: "SMUG-CLTE-PIPELINE", req: post + "Content-Length: 4\r\n" + te + "\r\n0\r\n\r\n", codes: []int{200, 400}, close: true},
		{id: "SMUG-TECL-PIPELINE", req: post + te + "Content-Length: 30\r\n\r\n0\r\n\r\n", codes: []int{200, 400}, close: true},
		{id: "SMUG-CLTE-CONN-CLOSE", req: post + "Content-Length: 5\r\n" + te + "\r\n0\r\n\r\n" + get, codes: []int{200, 400}, close: true},
		{id: "SMUG-TECL-CONN-CLOSE", req: post + te + "Content-Length: 5\r\n\r\n0\r\n\r\n" + get, codes: []int{200, 400}, close: true},
		{id: "SMUG-CLTE-DESYNC", req: post + "Content-Length: 6\r\n" + te + "\r\n0\r\n\r\nX" + get, codes: []int{200, 400}, close: true},
		{id: "SMUG-TECL-DESYNC", req: post + te + "Content-Length: 30\r\n\r\n0\r\n\r\nX" + get, codes: []int{200, 400}, close: true},
		{id: "SMUG-CLTE-SMUGGLED-GET", req: post + "Content-Length: {L}\r\n" + te + "\r\n0\r\n\r\n" + get, codes: []int{200, 400}, close: true},
		{id: "SMUG-CLTE-SMUGGLED-HEAD", req: post + "Content-Length: {L}\r\n" + te + "\r\n0\r\n\r\nHEAD {T} HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: []int{200, 400}, close: true},
		{id: "SMUG-CLTE-SMUGGLED-GET-TE-CASE-MISMATCH", req: post + "Content-Length: {L}\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n" + get, codes: []int{200, 400}, close: true},
		{id: "SMUG-CLTE-SMUGGLED-GET-TE-TRAILING-SPACE", req: post + "Content-Length: {L}\r\nTransfer-Encoding: chunked \r\n\r\n0\r\n\r\n" + get, codes: []int{200, 400}, close: true},
		{id: "SMUG-CLTE-SMUGGLED-GET-TE-OBS-FOLD", req: post + "Transfer-Encoding:\r\n chunked\r\nContent-Length: {L}\r\n\r\n0\r\n\r\n" + get, codes: []int{200, 400}, close: true},
		{id: "SMUG-CLTE-SMUGGLED-GET-TE-LEADING-COMMA", req: post + "Content-Length: {L}\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n" + get, codes: []int{400, 501}, close: true},
		{id: "SMUG-TE-DUPLICATE-HEADERS-SMUGGLED-GET", req: post + te + "Transfer-Encoding: identity\r\nContent-Length: {L}\r\n\r\n0\r\n\r\n" + get, codes: []int{400, 501}, close: true},
		{id: "SMUG-TECL-SMUGGLED-GET", build: func(target string) string {
			// Content-Length frames the chunk-size line alone: the chunk
			// data, a GET, would be the next request.
			sm := "GET " + target + " HTTP/1.1\r\nHost: " + h11Host + "\r\nContent-Length: 7\r\n\r\n"
			size := strconv.FormatInt(int64(len(sm)), 16)
			return "POST " + target + " HTTP/1.1\r\nHost: " + h11Host + "\r\n" + te + "Content-Length: " + strconv.Itoa(len(size)+2) +
				"\r\n\r\n" + size + "\r\n" + sm + "\r\n0\r\n\r\n"
		}, codes: []int{200, 400}, close: true},

		// Bodies are read to their end, never taken for the next request;
		// the connection closes after any chunked request (serve.go).
		{id: "SMUG-GET-CL-BODY-DESYNC", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\n\r\nhello" + get, codes: ok, then: ok},
		{id: "SMUG-HEAD-CL-BODY", req: "HEAD {T} HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\n\r\nhello" + get, codes: ok, then: ok},
		{id: "SMUG-OPTIONS-CL-BODY-DESYNC", req: "OPTIONS {T} HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\n\r\nhello" + get, codes: ok, then: ok},
		{id: "SMUG-PIPELINE-SAFE", req: get + get, codes: ok, then: ok},
		{id: "COMP-POST-CL-BODY", req: post + "Content-Length: 5\r\n\r\nhello" + get, codes: ok, then: ok},
		{id: "COMP-CHUNKED-MULTI", req: post + te + "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" + get, codes: ok, close: true},
		{id: "COMP-CHUNKED-TRAILER-VALID", req: post + te + "\r\n5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n" + get, codes: ok, close: true},
		{id: "COMP-HEAD-NO-BODY", req: "HEAD {T} HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: ok},
		{id: "COMP-CONNECTION-CLOSE", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n" + get, codes: ok, close: true},
		{id: "COMP-HTTP10-DEFAULT-CLOSE", req: "GET {T} HTTP/1.0\r\nHost: {H}\r\n\r\n" + get, codes: ok, close: true},

		// Host: exactly one, valid.
		{id: "RFC9112-7.1-MISSING-HOST", req: "GET {T} HTTP/1.1\r\n\r\n", codes: reject, close: true},
		{id: "RFC9110-5.4-DUPLICATE-HOST", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nHost: other.example.com\r\n\r\n", codes: reject, close: true},
		{id: "COMP-DUPLICATE-HOST-SAME", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-MULTIPLE-HOST-COMMA", req: "GET {T} HTTP/1.1\r\nHost: {H}, other.example.com\r\n\r\n", codes: reject, close: true},
		{id: "COMP-HOST-WITH-USERINFO", req: "GET {T} HTTP/1.1\r\nHost: user@{H}\r\n\r\n", codes: reject, close: true},
		{id: "COMP-HOST-WITH-PATH", req: "GET {T} HTTP/1.1\r\nHost: {H}/path\r\n\r\n", codes: reject, close: true},

		// Field lines and request lines: no leniency that a front end
		// could read differently.
		{id: "RFC9110-5.6.2-SP-BEFORE-COLON", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nX-Test : value\r\n\r\n", codes: reject, close: true},
		{id: "RFC9112-5-EMPTY-HEADER-NAME", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\n: empty-name\r\n\r\n", codes: reject, close: true},
		{id: "RFC9112-5-INVALID-HEADER-NAME", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nBad[Name: value\r\n\r\n", codes: reject, close: true},
		{id: "RFC9112-5-HEADER-NO-COLON", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nNoColonHere\r\n\r\n", codes: reject, close: true},
		{id: "COMP-WHITESPACE-BEFORE-HEADERS", req: "GET {T} HTTP/1.1\r\n \r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "RFC9112-3-CR-ONLY-LINE-ENDING", req: "GET {T} HTTP/1.1\rHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-BARE-CR-HEADER-VALUE", req: post + "Content-Length: 5\r\nX-Test: val\rue\r\n\r\nhello", codes: reject, close: true},
		{id: "MAL-CONTROL-CHARS-HEADER", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nX-Test: abc\x07\x08\x0bdef\r\n\r\n", codes: reject, close: true},
		{id: "MAL-NUL-IN-HEADER-VALUE", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nX-Test: val\x00ue\r\n\r\n", codes: reject, close: true},
		{id: "MAL-NON-ASCII-HEADER-NAME", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nX-T\xc3\xabst: value\r\n\r\n", codes: reject, close: true},
		{id: "RFC9112-3-MULTI-SP-REQUEST-LINE", req: "GET  {T} HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "COMP-REQUEST-LINE-TAB", req: "GET\t{T} HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "COMP-SPACE-IN-TARGET", req: "GET {T}/pa th HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "MAL-NUL-IN-URL", req: "GET {T}\x00test HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "COMP-ASTERISK-WITH-GET", req: "GET * HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: reject},
		{id: "RFC9112-2.3-INVALID-VERSION", req: "GET {T} HTTP/9.9\r\nHost: {H}\r\n\r\n", codes: []int{400, 505}, close: true},
		{id: "COMP-VERSION-CASE", req: "GET {T} http/1.1\r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "COMP-VERSION-MISSING-MINOR", req: "GET {T} HTTP/1\r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "COMP-VERSION-LEADING-ZEROS", req: "GET {T} HTTP/01.01\r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "COMP-VERSION-WHITESPACE", req: "GET {T} HTTP/ 1.1\r\nHost: {H}\r\n\r\n", codes: reject, close: true},
		{id: "COMP-UPGRADE-UNKNOWN", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nConnection: Upgrade\r\nUpgrade: totally-made-up/1.0\r\n\r\n", codes: ok},
		{id: "COMP-UPGRADE-MISSING-CONN", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", codes: ok},

		// Known failures.
		{id: "RFC9112-5.1-OBS-FOLD", req: "GET {T} HTTP/1.1\r\nHost: {H}\r\nX-Test: value\r\n continued\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-TE-NOT-FINAL-CHUNKED", req: post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-TE-EMPTY-VALUE", req: post + "Transfer-Encoding: \r\nContent-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-TE-DUPLICATE-HEADERS", req: post + te + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-TE-HTTP10", req: "POST {T} HTTP/1.0\r\nHost: {H}\r\n" + te + "Content-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-TE-CASE-MISMATCH", req: post + "Transfer-Encoding: Chunked\r\nContent-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-TE-TRAILING-SPACE", req: post + "Transfer-Encoding: chunked \r\nContent-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-TE-OBS-FOLD", req: post + "Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\nhello", codes: reject, close: true},
		{id: "SMUG-CHUNK-LF-TRAILER", req: post + te + "\r\n5\r\nhello\r\n0\r\n\n", codes: reject, close: true,
			known: "net/http waits for a second byte after the bare LF ending the trailer. " + framingGate},
		{id: "SMUG-CHUNK-HEX-PREFIX", req: post + te + "\r\n0x5\r\nhello\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CHUNK-SIZE-PLUS", req: post + te + "\r\n+5\r\nhello\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CHUNK-UNDERSCORE", req: post + te + "\r\n1_0\r\nhello world!!!!!\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CHUNK-LEADING-SP", req: post + te + "\r\n 5\r\nhello\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CHUNK-MISSING-TRAILING-CRLF", req: post + te + "\r\n5\r\nhello0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CHUNK-SPILL", req: post + te + "\r\n5\r\nhello!!\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CHUNK-NEGATIVE", req: post + te + "\r\n-1\r\nhello\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CHUNK-BARE-CR-TERM", req: post + te + "\r\n5\rhello\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CHUNK-EXT-CR", req: post + te + "\r\n5;a\rX\r\nhello\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "MAL-CHUNK-SIZE-OVERFLOW", req: post + te + "\r\nFFFFFFFFFFFFFFFF0\r\nhello\r\n0\r\n\r\n", codes: reject, close: true},
		{id: "SMUG-CHUNK-BARE-SEMICOLON", req: post + te + "\r\n5;\r\nhello\r\n0\r\n\r\n", codes: reject, close: true, known: lenient},
		{id: "SMUG-CHUNK-EXT-INVALID-TOKEN", req: post + te + "\r\n5;bad[=x\r\nhello\r\n0\r\n\r\n", codes: reject, close: true, known: lenient},
		{id: "SMUG-CHUNK-SIZE-TRAILING-OWS", req: post + te + "\r\n5 \r\nhello\r\n0\r\n\r\n", codes: reject, close: true, known: lenient},
		{id: "SMUG-CHUNK-EXT-CTRL", req: post + te + "\r\n5;\x00ext\r\nhello\r\n0\r\n\r\n", codes: reject, close: true, known: lenient},
		{id: "COMP-HOST-EMPTY-VALUE", req: "GET {T} HTTP/1.1\r\nHost: \r\n\r\n", codes: reject},
		{id: "COMP-CONNECT-ORIGIN-FORM", req: "CONNECT /path HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: reject},
		{id: "COMP-METHOD-CONNECT-NO-PORT", req: "CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", codes: reject},
		{id: "MAL-NON-ASCII-URL", req: "GET {T}caf\xc3\xa9 HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: reject},
		{id: "MAL-URL-OVERLONG-UTF8", req: "GET {T}\xc0\xaf HTTP/1.1\r\nHost: {H}\r\n\r\n", codes: reject},
	}
}
