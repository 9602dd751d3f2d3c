package edge

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// fastOrigin serves the objects the fast path tests read, dated by clk.
func fastOrigin(clk *clock, fetches *counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.inc(r.URL.Path)
		h := w.Header()
		h.Set("Date", clk.Now().UTC().Format(http.TimeFormat))
		h.Set("Cache-Control", "max-age=600")
		h.Set("Content-Type", "text/plain")
		h.Set("ETag", `"x"`)
		body := "body of " + r.URL.RequestURI()
		switch r.URL.Path {
		case "/nocontenttype":
			h["Content-Type"] = nil // net/http sends none
		case "/tagged":
			h.Set("Surrogate-Key", "a b")
		case "/storedrange": // nonsense on a 200, but stored as sent
			h.Set("Content-Range", "bytes 0-1/2")
		case "/late": // a Content-Location sorts between Content-Length and Content-Range
			h.Set("Content-Location", "/late.txt")
			h.Set("Last-Modified", clk.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
		case "/big":
			body = strings.Repeat("0123456789abcdef", 100<<10/16)
		case "/huge": // more than loopback sockets take at once
			body = strings.Repeat("0123456789abcdef", 16<<20/16)
		case "/mid": // copied after its head, as the largest such bodies
			body = strings.Repeat("m", fastCopyMax)
		case "/nostore":
			h.Set("Cache-Control", "no-store")
		case "/varycc":
			h.Set("Vary", "Cache-Control")
		case "/chunked": // streamed, unstored: the edge answers chunked
			h.Set("Cache-Control", "no-store")
			io.WriteString(w, body)
			w.(http.Flusher).Flush()
			io.WriteString(w, body)
			return
		case "/gone":
			w.WriteHeader(http.StatusNotFound)
		}
		io.WriteString(w, body)
	})
}

// startFastPair starts two edges with the same config and clock in front
// of one origin: fast with the HTTP/1.1 fast path, slow with net/http
// alone.
func startFastPair(t *testing.T, extra string) (fast, slow *node, fetches *counter) {
	t.Helper()
	clk := newClock()
	fetches = &counter{}
	o := httptest.NewServer(fastOrigin(clk, fetches))
	t.Cleanup(o.Close)
	fast, _ = launch(t, catchAllConfig(t, o, extra), o, clk)
	slow, _ = launchWith(t, catchAllConfig(t, o, extra), o, clk, func(s *Server) { s.noFastPath = true })
	return fast, slow, fetches
}

// startListening starts one edge with the fast path on a listener made
// as cmd/popcache makes them (listenTCP: on Linux, a connection is
// accepted once its first bytes are there).
func startListening(t *testing.T, extra string) *node {
	t.Helper()
	ln, err := listenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	o := httptest.NewServer(fastOrigin(clk, &counter{}))
	t.Cleanup(o.Close)
	n, _ := launchOn(t, ln, catchAllConfig(t, o, extra), o, clk, nil)
	return n
}

// catchAllConfig is a config with one cached route for every host to
// origin o, and extra TOML after it.
func catchAllConfig(t *testing.T, o *httptest.Server, extra string) *conf.Config {
	t.Helper()
	doc := fmt.Sprintf("[[origins]]\nname = \"o\"\nservers = [{ url = %q }]\n[[routes]]\nname = \"all\"\norigin = \"o\"\n%s", o.URL, extra)
	cfg, err := conf.Parse("test.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// rawExchange writes req on c and reads one response: its head verbatim and
// its body (none for HEAD).
func rawExchange(t *testing.T, c net.Conn, br *bufio.Reader, req string) (head, body string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, br, strings.HasPrefix(req, "HEAD "))
}

// readResponse reads one response with a Content-Length framed body.
func readResponse(t *testing.T, br *bufio.Reader, isHead bool) (head, body string) {
	t.Helper()
	var sb strings.Builder
	n := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading head after %q: %v", sb.String(), err)
		}
		sb.WriteString(line)
		if line == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if isHead {
		return sb.String(), ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		t.Fatalf("reading a %d-byte body: %v", n, err)
	}
	return sb.String(), string(b)
}

func dial(t *testing.T, n *node) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// TestFastPathAnswersAsNetHTTP sends the same requests to an edge with
// the fast path and one without, and requires the same bytes back: the
// fast path must be invisible but for speed. It also checks which
// requests the fast path kept and which it handed to net/http.
func TestFastPathAnswersAsNetHTTP(t *testing.T) {
	fast, slow, _ := startFastPair(t, "")
	tests := []struct {
		name, path, req string
		fast            bool // answered without a handoff
	}{
		{"GET", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\n\r\n", true},
		{"HEAD", "/plain", "HEAD /plain HTTP/1.1\r\nHost: a.test\r\n\r\n", true},
		{"lower-case names and more fields", "/plain", "GET /plain HTTP/1.1\r\nhost: a.test\r\nuser-agent: t\r\naccept: */*\r\n\r\n", true},
		{"Connection: close", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", true},
		{"query", "/q?a=1&b", "GET /q?a=1&b HTTP/1.1\r\nHost: a.test\r\n\r\n", true},
		{"escaped path", "/e%20x", "GET /e%20x HTTP/1.1\r\nHost: a.test\r\n\r\n", true},
		{"tag header stripped", "/tagged", "GET /tagged HTTP/1.1\r\nHost: a.test\r\n\r\n", true},
		{"100 KiB body", "/big", "GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n", true},
		{"404 stored", "/gone", "GET /gone HTTP/1.1\r\nHost: a.test\r\n\r\n", true},
		{"no Content-Type: net/http sniffs", "/nocontenttype", "GET /nocontenttype HTTP/1.1\r\nHost: a.test\r\n\r\n", false},
		{"If-Modified-Since matching: 304", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nIf-Modified-Since: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n\r\n", true},
		{"If-None-Match matching: 304", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: W/\"p\", \"x\"\r\n\r\n", true},
		{"If-None-Match not matching: 200", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: \"y\"\r\n\r\n", true},
		{"HEAD with a matching conditional", "/plain", "HEAD /plain HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: *\r\n\r\n", true},
		{"conditional on a 404", "/gone", "GET /gone HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: *\r\n\r\n", true},
		{"range: 206", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\n\r\n", true},
		{"suffix range: 206", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=-3\r\n\r\n", true},
		{"open range: 206", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nrange: Bytes=2-\r\n\r\n", true},
		{"range past the end, clipped: 206", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=2-1000\r\n\r\n", true},
		{"range of 100 KiB: 206", "/big", "GET /big HTTP/1.1\r\nHost: a.test\r\nRange: bytes=100-90099\r\n\r\n", true},
		{"range, fields around Content-Range: 206", "/late", "GET /late HTTP/1.1\r\nHost: a.test\r\nRange: bytes=1-2\r\n\r\n", true},
		{"range, HTTP/1.0: 206", "/plain", "GET /plain HTTP/1.0\r\nHost: a.test\r\nRange: bytes=0-0\r\n\r\n", true},
		{"range and If-Range matching: 206", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\nIf-Range: \"x\"\r\n\r\n", true},
		{"range and If-Range date matching: 206", "/late", "GET /late HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\nIf-Range: " + fast.clock.Now().Add(-time.Hour).UTC().Format(http.TimeFormat) + "\r\n\r\n", true},
		{"range and If-Range not matching: 200", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\nIf-Range: \"y\"\r\n\r\n", true},
		{"range and a weak If-Range: 200", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\nIf-Range: W/\"x\"\r\n\r\n", true},
		{"range and a matching If-None-Match: 304", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\nIf-None-Match: \"x\"\r\n\r\n", true},
		{"several ranges: 200", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-1,3-4\r\n\r\n", true},
		{"two Range lines: 200", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-1\r\nRange: bytes=3-4\r\n\r\n", true},
		{"invalid range: 200", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=x-\r\n\r\n", true},
		{"other unit: 200", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: items=0-1\r\n\r\n", true},
		{"HEAD with a range: 200", "/plain", "HEAD /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\n\r\n", true},
		{"range on a 404: 404", "/gone", "GET /gone HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\n\r\n", true},
		{"unsatisfiable range: net/http's 416", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nRange: bytes=1000-\r\n\r\n", false},
		{"range on a stored Content-Range: net/http's 206", "/storedrange", "GET /storedrange HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\n\r\n", false},
		{"stored Content-Range, no range: 200", "/storedrange", "GET /storedrange HTTP/1.1\r\nHost: a.test\r\n\r\n", true},
		{"reload: request Cache-Control and Pragma", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nCache-Control: max-age=0\r\nPragma: no-cache\r\n\r\n", true},
		{"Pragma alone, under Vary: Cache-Control", "/varycc", "GET /varycc HTTP/1.1\r\nHost: a.test\r\nPragma: no-cache\r\n\r\n", false},
		{"request no-store", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nCache-Control: no-store\r\n\r\n", true},
		{"HTTP/1.0", "/plain", "GET /plain HTTP/1.0\r\nHost: a.test\r\n\r\n", true},
		{"HTTP/1.0 keep-alive", "/plain", "GET /plain HTTP/1.0\r\nHost: a.test\r\nConnection: Keep-Alive\r\n\r\n", true},
		{"HTTP/1.0 HEAD keep-alive", "/plain", "HEAD /plain HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n", true},
		{"HTTP/1.0 304 keep-alive", "/plain", "GET /plain HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\nIf-None-Match: *\r\n\r\n", true},
		{"HTTP/1.0 keep-alive and close: net/http's call", "/plain", "GET /plain HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive, close\r\n\r\n", false},
		{"HTTP/1.0 without Host", "/plain", "GET /plain HTTP/1.0\r\n\r\n", false},
		{"HTTP/1.0, keep-alive on a second Connection line: net/http's call", "/plain", "GET /plain HTTP/1.0\r\nHost: a.test\r\nConnection:\r\nConnection: keep-alive\r\n\r\n", false},
		{"two Connection lines: net/http's call", "/plain", "GET /plain HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range []*node{fast, slow} {
				n.get(tt.path, "Host", "a.test") // fill
				n.get(tt.path, "Host", "a.test")
			}
			before := gatheredValue(t, fast.reg, "popcache_h1_fast_handoffs_total")
			fc, fbr := dial(t, fast)
			sc, sbr := dial(t, slow)
			fh, fb := rawExchange(t, fc, fbr, tt.req)
			sh, sb := rawExchange(t, sc, sbr, tt.req)
			for _, want := range []string{"200", "206", "304", "404", "416"} {
				if strings.HasSuffix(tt.name, " "+want) && !strings.Contains(fh[:min(len(fh), 12)], " "+want) {
					t.Errorf("got %q, want a %s", fh, want)
				}
			}
			if fh != sh || fb != sb {
				t.Errorf("fast path answered\n%s(%d body bytes)\nnet/http answered\n%s(%d body bytes)", fh, len(fb), sh, len(sb))
			}
			handoffs := gatheredValue(t, fast.reg, "popcache_h1_fast_handoffs_total") - before
			if want := map[bool]float64{true: 0, false: 1}[tt.fast]; handoffs != want {
				t.Errorf("%v handoffs, want %v", handoffs, want)
			}
		})
	}
}

// TestFastPathPipelining sends three requests in one write: a hit, a
// miss and a hit. The first is answered by the fast path, which then
// hands the connection to net/http with the rest unread; all three
// answers come back in order.
func TestFastPathPipelining(t *testing.T) {
	fast, _, fetches := startFastPair(t, "")
	fast.get("/a", "Host", "a.test")
	c, br := dial(t, fast)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n"
	if _, err := io.WriteString(c, req+"GET /b HTTP/1.1\r\nHost: a.test\r\n\r\n"+req); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"body of /a", "body of /b", "body of /a"} {
		head, body := readResponse(t, br, false)
		if body != want || !strings.HasPrefix(head, "HTTP/1.1 200 ") {
			t.Fatalf("response %d: %q %q, want body %q", i, head, body, want)
		}
	}
	if got := fetches.get("/a") + fetches.get("/b"); got != 2 {
		t.Errorf("%d origin fetches, want 2", got)
	}
	if got := gatheredValue(t, fast.reg, "popcache_h1_fast_handoffs_total"); got < 1 {
		t.Errorf("%v handoffs, want at least the pipelined miss's", got)
	}
}

// TestFastPathKeepAlive answers many hits on one connection, never
// handing it off, with the metrics counting each.
func TestFastPathKeepAlive(t *testing.T) {
	fast, _, _ := startFastPair(t, "")
	fast.get("/k", "Host", "a.test")
	before := gatheredValue(t, fast.reg, "popcache_requests_total", "cache", "hit")
	handoffs := gatheredValue(t, fast.reg, "popcache_h1_fast_handoffs_total")
	c, br := dial(t, fast)
	const n = 50
	for i := range n {
		if _, body := rawExchange(t, c, br, "GET /k HTTP/1.1\r\nHost: a.test\r\n\r\n"); body != "body of /k" {
			t.Fatalf("request %d: body %q", i, body)
		}
	}
	if got := gatheredValue(t, fast.reg, "popcache_requests_total", "cache", "hit") - before; got != n {
		t.Errorf("%v hits counted, want %d", got, n)
	}
	if got := gatheredValue(t, fast.reg, "popcache_h1_fast_handoffs_total"); got != handoffs {
		t.Errorf("handoffs went from %v to %v", handoffs, got)
	}
}

// TestFastPathLimits checks that the fast path keeps the configured
// limits: a head over max_header_bytes gets net/http's 431, a URI over
// max_uri_bytes the pipeline's 414, and a request line that does not end
// within the head limit 414 (431 from net/http for a GET, which the fast
// path reads as a hit until then), or 400 if its method does not.
func TestFastPathLimits(t *testing.T) {
	fast, _, _ := startFastPair(t, "[server]\nmax_header_bytes = \"4KiB\"\nmax_uri_bytes = \"1KiB\"\n")
	fast.get("/l", "Host", "a.test")
	tests := []struct{ name, req, want string }{
		{"header too large", "GET /l HTTP/1.1\r\nHost: a.test\r\nX-Big: " + strings.Repeat("b", 8<<10) + "\r\n\r\n", "HTTP/1.1 431 "},
		{"URI too long", "GET /l?" + strings.Repeat("q", 2<<10) + " HTTP/1.1\r\nHost: a.test\r\n\r\n", "HTTP/1.1 414 "},
		{"GET line over the head limit (net/http's answer)", "GET /l?" + strings.Repeat("q", 12<<10) + " HTTP/1.1\r\nHost: a.test\r\n\r\n", "HTTP/1.1 431 "},
		{"POST line over the head limit", "POST /l?" + strings.Repeat("q", 12<<10) + " HTTP/1.1\r\nHost: a.test\r\n\r\n", "HTTP/1.1 414 "},
		{"method over the head limit", strings.Repeat("A", 12<<10) + " /l HTTP/1.1\r\nHost: a.test\r\n\r\n", "HTTP/1.1 400 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp := fast.raw(tt.req); !strings.HasPrefix(resp, tt.want) {
				t.Errorf("got %.80q, want %q", resp, tt.want)
			}
		})
	}
}

// TestFastPathTimeouts checks that the fast path closes a connection as
// net/http would: one whose first head (or a later one, once begun) is
// not complete within read_header_timeout, however long idle_timeout is;
// one idle after a request for idle_timeout, however long
// read_header_timeout is. The client waits far longer than the timeout
// under test and far less than the other.
func TestFastPathTimeouts(t *testing.T) {
	headShort, _, _ := startFastPair(t, "[server]\nread_header_timeout = \"300ms\"\nidle_timeout = \"1h\"\n")
	idleShort, _, _ := startFastPair(t, "[server]\nread_header_timeout = \"1h\"\nidle_timeout = \"300ms\"\n")
	// Accepted once the first bytes are there, as cmd/popcache listens:
	// the fast path reads them before it arms the header timeout.
	deferred := startListening(t, "[server]\nread_header_timeout = \"300ms\"\nidle_timeout = \"1h\"\n")
	hit := "GET /l HTTP/1.1\r\nHost: a.test\r\n\r\n"
	tests := []struct {
		name string
		n    *node
		send []string // written in turn, a response read after each complete request
	}{
		{"silent new connection", headShort, nil},
		{"first head cut short", headShort, []string{"GET /l HTTP/1.1\r\nHost: a.test\r\n"}},
		{"first head cut short, accepted with its start", deferred, []string{"GET /l HTTP/1.1\r\nHost: a.test\r\n"}},
		{"second head cut short, accepted with the first", deferred, []string{hit, "GET /l HTTP/1.1\r\n"}},
		{"second head cut short", headShort, []string{hit, "GET /l HTTP/1.1\r\n"}},
		{"idle after a hit", idleShort, []string{hit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.n.get("/l", "Host", "a.test")
			c, br := dial(t, tt.n)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			for _, w := range tt.send {
				io.WriteString(c, w)
				if strings.HasSuffix(w, "\r\n\r\n") {
					readResponse(t, br, false)
				}
			}
			if b, err := io.ReadAll(br); err != nil || len(b) != 0 {
				t.Errorf("read %q, %v; want the edge to close the connection", b, err)
			}
		})
	}
}

// fastCounters returns n's handoff and resume counters.
func fastCounters(t *testing.T, n *node) (handoffs, resumes float64) {
	return gatheredValue(t, n.reg, "popcache_h1_fast_handoffs_total"), gatheredValue(t, n.reg, "popcache_h1_fast_resumes_total")
}

// settledCounters waits until every handoff so far has been resumed and
// returns the handoff and resume counters. A resumption is counted just
// after its response is written, so a client can read the response of a
// warming request before its resumption is counted; a baseline read then
// would be one short.
func settledCounters(t *testing.T, n *node) (handoffs, resumes float64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		handoffs, resumes = fastCounters(t, n)
		if handoffs == resumes {
			return handoffs, resumes
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v handoffs but %v resumes after 5s; want every handoff resumed", handoffs, resumes)
		}
	}
}

// TestFastPathResumes follows one keep-alive connection through the fast
// path, a handoff at a miss, back to the fast path, a handoff at a
// chunked pass, a clean hit answered by net/http and back again, with
// pipelined requests across a resumption: every answer in order, and the
// counters saying who answered.
func TestFastPathResumes(t *testing.T) {
	fast, _, fetches := startFastPair(t, "")
	fast.get("/a", "Host", "a.test")
	c, br := dial(t, fast)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	h0, r0 := settledCounters(t, fast)
	steps := []struct {
		send              string
		bodies            []string
		handoffs, resumes float64 // since the start, after the step
	}{
		{"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n", []string{"body of /a"}, 0, 0},
		{"GET /b HTTP/1.1\r\nHost: a.test\r\n\r\n", []string{"body of /b"}, 1, 1},
		{"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n", []string{"body of /a"}, 1, 1},
		{"GET /chunked HTTP/1.1\r\nHost: a.test\r\n\r\n", []string{"body of /chunkedbody of /chunked"}, 2, 1},
		{"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n", []string{"body of /a"}, 2, 2},
		{"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n", []string{"body of /a"}, 2, 2},
		{"GET /c HTTP/1.1\r\nHost: a.test\r\n\r\nGET /a HTTP/1.1\r\nHost: a.test\r\n\r\nHEAD /a HTTP/1.1\r\nHost: a.test\r\n\r\n",
			[]string{"body of /c", "body of /a", ""}, 3, 3},
		{"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n", []string{"body of /a"}, 3, 3},
	}
	for i, st := range steps {
		if _, err := io.WriteString(c, st.send); err != nil {
			t.Fatal(err)
		}
		for j, want := range st.bodies {
			method := http.MethodGet
			if want == "" {
				method = http.MethodHead
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				t.Fatalf("step %d, response %d: %v", i, j, err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || string(b) != want || resp.StatusCode != http.StatusOK {
				t.Fatalf("step %d, response %d: %d %q, %v; want 200 %q", i, j, resp.StatusCode, b, err, want)
			}
		}
		// A resumption is counted just after the response is written.
		h, r := fastCounters(t, fast)
		for deadline := time.Now().Add(5 * time.Second); (h-h0 != st.handoffs || r-r0 != st.resumes) && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
			h, r = fastCounters(t, fast)
		}
		if h-h0 != st.handoffs || r-r0 != st.resumes {
			t.Errorf("after step %d: %v handoffs, %v resumes; want %v, %v", i, h-h0, r-r0, st.handoffs, st.resumes)
		}
	}
	if got := fetches.get("/a"); got != 1 {
		t.Errorf("%d origin fetches of /a, want 1", got)
	}
}

// TestFastPathStreak sends nothing but unsatisfiable Range requests,
// which the fast path leaves to net/http's 416, on one connection: after maxHandoffStreak handoffs
// in a row the connection stays with net/http instead of paying a
// handoff and a hijack per request.
func TestFastPathStreak(t *testing.T) {
	fast, _, _ := startFastPair(t, "")
	fast.get("/r", "Host", "a.test")
	c, br := dial(t, fast)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	h0, r0 := settledCounters(t, fast)
	for i := range maxHandoffStreak + 3 {
		if _, err := io.WriteString(c, "GET /r HTTP/1.1\r\nHost: a.test\r\nRange: bytes=100-\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || len(b) != 0 {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	h := gatheredValue(t, fast.reg, "popcache_h1_fast_handoffs_total") - h0
	r := gatheredValue(t, fast.reg, "popcache_h1_fast_resumes_total") - r0
	if h != maxHandoffStreak || r != maxHandoffStreak-1 {
		t.Errorf("%v handoffs, %v resumes; want %d and %d", h, r, maxHandoffStreak, maxHandoffStreak-1)
	}
}

// TestFastPathNoUpgradeMidConnection sends an h2c preface after a hit on
// the same connection: net/http alone would refuse it; the fast path must
// not let the handoff make it look like a new connection's preface.
func TestFastPathNoUpgradeMidConnection(t *testing.T) {
	fast, _, _ := startFastPair(t, "")
	fast.get("/u", "Host", "a.test")
	c, br := dial(t, fast)
	rawExchange(t, c, br, "GET /u HTTP/1.1\r\nHost: a.test\r\n\r\n")
	io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	b, _ := io.ReadAll(br)
	if len(b) >= 9 && string(b[3:4]) == "\x04" { // a SETTINGS frame header: type 4
		t.Fatalf("the connection switched to HTTP/2: % x", b[:9])
	}
	if strings.HasPrefix(string(b), "HTTP/1.1 200") {
		t.Fatalf("answered the preface: %q", b)
	}
}

// TestFastPathShutdown checks that stopping the node closes an idle
// keep-alive connection the fast path holds, at once rather than after
// the idle timeout or the shutdown timeout.
func TestFastPathShutdown(t *testing.T) {
	clk := newClock()
	o := httptest.NewServer(fastOrigin(clk, &counter{}))
	t.Cleanup(o.Close)
	cfg := catchAllConfig(t, o, "[server]\nidle_timeout = \"10m\"\nshutdown_timeout = \"10m\"\n")
	n, stop := launch(t, cfg, o, clk)
	n.get("/s", "Host", "a.test")
	c, br := dial(t, n)
	rawExchange(t, c, br, "GET /s HTTP/1.1\r\nHost: a.test\r\n\r\n")
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	c.SetDeadline(time.Now().Add(time.Minute))
	if b, err := io.ReadAll(br); err != nil || len(b) != 0 {
		t.Errorf("read %q, %v; want the connection closed", b, err)
	}
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("the node did not stop")
	}
}
