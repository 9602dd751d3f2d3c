//go:build linux

package edge

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestFastPathSendfile checks the plain hits whose bodies the memory tier
// keeps in memory files (cache.Pages), written with sendfile, on the
// event loops (which read the requests, after a first answer) and on
// goroutines: whole bodies, parts, HEAD, a body far
// larger than the socket takes at once to a client slow to read, and
// pipelined answers, each in order and complete. The counter proves
// which answers went by sendfile.
func TestFastPathSendfile(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 100<<10/16)
	huge := strings.Repeat("0123456789abcdef", 16<<20/16)
	type answer struct {
		status, body string
	}
	tests := []struct {
		name     string
		reqs     []string
		delay    time.Duration // before the client reads
		want     []answer
		sendfile float64 // answers written with sendfile
	}{
		{"100 KiB", []string{"GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n"}, 0,
			[]answer{{"200", big}}, 1},
		{"a part of 100 KiB", []string{"GET /big HTTP/1.1\r\nHost: a.test\r\nRange: bytes=100-90099\r\n\r\n"}, 0,
			[]answer{{"206", big[100:90100]}}, 1},
		{"HEAD of 100 KiB", []string{"HEAD /big HTTP/1.1\r\nHost: a.test\r\n\r\n"}, 0,
			[]answer{{"200", ""}}, 0},
		{"16 MiB to a client that waits before reading", []string{"GET /huge HTTP/1.1\r\nHost: a.test\r\n\r\n"}, 300 * time.Millisecond,
			[]answer{{"200", huge}}, 1},
		{"pipelined around small answers", []string{
			"GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n",
			"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n",
			"GET /huge HTTP/1.1\r\nHost: a.test\r\nRange: bytes=5-\r\n\r\n",
			"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n",
			"GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n",
		}, 100 * time.Millisecond,
			[]answer{{"200", big}, {"200", "body of /a"}, {"206", huge[5:]}, {"200", "body of /a"}, {"200", big}}, 3},
		// The refusal is written by the goroutine while the file is still
		// queued: it must not go between the head and the body (found by
		// a review).
		{"a refusal after it", []string{
			"GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n",
			"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
		}, 0, []answer{{"200", big}, {"400", ""}}, 1},
	}
	for _, loops := range []string{"", "event_loops = -1\n"} {
		name := map[bool]string{true: "loops", false: "goroutines"}[loops == ""]
		t.Run(name, func(t *testing.T) {
			fast, _, _ := startFastPair(t, "[server]\n"+loops)
			for _, p := range []string{"/a", "/big", "/huge"} {
				fast.get(p, "Host", "a.test")
			}
			settle(t, fast)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before := gatheredValue(t, fast.reg, "popcache_h1_sendfile_answers_total")
					c, br := dial(t, fast)
					// A first answer, after which a connection waits in
					// the event loops: they read what follows.
					rawExchange(t, c, br, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
					if loops == "" && !waitFor(func() bool { return waitingConns(t, fast) == 1 }) {
						t.Fatal("the connection is not in the event loops")
					}
					c.SetDeadline(time.Now().Add(20 * time.Second))
					if _, err := io.WriteString(c, strings.Join(tt.reqs, "")); err != nil {
						t.Fatal(err)
					}
					time.Sleep(tt.delay)
					for i, w := range tt.want {
						head, body := readResponse(t, br, strings.HasPrefix(tt.reqs[i], "HEAD "))
						if w.status == "400" {
							body = "" // the refusal's own text
						}
						if status := strings.Fields(head)[1]; status != w.status || body != w.body {
							t.Fatalf("answer %d: %s with %d body bytes, want %s with %d", i, status, len(body), w.status, len(w.body))
						}
						if strings.HasPrefix(tt.reqs[i], "HEAD ") && !strings.Contains(head, "Content-Length: 102400\r\n") {
							t.Errorf("HEAD answered without the body's length:\n%s", head)
						}
					}
					if got := gatheredValue(t, fast.reg, "popcache_h1_sendfile_answers_total") - before; got != tt.sendfile {
						t.Errorf("%v answers written with sendfile, want %v", got, tt.sendfile)
					}
				})
			}
		})
	}
}
