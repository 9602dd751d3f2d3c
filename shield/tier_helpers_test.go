package shield_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/edge"
	"github.com/popcache/popcache/routing"
	"github.com/popcache/popcache/shield"
)

// The integration tests run a small PoP on loopback: one origin, shields
// and edges, each a real edge.Server (shields with role "shield") on its
// own port, the edges wired to the shields through shield.Client exactly
// as cmd/popcache does.

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// origin is the PoP's origin: it counts fetches per path (query
// excluded) and answers with the handler a test sets.
type origin struct {
	*httptest.Server
	mu      sync.Mutex
	fetches map[string]int
	total   atomic.Int64
	handler atomic.Pointer[http.HandlerFunc]
}

func startOrigin(t *testing.T, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{fetches: map[string]int{}}
	o.set(h)
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.fetches[r.URL.Path]++
		o.mu.Unlock()
		o.total.Add(1)
		(*o.handler.Load())(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) set(h http.HandlerFunc) { o.handler.Store(&h) }

func (o *origin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetches[path]
}

// node is one popcache node on a loopback port that a test can kill
// (every connection dropped at once, as in a crash) and restore on the
// same address with its cache intact.
type node struct {
	t      *testing.T
	name   string
	addr   string
	url    string
	srv    *edge.Server
	client *shield.Client // edges only
	reg    *prometheus.Registry
	hits   atomic.Int64 // requests received

	mu sync.Mutex   // protects hs
	hs *http.Server // nil while killed
	wg sync.WaitGroup
}

// nodeConfig is what startNode needs besides the TOML.
type nodeConfig struct {
	name   string
	toml   string           // appended after role, name, origin and route
	now    func() time.Time // nil: time.Now
	role   string
	shield []string // shield URLs, for an edge
	spy    func(path, key string)
}

func startNode(t *testing.T, o *origin, nc nodeConfig) *node {
	t.Helper()
	var shields strings.Builder
	if len(nc.shield) > 0 {
		shields.WriteString("[shield]\nservers = [")
		for i, u := range nc.shield {
			if i > 0 {
				shields.WriteString(", ")
			}
			fmt.Fprintf(&shields, "{ url = %q }", u)
		}
		shields.WriteString("]\nconnect_timeout = \"5s\"\nheader_timeout = \"30s\"\n")
		shields.WriteString("[shield.breaker]\nmax_fails = 2\nopen_for = \"200ms\"\n")
	}
	doc := fmt.Sprintf(`
role = %q
[server]
name = %q
[admin]
disabled = true
%s
[[origins]]
name = "o"
servers = [{ url = %q }]
%s
[[routes]]
name = "all"
origin = "o"
`, nc.role, nc.name, shields.String(), o.URL, nc.toml)
	cfg, err := conf.Parse(nc.name+".toml", []byte(doc))
	if err != nil {
		t.Fatalf("%s config: %v", nc.name, err)
	}
	n := &node{t: t, name: nc.name, reg: prometheus.NewRegistry()}
	table, err := routing.New(cfg, routing.Options{Registerer: n.reg})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cache.New(cfg.Cache, cache.Options{Registerer: n.reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	opts := edge.Options{Registerer: n.reg, Now: nc.now}
	if cfg.Shield.HasTier() {
		n.client, err = shield.New(&cfg.Shield, shield.Options{Registerer: n.reg, Now: nc.now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.client.Close)
		tiers := map[*routing.Pool]edge.Upstream{}
		for _, p := range table.Pools() {
			tiers[p] = n.client.Tier(p)
		}
		opts.Upstream = func(r *routing.Route) edge.Upstream {
			u := tiers[r.Pool]
			if nc.spy == nil {
				return u
			}
			return spyUpstream{u, nc.spy}
		}
	}
	n.srv, err = edge.New(cfg, table, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = ln.Addr().String()
	n.url = "http://" + n.addr
	n.serve(ln)
	t.Cleanup(n.kill)
	return n
}

// serve serves ln until kill.
func (n *node) serve(ln net.Listener) {
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.hits.Add(1)
		n.srv.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	n.mu.Lock()
	n.hs = hs
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.t.Errorf("%s: serve: %v", n.name, err)
		}
	}()
}

// kill drops the listener and every connection at once, and waits for the
// serve loop to end. Handlers still running finish in the background.
func (n *node) kill() {
	n.mu.Lock()
	hs := n.hs
	n.hs = nil
	n.mu.Unlock()
	if hs != nil {
		hs.Close()
	}
	n.wg.Wait()
}

// restore listens on the node's address again (retrying briefly while
// the port is released) with the same server and cache.
func (n *node) restore() {
	n.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", n.addr)
		if err == nil {
			n.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: listen again on %s: %v", n.name, n.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spyUpstream reports the key of every upstream request an edge makes.
type spyUpstream struct {
	edge.Upstream
	report func(path, key string)
}

func (s spyUpstream) RoundTrip(req *http.Request, key string) (*http.Response, error) {
	s.report(req.URL.Path, key)
	return s.Upstream.RoundTrip(req, key)
}

// keys records the cache key of each path an edge fetched.
type keys struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *keys) record(path, key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[path] = key
}

func (k *keys) get(path string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m[path]
}

// httpClient is shared by the tests: keep-alive, no redirects, no
// compression, bounded.
var httpClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true},
}

// siteHost is the Host of every test request: the site the PoP serves,
// the same whichever node a request is sent to, as with real clients.
const siteHost = "www.example.com"

// fetch GETs url with Host siteHost and returns the status, header, body
// and error.
func fetch(ctx context.Context, url string, hdr ...string) (int, http.Header, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, "", err
	}
	req.Host = siteHost
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

// mustGet is fetch that fails the test on a transport error.
func mustGet(t *testing.T, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	code, h, body, err := fetch(context.Background(), url, hdr...)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return code, h, body
}

// entry returns the Cache-Status entry of the cache called name, or "".
func entry(h http.Header, name string) string {
	for _, line := range h["Cache-Status"] {
		for _, e := range strings.Split(line, ",") {
			e = strings.TrimSpace(e)
			if n, _, _ := strings.Cut(e, ";"); strings.TrimSpace(n) == name {
				return e
			}
		}
	}
	return ""
}

// shieldOf returns the name of the shield whose entry is in h, or "".
func shieldOf(h http.Header, shields ...*node) string {
	for _, s := range shields {
		if entry(h, s.name) != "" {
			return s.name
		}
	}
	return ""
}
