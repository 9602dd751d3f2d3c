package h2

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"testing"
	"time"
)

func TestAppendFields(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want []string
		ok   bool
	}{
		{"sorted and lowered", http.Header{"X-B": {"2"}, "Content-Type": {"text/plain"}, "Age": {"0"}},
			[]string{"age", "0", "content-type", "text/plain", "x-b", "2"}, true},
		{"values in order", http.Header{"Vary": {"a", "b"}}, []string{"vary", "a", "vary", "b"}, true},
		{"Content-Length left to the caller", http.Header{"Content-Length": {"5"}, "Etag": {`"x"`}}, []string{"etag", `"x"`}, true},
		{"invalid name and value skipped", http.Header{"Bad Name": {"v"}, "X-V": {"a\nb", "ok"}}, []string{"x-v", "ok"}, true},
		{"Transfer-Encoding only as trailers", http.Header{"Transfer-Encoding": {"chunked", "trailers"}}, []string{"transfer-encoding", "trailers"}, true},
		{"Connection: the handler's job", http.Header{"Connection": {"close"}}, nil, false},
		{"Trailer: the handler's job", http.Header{"Trailer": {"X"}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := AppendFields(nil, tt.h)
			if ok != tt.ok || (ok && !slices.Equal(got, tt.want)) {
				t.Errorf("AppendFields = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// serveH2C serves hs's handler with s on a loopback listener, HTTP/2
// with prior knowledge, and returns its URL and a client for it.
func serveH2C(t *testing.T, handler http.Handler, s *Server) (string, *http.Client) {
	t.Helper()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: handler, Protocols: &p}
	if err := ConfigureServer(hs, s); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	})
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return "http://" + ln.Addr().String(), &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestHitAndFallback: Server.Hit answers what it takes, on the
// connection's goroutine; what it declines, and a panic in it, go to the
// handler, and the connection lives on.
func TestHitAndFallback(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "handler "+r.URL.Path)
	})
	hit := func(r *http.Request, h *Hit) bool {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/hit":
			*h = Hit{Status: http.StatusOK, Fields: []string{"content-type", "text/plain", "x-from", "hit"}, ContentLength: "3", Body: []byte("hit")}
			return true
		}
		return false
	}
	url, c := serveH2C(t, handler, &Server{Hit: hit})
	tests := []struct{ path, body, from string }{
		{"/hit", "hit", "hit"},
		{"/other", "handler /other", ""},
		{"/panic", "handler /panic", ""},
		{"/hit", "hit", "hit"},
	}
	for i, tt := range tests {
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { reused = ci.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		if i > 0 && !reused {
			t.Errorf("%s: on a new connection; want the first one still", tt.path)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != tt.body || resp.Header.Get("X-From") != tt.from || resp.ProtoMajor != 2 {
			t.Errorf("%s: %s %q (X-From %q), %v; want HTTP/2 %q (X-From %q)", tt.path, resp.Proto, b, resp.Header.Get("X-From"), err, tt.body, tt.from)
		}
	}
}
