//go:build linux

package edge

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestFastPathAnswersAtAccept sends one request per new connection and
// checks which the accepting goroutine answered itself (a plain hit,
// alone, asking to close), that every answer is whole, and that the
// connection is closed after an answer that said so.
func TestFastPathAnswersAtAccept(t *testing.T) {
	fast := startListening(t, "")
	for _, p := range []string{"/plain", "/huge"} {
		fast.get(p, "Host", "a.test") // fill
	}
	const plainBody = "body of /plain"
	tests := []struct {
		name     string
		writes   []string // written in turn, 50 ms apart
		lag      time.Duration
		answers  []string // each response's body, in order
		closes   bool     // the edge closes after the last answer
		atAccept float64  // connections answered at accept
	}{
		{"Connection: close", []string{"GET /plain HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"}, 0, []string{plainBody}, true, 1},
		{"HTTP/1.0", []string{"GET /plain HTTP/1.0\r\nHost: a.test\r\n\r\n"}, 0, []string{plainBody}, true, 1},
		{"HEAD, close", []string{"HEAD /plain HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"}, 0, []string{""}, true, 1},
		{"keep-alive: its goroutine's", []string{"GET /plain HTTP/1.1\r\nHost: a.test\r\n\r\n"}, 0, []string{plainBody}, false, 0},
		{"close with a request behind it: its goroutine's", []string{"GET /plain HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\nGET /plain HTTP/1.1\r\nHost: a.test\r\n\r\n"}, 0, []string{plainBody}, true, 0},
		{"miss asking to close: net/http's", []string{"GET /cold HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"}, 0, []string{"body of /cold"}, true, 0},
		{"head in two writes: its goroutine's", []string{"GET /plain HTTP/1.1\r\nHost: a.te", "st\r\nConnection: close\r\n\r\n"}, 0, []string{plainBody}, true, 0},
		{"16 MiB to a client that waits before reading", []string{"GET /huge HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"}, 300 * time.Millisecond, []string{strings.Repeat("0123456789abcdef", 16<<20/16)}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := gatheredValue(t, fast.reg, "popcache_h1_fast_accept_answers_total")
			c, br := dial(t, fast)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			for i, w := range tt.writes {
				if i > 0 {
					time.Sleep(50 * time.Millisecond)
				}
				if _, err := io.WriteString(c, w); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(tt.lag)
			isHead := strings.HasPrefix(tt.writes[0], "HEAD ")
			for i, want := range tt.answers {
				head, body := readResponse(t, br, isHead)
				if !strings.HasPrefix(head, "HTTP/1.1 200 ") && !strings.HasPrefix(head, "HTTP/1.0 200 ") {
					t.Fatalf("answer %d: %q", i, head)
				}
				if body != want {
					t.Errorf("answer %d: %d body bytes, want %d", i, len(body), len(want))
				}
				if last := i == len(tt.answers)-1; last && !strings.HasPrefix(head, "HTTP/1.0") && tt.closes != strings.Contains(head, "\r\nConnection: close\r\n") {
					t.Errorf("answer %d: Connection: close in the head is %v, want %v:\n%s", i, !tt.closes, tt.closes, head)
				}
			}
			if tt.closes {
				if n, err := br.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
					t.Errorf("after the answer: read %d bytes, %v; want EOF", n, err)
				}
			} else {
				io.WriteString(c, "GET /plain HTTP/1.1\r\nHost: a.test\r\n\r\n")
				if _, body := readResponse(t, br, false); body != plainBody {
					t.Errorf("second answer on the kept connection: %q", body)
				}
			}
			if got := gatheredValue(t, fast.reg, "popcache_h1_fast_accept_answers_total") - before; got != tt.atAccept {
				t.Errorf("%v answered at accept, want %v", got, tt.atAccept)
			}
		})
	}
}
