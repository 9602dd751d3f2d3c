package edge

import (
	"errors"
	"strings"
	"testing"
)

func TestStreamTracker(t *testing.T) {
	const (
		get     = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
		post    = "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
		chunked = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n"
		badTE   = "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
		badBody = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"
	)
	tests := []struct {
		name   string
		stream string
		ok     int   // bytes passed, or for a head refused, the length up to its end: passed must be less
		err    error // nil, errBadFraming or errBadChunk
		first  bool  // the refusal is in the first request
	}{
		{"gets", get + get + get, -1, nil, false},
		{"bodies of every kind", post + chunked + get + post, -1, nil, false},
		{"a body that looks like a request is skipped", "POST /p HTTP/1.1\r\nContent-Length: 21\r\n\r\n" + badTE[:21] + get, -1, nil, false},
		{"empty lines between requests", get + "\r\n" + get, -1, nil, false},
		{"bare LF heads", "GET / HTTP/1.1\nHost: a\n\n" + get, -1, nil, false},
		{"CL.TE first", badTE, len(badTE), errBadFraming, true},
		{"CL.TE after two requests", get + post + badTE, len(get + post + badTE), errBadFraming, false},
		{"bad chunk first", badBody, strings.Index(badBody, "5 \r") + 2, errBadChunk, true},
		{"bad chunk after a request", post + badBody, len(post) + strings.Index(badBody, "5 \r") + 2, errBadChunk, false},
		{"obs-fold after a request", get + "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", len(get) + len("GET / HTTP/1.1\r\nX: a\r\n b\r\n"), errBadFraming, false},
		{"an upgrade stops the checks", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n" + badTE, -1, nil, false},
		{"not HTTP/1 stops the checks", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + badTE, -1, nil, false},
		{"an unreadable length stops the checks", "POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n" + badTE, -1, nil, false},
		{"two lengths that differ stop the checks", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n" + badTE, -1, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.ok
			if want < 0 {
				want = len(tt.stream)
			}
			// Whole, and in pieces of every size from 1 byte: the same
			// bytes pass, and the same refusal.
			for size := 1; size <= len(tt.stream); size++ {
				tr := newStreamTracker(1 << 10)
				passed := 0
				var err error
				for i := 0; i < len(tt.stream) && err == nil; i += size {
					end := min(i+size, len(tt.stream))
					var ok int
					ok, err = tr.feed([]byte(tt.stream[i:end]))
					passed += ok
				}
				// A refused head may have been passed in part, never whole:
				// net/http acts on none of it.
				okPassed := passed == want
				if errors.Is(tt.err, errBadFraming) {
					okPassed = passed < want
				}
				if !okPassed || !errors.Is(err, tt.err) || (err != nil && tr.refusedFirst() != tt.first) {
					t.Fatalf("pieces of %d: passed %d, %v (first %v); want %d, %v (first %v)",
						size, passed, err, tr.refusedFirst(), want, tt.err, tt.first)
				}
			}
		})
	}
}
