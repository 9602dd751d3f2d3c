package edge

import "testing"

func TestCheckFraming(t *testing.T) {
	tests := []struct {
		name, head string
		want       framingVerdict
	}{
		{"GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", framingOK},
		{"chunked POST", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", framingOK},
		{"POST with a length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", framingOK},
		{"CL.TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", framingBad},
		{"TE.CL", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", framingBad},
		{"names in any case", "POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\nCONTENT-LENGTH: 4\r\n\r\n", framingBad},
		{"folded TE", "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", framingBad},
		{"a space in a value is no fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a b\r\n\r\n", framingOK},
		{"bare LF line ends", "POST / HTTP/1.1\nContent-Length: 4\nTransfer-Encoding: chunked\n\n", framingBad},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", framingBad},
		{"TE on an HTTP/1.0 GET", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", framingBad},
		{"HTTP/1.0 with a length", "POST / HTTP/1.0\r\nContent-Length: 4\r\n\r\n", framingOK},
		{"chunked not final", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", framingBad},
		{"chunked not final, two lines", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", framingBad},
		{"empty coding", "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", framingBad},
		{"gzip then chunked (net/http's 501)", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", framingOK},
		{"Chunked in another case", "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked \r\n\r\n", framingOK},
		{"chunked folded onto the next line", "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", framingBad},
		{"obs-fold in any field", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n\tb\r\n\r\n", framingBad},
		{"a look-alike name", "POST / HTTP/1.1\r\nX-Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", framingOK},
		{"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", framingOK},
		{"not HTTP/1", "GET /\r\n", framingOK},
		{"request line incomplete", "POST / HTTP/1.1", framingMore},
		{"head incomplete", "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Enc", framingMore},
		{"empty line missing", "POST / HTTP/1.1\r\nContent-Length: 4\r\n", framingMore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkFraming([]byte(tt.head)); got != tt.want {
				t.Errorf("checkFraming(%q) = %v, want %v", tt.head, got, tt.want)
			}
		})
	}
}

func FuzzCheckFraming(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\nTransfer-Encoding: chunked\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := checkFraming(b)
		// A verdict never changes once the head is complete: more bytes
		// after it are the body or the next request.
		if v != framingMore {
			if got := checkFraming(append(b[:len(b):len(b)], "\r\nTransfer-Encoding: x\r\n\r\n"...)); got != v {
				t.Fatalf("checkFraming(%q) = %v, but %v with more bytes after", b, v, got)
			}
		}
	})
}
