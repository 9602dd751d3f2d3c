package edge

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/popcache/popcache/conf"
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

// BenchmarkFastPathAnswer is a memory hit through the HTTP/1.1 fast path
// without sockets: parsing the request head and queueing the response,
// the allocations per hit of the fast path itself.
func BenchmarkFastPathAnswer(b *testing.B) {
	benchFastPath(b, "", "HTTP/1.1 200 ")
}

// BenchmarkFastPathRange is BenchmarkFastPathAnswer for a Range: the 206
// made from the memoised head.
func BenchmarkFastPathRange(b *testing.B) {
	benchFastPath(b, "Range: bytes=100-299\r\n", "HTTP/1.1 206 ")
}

// benchFastPath answers one request head, with fields extra added, over
// and over through the fast path, with a status line starting with want.
func benchFastPath(b *testing.B, extra, want string) {
	n := startNode(b, benchOrigin(1<<10), "")
	n.get("/obj")
	c := newTestFastConn(b, n)
	req := []byte("GET /obj HTTP/1.1\r\nHost: " + strings.TrimPrefix(n.url, "http://") + "\r\nUser-Agent: bench\r\nAccept: */*\r\n" + extra + "\r\n")
	b.ReportAllocs()
	for b.Loop() {
		head, vals, res, _ := parseH1Head(req, 0, c.hdr, c.vals)
		c.vals = vals
		if res != parseOK || !c.answer(&head) {
			b.Fatal("not a fast-path hit")
		}
		if !bytes.HasPrefix(c.wbuf, []byte(want)) {
			b.Fatalf("answered %.40q, want %q", c.wbuf, want)
		}
		c.wbuf = c.wbuf[:0]
	}
}

// newTestFastConn is a fast-path connection of n's server with no socket:
// requests are given to its answer method, and its answers left in wbuf.
func newTestFastConn(tb testing.TB, n *node) *fastConn {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // only for newFastServer; never accepted from
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	f := newFastServer(n.srv, ln, n.srv.plainFront())
	return &fastConn{f: f, remote: "127.0.0.1:5555", hdr: make(http.Header, 8), wbuf: make([]byte, 0, 4<<10)}
}

// launchBenchNode starts an edge in front of a 1 KiB origin, with its
// fast paths or without (noFastPath), and fills /obj.
func launchBenchNode(b *testing.B, fast bool) *node {
	b.Helper()
	o := httptest.NewServer(benchOrigin(1 << 10))
	b.Cleanup(o.Close)
	cfg, err := conf.Parse("bench.toml", []byte("[[origins]]\nname = \"o\"\nservers = [{ url = \""+o.URL+"\" }]\n[[routes]]\nname = \"all\"\norigin = \"o\"\n"))
	if err != nil {
		b.Fatal(err)
	}
	n, _ := launchWith(b, cfg, o, newClock(), func(s *Server) { s.noFastPath = !fast })
	n.get("/obj")
	return n
}

// BenchmarkHitRawLoopback is a 1 KiB memory hit over a real keep-alive
// loopback connection from a raw client that allocates nothing, through
// the fast path and through net/http alone: their ratio is what the fast
// path saves, measured in the same run.
func BenchmarkHitRawLoopback(b *testing.B) {
	for _, mode := range []string{"fast", "net-http"} {
		b.Run(mode, func(b *testing.B) {
			n := launchBenchNode(b, mode != "net-http")
			c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /obj HTTP/1.1\r\nHost: " + strings.TrimPrefix(n.url, "http://") + "\r\n\r\n")
			// Learn the response's length once; every hit is the same size.
			c.Write(req)
			buf := make([]byte, 64<<10)
			size, err := c.Read(buf)
			if err != nil || !strings.Contains(string(buf[:size]), "; hit") {
				b.Fatalf("first response: %v %q", err, buf[:size])
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf[:size]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
