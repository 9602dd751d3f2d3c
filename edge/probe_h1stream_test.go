package edge

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Probes of the HTTP/1.1 fast path as an outside tester sends them: whole
// byte streams, pipelined, across the fast path's handoff to net/http and
// its resumption. The fast path must be invisible: an edge with it and
// one without must answer every stream with the same bytes and ask their
// origins the same things.

// originLog records the requests an origin received, in order.
type originLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *originLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

// take returns the requests recorded since the last take.
func (l *originLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.lines
	l.lines = nil
	return s
}

// probeOrigin records each request (method, target, Host, body) and
// answers with a small cacheable body dated by clk.
func probeOrigin(clk *clock, log *originLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		log.add(fmt.Sprintf("%s %s host=%s body=%q", r.Method, r.RequestURI, r.Host, body))
		h := w.Header()
		h.Set("Date", clk.Now().UTC().Format(http.TimeFormat))
		h.Set("Cache-Control", "max-age=600")
		h.Set("Content-Type", "text/plain")
		h.Set("ETag", `"e"`)
		io.WriteString(w, "body of "+r.Method+" "+r.RequestURI)
	})
}

// startProbePair starts an edge with the fast path and one without, on
// the same clock, each in front of its own recording origin.
func startProbePair(t *testing.T) (fast, slow *node, fastLog, slowLog *originLog) {
	t.Helper()
	clk := newClock()
	fastLog, slowLog = &originLog{}, &originLog{}
	fo := httptest.NewServer(probeOrigin(clk, fastLog))
	so := httptest.NewServer(probeOrigin(clk, slowLog))
	t.Cleanup(fo.Close)
	t.Cleanup(so.Close)
	fast, _ = launch(t, catchAllConfig(t, fo, ""), fo, clk)
	slow, _ = launchWith(t, catchAllConfig(t, so, ""), so, clk, func(s *Server) { s.noFastPath = true })
	return fast, slow, fastLog, slowLog
}

// transcript writes chunks on a new connection to n, one write each, and
// returns all it reads until the server closes the connection (every
// stream ends with a request asking to close), or 5s pass.
func transcript(t *testing.T, n *node, chunks []string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// The chunks are separate writes, so that a head may arrive in
	// pieces; how the network joins them must not change the answers.
	go func() {
		for _, ch := range chunks {
			if _, err := io.WriteString(c, ch); err != nil {
				return
			}
		}
	}()
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b)
}

// dateLine matches the Date fields net/http adds to the responses it
// writes itself (errors): the only bytes allowed to differ.
var dateLine = regexp.MustCompile(`(?m)^Date: [^\r]*\r\n`)

func TestProbeFastPathStreams(t *testing.T) {
	fast, slow, fastLog, slowLog := startProbePair(t)
	const (
		hit  = "GET /hit HTTP/1.1\r\nHost: a.test\r\n\r\n"
		last = "GET /hit HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
	)
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n"
	tests := []struct {
		name   string
		chunks []string
	}{
		{"hits", []string{hit, hit, last}},
		{"hit, miss, hit", []string{hit + "GET /miss1 HTTP/1.1\r\nHost: a.test\r\n\r\n" + hit + last}},
		{"miss, then hits after the resumption", []string{"GET /miss2 HTTP/1.1\r\nHost: a.test\r\n\r\n" + hit + hit + last}},
		{"HEAD hit between hits", []string{hit + "HEAD /hit HTTP/1.1\r\nHost: a.test\r\n\r\n" + hit + last}},
		{"304 between hits", []string{hit + "GET /hit HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: \"e\"\r\n\r\n" + last}},
		{"range between hits", []string{hit + "GET /hit HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-3\r\n\r\n" + hit + last}},
		{"POST whose body is a request", []string{hit + fmt.Sprintf("POST /post1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n%s", len(smuggled), smuggled) + hit + last}},
		{"GET with a body that is a request", []string{hit + fmt.Sprintf("GET /hit HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n%s", len(smuggled), smuggled) + hit + last}},
		{"GET with Content-Length: 0", []string{hit + "GET /hit HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n" + hit + last}},
		{"chunked GET carrying a request", []string{hit + fmt.Sprintf("GET /hit HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled) + hit + last}},
		{"CL.TE", []string{hit + "POST /post2 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled + last}},
		{"TE.CL", []string{hit + fmt.Sprintf("POST /post3 HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled) + last}},
		{"obfuscated Transfer-Encoding", []string{hit + "POST /post4 HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + last}},
		{"HTTP/1.0 keep-alive", []string{hit + "GET /hit HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n" + hit + last}},
		{"bare LF line ends", []string{hit + "GET /hit HTTP/1.1\nHost: a.test\n\n" + hit + last}},
		{"obs-fold", []string{hit + "GET /hit HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n 2\r\n\r\n" + hit + last}},
		{"bare CR", []string{hit + "GET /hit HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r2\r\n\r\n" + last}},
		{"NUL in a value", []string{hit + "GET /hit HTTP/1.1\r\nHost: a.test\r\nX-A: 1\x002\r\n\r\n" + last}},
		{"two Hosts", []string{hit + "GET /hit HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n" + last}},
		{"absolute-form naming another host", []string{hit + "GET http://b.test/hit HTTP/1.1\r\nHost: a.test\r\n\r\n" + hit + last}},
		{"lower-case method", []string{hit + "get /hit HTTP/1.1\r\nHost: a.test\r\n\r\n" + hit + last}},
		{"HTTP/1.2", []string{hit + "GET /hit HTTP/1.2\r\nHost: a.test\r\n\r\n" + hit + last}},
		{"Expect: 100-continue with a body", []string{hit + "POST /post5 HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab" + hit + last}},
		{"h2c upgrade request", []string{hit + "GET /hit HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n" + hit + last}},
		{"Connection: close stops the stream", []string{hit + "GET /hit HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n" + hit + last}},
		{"head split mid-name", []string{"GET /hit HTTP/1.1\r\nHo", "st: a.test\r\n\r\n", last}},
		{"head split inside CRLF", []string{hit + "GET /miss3 HTTP/1.1\r\nHost: a.test\r", "\n\r", "\n" + last}},
		{"request line split", []string{hit + "GE", "T /hit HTT", "P/1.1\r\nHost: a.test\r\n\r\n" + last}},
		{"leading empty line", []string{hit + "\r\nGET /hit HTTP/1.1\r\nHost: a.test\r\n\r\n" + last}},
	}
	for _, n := range []*node{fast, slow} {
		n.get("/hit", "Host", "a.test")
	}
	fastLog.take()
	slowLog.take()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := dateLine.ReplaceAllString(transcript(t, fast, tt.chunks), "")
			s := dateLine.ReplaceAllString(transcript(t, slow, tt.chunks), "")
			if f != s {
				t.Errorf("fast path answered\n%s\nnet/http answered\n%s", f, s)
			}
			if !strings.HasPrefix(f, "HTTP/1.1 ") {
				t.Errorf("no answer: %q", f)
			}
			if fl, sl := fastLog.take(), slowLog.take(); strings.Join(fl, "\n") != strings.Join(sl, "\n") {
				t.Errorf("origin behind the fast path got\n%s\nbehind net/http\n%s", strings.Join(fl, "\n"), strings.Join(sl, "\n"))
			}
		})
	}
}

// TestProbeParseHandsOffHopFields: the fast path keeps no field that a
// Connection option it accepts nominates (RFC 9110 §7.6.1): such a field
// is the hop's alone and must neither key nor pick a variant, so the
// request goes to ServeHTTP, which drops it (dropNominated).
func TestProbeParseHandsOffHopFields(t *testing.T) {
	for _, in := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nkeep-alive: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nClose: 1\r\nConnection: close\r\n\r\n",
	} {
		if _, _, res, _ := parseH1Head([]byte(in), 0, http.Header{}, nil); res != parseHandoff {
			t.Errorf("%q: result %v, want a handoff", in, res)
		}
	}
}
