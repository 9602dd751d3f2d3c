package edge

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestStrictChunkedBodies sends chunked POSTs through a real edge: the
// malformed ones net/http's reader would have taken (the smuggling
// levers of h1fast_chunks.go) are answered 400 and never reach the
// origin whole, whether the bad byte comes with the head or after the
// connection was handed to net/http; well-formed ones, extensions and
// trailers included, reach it intact.
func TestStrictChunkedBodies(t *testing.T) {
	rec := &bodyRecorder{}
	n := startNode(t, rec, "")
	const head = "POST /form HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
	tests := []struct {
		name        string
		first, then string // then is sent after a pause, once the edge has handed the connection over
		want        string // status code
		origin      string // the body the origin must read, "" for none
	}{
		{"well-formed", "5;a=\"b\"\r\nhello\r\n", "6;c\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n", "200", "hello world"},
		{"bare semicolon", "5;\r\nhello\r\n0\r\n\r\n", "", "400", ""},
		{"invalid extension token", "5;a@b\r\nhello\r\n0\r\n\r\n", "", "400", ""},
		{"whitespace after the size", "5 \r\nhello\r\n0\r\n\r\n", "", "400", ""},
		{"control character in an extension", "5;a=\x01\r\nhello\r\n0\r\n\r\n", "", "400", ""},
		{"trailer ended by a bare LF", "5\r\nhello\r\n0\r\nX-A: 1\n\n", "", "400", ""},
		{"bare semicolon after the handoff", "5\r\nhello\r\n", "5;\r\nworld\r\n0\r\n\r\n", "400", ""},
		{"bare LF after the handoff", "5\r\nhello\r\n", "5\nworld\r\n0\r\n\r\n", "400", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.take()
			c, br := dial(t, n)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, head+tt.first); err != nil {
				t.Fatal(err)
			}
			if tt.then != "" {
				time.Sleep(50 * time.Millisecond)
				io.WriteString(c, tt.then) // may fail once the edge has answered
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			resp.Body.Close()
			if code := resp.Status[:3]; code != tt.want {
				t.Errorf("status %s, want %s (%v)", resp.Status, tt.want, resp.Header)
			}
			got := rec.take()
			switch {
			case tt.origin == "" && len(got) > 0:
				t.Errorf("the origin read a whole body: %q", got)
			case tt.origin != "" && (len(got) != 1 || got[0] != tt.origin):
				t.Errorf("the origin read %q, want %q", got, tt.origin)
			}
		})
	}
	if v := gatheredValue(t, n.reg, "popcache_upstream_ejections_total"); v != 0 {
		t.Errorf("%v ejections of the origin by clients' bad bodies", v)
	}
}

// TestChunkedBodiesCheckedOnKeptConnections sends the malformed chunked
// body after requests that leave the connection with net/http (a body,
// a streamed miss, misses in a row): it is refused there too, and the
// requests before it are answered.
func TestChunkedBodiesCheckedOnKeptConnections(t *testing.T) {
	rec := &bodyRecorder{only: "/bad"}
	n := startNode(t, rec, "")
	const (
		bad     = "POST /bad HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"
		badHead = "GET /fold HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n 2\r\n\r\n"
	)
	tests := []struct {
		name   string
		before []string // requests answered first, one at a time
		last   string   // the refused one; bad when empty
	}{
		{"after a POST with a body", []string{"POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n\r\nx"}, ""},
		{"a folded head after a POST with a body", []string{"POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n\r\nx"}, badHead},
		{"after three misses", []string{
			"GET /m1 HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET /m2 HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET /m3 HTTP/1.1\r\nHost: a.test\r\n\r\n"}, ""},
		// net/http keeps this connection and reads the folded head itself:
		// it must answer 400, not close without a word.
		{"a folded head after three misses", []string{
			"GET /m4 HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET /m5 HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET /m6 HTTP/1.1\r\nHost: a.test\r\n\r\n"}, badHead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.take()
			c, br := dial(t, n)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			last := tt.last
			if last == "" {
				last = bad
			}
			for i, req := range append(tt.before, last) {
				if _, err := io.WriteString(c, req); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("request %d: no response: %v", i, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				want := http.StatusOK
				if req == last {
					want = http.StatusBadRequest
				}
				if resp.StatusCode != want {
					t.Errorf("request %d: %s, want %d", i, resp.Status, want)
				}
			}
			if got := rec.take(); len(got) > 0 {
				t.Errorf("the origin read the malformed body whole: %q", got)
			}
		})
	}
}

// bodyRecorder is an origin that reads each request body whole and keeps
// it (those of path only, if set); a body cut short gets no answer.
type bodyRecorder struct {
	only string
	mu   sync.Mutex
	got  []string
}

func (b *bodyRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if b.only == "" || r.URL.Path == b.only {
		b.mu.Lock()
		b.got = append(b.got, string(body))
		b.mu.Unlock()
	}
	io.WriteString(w, "ok")
}

// take returns the bodies kept so far, and forgets them.
func (b *bodyRecorder) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := b.got
	b.got = nil
	return got
}
