package edge

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark counts only the pipeline's own allocations.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchOrigin(size int) http.Handler {
	body := strings.Repeat("x", size)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"b"`)
		io.WriteString(w, body)
	})
}

// BenchmarkHitHandler is a memory hit through ServeHTTP, without sockets:
// the allocations per hit of the pipeline itself.
func BenchmarkHitHandler(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			n := startNode(b, benchOrigin(size), "")
			n.get("/obj") // fill
			req, _ := http.NewRequest(http.MethodGet, "/obj", nil)
			req.Host = strings.TrimPrefix(n.url, "http://")
			req.RequestURI = "/obj"
			req.RemoteAddr = "127.0.0.1:5555"
			w := &discardWriter{h: make(http.Header, 16)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				n.srv.ServeHTTP(w, req)
			}
			if !strings.Contains(w.h.Get("Cache-Status"), "hit") {
				b.Fatalf("not a hit: %q", w.h.Get("Cache-Status"))
			}
		})
	}
}

// BenchmarkHitLoopback is a whole memory hit over a real keep-alive
// loopback connection, client included.
func BenchmarkHitLoopback(b *testing.B) {
	n := startNode(b, benchOrigin(1<<10), "")
	n.get("/obj")
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(n.url + "/obj")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
