package edge

import (
	"strings"
	"testing"
)

func TestParseFraming(t *testing.T) {
	tests := []struct {
		name, head string
		want       framingVerdict
		chunked    bool // the body is chunked: checked from the head's end
	}{
		{"GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", framingOK, false},
		{"chunked POST", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", framingOK, true},
		{"POST with a length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", framingOK, false},
		{"CL.TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", framingBad, false},
		{"TE.CL", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", framingBad, false},
		{"names in any case", "POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\nCONTENT-LENGTH: 4\r\n\r\n", framingBad, false},
		{"folded TE", "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", framingBad, false},
		{"a space in a value is no fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a b\r\n\r\n", framingOK, false},
		{"bare LF line ends", "POST / HTTP/1.1\nContent-Length: 4\nTransfer-Encoding: chunked\n\n", framingBad, false},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", framingBad, false},
		{"TE on an HTTP/1.0 GET", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", framingBad, false},
		{"HTTP/1.0 with a length", "POST / HTTP/1.0\r\nContent-Length: 4\r\n\r\n", framingOK, false},
		{"chunked not final", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", framingBad, false},
		{"chunked not final, two lines", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", framingBad, false},
		{"empty coding", "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", framingBad, false},
		{"gzip then chunked (net/http's 501)", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", framingOK, true},
		{"Chunked in another case", "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked \r\n\r\n", framingOK, true},
		{"chunked folded onto the next line", "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", framingBad, false},
		{"obs-fold in any field", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n\tb\r\n\r\n", framingBad, false},
		{"a look-alike name", "POST / HTTP/1.1\r\nX-Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", framingOK, false},
		{"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", framingOK, false},
		{"not HTTP/1", "GET /\r\n", framingOK, false},
		{"request line incomplete", "POST / HTTP/1.1", framingMore, false},
		{"head incomplete", "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Enc", framingMore, false},
		{"empty line missing", "POST / HTTP/1.1\r\nContent-Length: 4\r\n", framingMore, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseFraming([]byte(tt.head))
			if f.v != tt.want || f.chunked != tt.chunked || (tt.chunked && f.headLen != len(tt.head)) {
				t.Errorf("parseFraming(%q) = %v, chunked %v from %d; want %v, chunked %v from %d",
					tt.head, f.v, f.chunked, f.headLen, tt.want, tt.chunked, len(tt.head))
			}
		})
	}
}

func FuzzParseFraming(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\nTransfer-Encoding: chunked\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		f := parseFraming(b)
		v, chunked := f.v, -1
		if f.chunked {
			chunked = f.headLen
		}
		if chunked > len(b) || (chunked >= 0 && (v != framingOK || b[chunked-1] != '\n')) {
			t.Fatalf("parseFraming(%q) = %v, %d: a chunked body must start after a complete head", b, v, chunked)
		}
		// A verdict never changes once the head is complete: more bytes
		// after it are the body or the next request.
		if v != framingMore {
			g := parseFraming(append(b[:len(b):len(b)], "\r\nTransfer-Encoding: x\r\n\r\n"...))
			if g.v != v || g.chunked != f.chunked || (f.chunked && g.headLen != f.headLen) {
				t.Fatalf("parseFraming(%q) = %v, %d, but %v, %d with more bytes after", b, v, chunked, g.v, g.headLen)
			}
		}
	})
}

func TestTooLargeAnswer(t *testing.T) {
	tests := []struct {
		name, head, want string
	}{
		{"fields too large", "GET / HTTP/1.1\r\nX-Big: bbbbbbbb", "HTTP/1.1 431 "},
		{"request line too long", "GET /aaaaaaaaaaaaaaaa", "HTTP/1.1 414 "},
		{"method too long", "AAAAAAAAAAAAAAAAAAAA", "HTTP/1.1 400 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tooLargeAnswer([]byte(tt.head)); !strings.HasPrefix(got, tt.want) {
				t.Errorf("tooLargeAnswer(%q) = %q, want %q...", tt.head, got, tt.want)
			}
		})
	}
}
