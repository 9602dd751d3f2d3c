package edge

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/routing"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// node is a real edge on a loopback port in front of a real origin.
type node struct {
	t      testing.TB
	origin *httptest.Server
	url    string // http://127.0.0.1:PORT
	srv    *Server
	store  *cache.Store
	clock  *clock
	reg    *prometheus.Registry
}

// startNode starts an edge for origin, with extra TOML appended to a
// minimal config (use it for [cache] or route settings). The origin's
// Date header should come from n.clock so that ages are deterministic.
func startNode(t testing.TB, origin http.Handler, extra string) *node {
	t.Helper()
	o := httptest.NewServer(origin)
	t.Cleanup(o.Close)
	// No [server] or [admin] here: the test opens its own listener, and
	// extra may set server limits.
	toml := fmt.Sprintf(`
[[origins]]
name = "o"
servers = [{ url = %q }]
%s
`, o.URL, extra)
	if !strings.Contains(extra, "[[routes]]") {
		toml += "\n[[routes]]\nname = \"all\"\norigin = \"o\"\n"
	}
	cfg, err := conf.Parse("test.toml", []byte(toml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	n, _ := launch(t, cfg, o, newClock())
	return n
}

// launch serves cfg on a new loopback listener in front of origin, with
// clk as the clock. The edge's log is shown if the test fails. stop shuts
// the node down and closes its store; it runs at the end of the test too,
// and only once.
func launch(t testing.TB, cfg *conf.Config, origin *httptest.Server, clk *clock) (n *node, stop func()) {
	t.Helper()
	return launchWith(t, cfg, origin, clk, nil)
}

// launchWith is launch with setup run on the server before it serves.
func launchWith(t testing.TB, cfg *conf.Config, origin *httptest.Server, clk *clock, setup func(*Server)) (n *node, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return launchOn(t, ln, cfg, origin, clk, setup)
}

// launchOn is launchWith on the listener ln, which it closes.
func launchOn(t testing.TB, ln net.Listener, cfg *conf.Config, origin *httptest.Server, clk *clock, setup func(*Server)) (n *node, stop func()) {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	reg := prometheus.NewRegistry()
	table, err := routing.New(cfg, routing.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cache.New(cfg.Cache, cache.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("edge log:\n%s", logs.String())
		}
	})
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(cfg, table, store, Options{Registerer: reg, Now: clk.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, []net.Listener{ln}); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if err := store.Close(); err != nil {
				t.Errorf("closing the store: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	n = &node{t: t, origin: origin, url: "http://" + ln.Addr().String(), srv: srv, store: store, clock: clk, reg: reg}
	return n, stop
}

// get sends a GET with optional header pairs and returns the response
// with its body read.
func (n *node) get(path string, hdr ...string) (*http.Response, string) {
	return n.do(http.MethodGet, path, hdr...)
}

func (n *node) do(method, path string, hdr ...string) (*http.Response, string) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.url+path, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		n.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(b)
}

// raw writes a raw request on a new connection and returns the raw
// response read until the server closes or 2s pass.
func (n *node) raw(req string) string {
	n.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		n.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		n.t.Fatal(err)
	}
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers, keeping the
// first 64 KiB written: an edge's log, shown when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() < 64<<10 {
		b.b.Write(p)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testClient never follows redirects and keeps no cookies.
var testClient = &http.Client{
	Timeout:       30 * time.Second, // generous: 500 clients under -race on 2 loaded cores
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
}

// counter counts origin requests per path.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[path]++
	return c.n[path]
}

func (c *counter) get(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}

// cacheStatus returns our entry of the response's Cache-Status.
func cacheStatusOf(resp *http.Response) string {
	v := resp.Header.Get("Cache-Status")
	if i := strings.LastIndex(v, ", "); i >= 0 {
		v = v[i+2:]
	}
	return v
}
