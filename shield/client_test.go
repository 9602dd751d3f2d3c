package shield

import (
	"context"
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

	"github.com/popcache/popcache/conf"
)

// fakeShield is a loopback shield whose behaviour a test sets.
type fakeShield struct {
	*httptest.Server
	hits    atomic.Int64
	handler atomic.Pointer[http.HandlerFunc]
	mu      sync.Mutex
	last    *http.Request // the last request received
}

func newFakeShield(t *testing.T, name string) *fakeShield {
	t.Helper()
	f := &fakeShield{}
	f.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Status", name+"; hit")
		io.WriteString(w, "from "+name)
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		f.mu.Lock()
		f.last = r.Clone(context.Background())
		f.mu.Unlock()
		(*f.handler.Load())(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeShield) set(h http.HandlerFunc) { f.handler.Store(&h) }

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testClient builds a Client for shield URLs with extra [shield] TOML.
func testClient(t *testing.T, urls []string, extra string) (*Client, *prometheus.Registry, *fakeClock) {
	t.Helper()
	var servers []string
	for _, u := range urls {
		servers = append(servers, fmt.Sprintf("{ url = %q }", u))
	}
	doc := fmt.Sprintf(`
[shield]
servers = [%s]
%s
[[origins]]
name = "o"
servers = [{ url = "http://127.0.0.1:1" }]
[[routes]]
origin = "o"
`, strings.Join(servers, ", "), extra)
	cfg, err := conf.Parse("test.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c, err := New(&cfg.Shield, Options{Registerer: reg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, reg, clk
}

// keyHomedAt returns a key whose home shield is url.
func keyHomedAt(t *testing.T, c *Client, url string) string {
	t.Helper()
	for i := range 1000 {
		k := fmt.Sprintf("http://example.com/obj/%d", i)
		if c.Order(k)[0] == url {
			return k
		}
	}
	t.Fatalf("no key homed at %s", url)
	return ""
}

// originFunc is an Origin made of a function.
type originFunc func(*http.Request, string) (*http.Response, error)

func (f originFunc) RoundTrip(r *http.Request, k string) (*http.Response, error) { return f(r, k) }

// fakeOrigin answers "from origin" and counts its requests.
type fakeOrigin struct{ n atomic.Int64 }

func (o *fakeOrigin) RoundTrip(r *http.Request, _ string) (*http.Response, error) {
	o.n.Add(1)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("from origin")), Request: r}, nil
}

func get(t *testing.T, tier *Tier, key string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://example.com"+strings.TrimPrefix(key, "http://example.com"), nil)
	req.Host = "example.com"
	resp, err := tier.RoundTrip(req, key)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// Each failure kind moves the request to the next shield or not, and
// counts against the breaker or not, as failure.go says.
func TestFailover(t *testing.T) {
	tests := []struct {
		name        string
		home        http.HandlerFunc // nil: the home shield is down
		wantFrom    string           // body the client gets
		wantReason  string           // failure counted on the home shield, "" none
		wantFailovr bool
		wantClosed  bool // the home circuit stays closed after 3 such requests
	}{
		{name: "answer", home: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "from home") },
			wantFrom: "from home", wantClosed: true},
		{name: "404 is an answer", home: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "from home", 404) },
			wantFrom: "from home\n", wantClosed: true},
		{name: "connection refused", wantFrom: "from next", wantReason: reasonConnect, wantFailovr: true},
		{name: "own 503", home: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) },
			wantFrom: "from next", wantReason: reasonStatus, wantFailovr: true},
		{name: "origin failed behind the shield", home: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Status", "home; fwd=uri-miss; detail=upstream-error")
			http.Error(w, "bad gateway", 502)
		}, wantFrom: "from next", wantReason: reasonUpstream, wantFailovr: true, wantClosed: true},
		{name: "origin's own 503 relayed", home: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Status", "home; fwd=uri-miss; fwd-status=503")
			http.Error(w, "from home", 503)
		}, wantFrom: "from home\n", wantClosed: true},
		{name: "body cut short", home: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "partial")
		}, wantFrom: "from next", wantReason: reasonBody, wantFailovr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := newFakeShield(t, "next")
			next.set(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "from next") })
			homeURL := "http://" + deadAddr(t)
			var home *fakeShield
			if tt.home != nil {
				home = newFakeShield(t, "home")
				home.set(tt.home)
				homeURL = home.URL
			}
			c, reg, _ := testClient(t, []string{homeURL, next.URL}, "")
			tier := c.Tier(nil)
			key := keyHomedAt(t, c, homeURL)
			for i := range 3 {
				code, body, err := get(t, tier, key)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if body != tt.wantFrom {
					t.Fatalf("request %d: got %d %q, want %q", i, code, body, tt.wantFrom)
				}
			}
			if tt.wantReason != "" {
				if got := counter(t, reg, "popcache_shield_failures_total", "shield", homeURL, "reason", tt.wantReason); got != 3 {
					t.Errorf("failures{reason=%s} = %v, want 3", tt.wantReason, got)
				}
			}
			wantFailovers := 0.0
			if tt.wantFailovr {
				wantFailovers = 3
			}
			if got := counter(t, reg, "popcache_shield_failovers_total", "shield", homeURL, "to", "shield"); got != wantFailovers {
				t.Errorf("failovers = %v, want %v", got, wantFailovers)
			}
			state := c.peers[0].br.current()
			if c.peers[0].label != homeURL {
				state = c.peers[1].br.current()
			}
			if (state == Closed) != tt.wantClosed {
				t.Errorf("home circuit %v after 3 requests, want closed = %v", state, tt.wantClosed)
			}
		})
	}
}

// An open circuit skips its shield without trying it; after open_for one
// trial goes through, and when the shield is back it takes its keys back.
func TestCircuitSkipsAndRecovers(t *testing.T) {
	home := newFakeShield(t, "home")
	next := newFakeShield(t, "next")
	c, reg, clk := testClient(t, []string{home.URL, next.URL}, "[shield.breaker]\nmax_fails = 2\nopen_for = \"10s\"\n")
	tier := c.Tier(nil)
	key := keyHomedAt(t, c, home.URL)
	home.set(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) })

	for range 2 { // opens the circuit
		if _, body, err := get(t, tier, key); err != nil || body != "from next" {
			t.Fatalf("got %q, %v", body, err)
		}
	}
	if h := home.hits.Load(); h != 2 {
		t.Fatalf("home got %d requests, want 2", h)
	}
	for range 5 { // skipped untried
		get(t, tier, key)
	}
	if h := home.hits.Load(); h != 2 {
		t.Errorf("home got %d requests while open, want still 2", h)
	}
	if got := counter(t, reg, "popcache_shield_skipped_total", "shield", home.URL); got != 5 {
		t.Errorf("skipped = %v, want 5", got)
	}
	if got := counter(t, reg, "popcache_shield_circuit_state", "shield", home.URL); got != float64(Open) {
		t.Errorf("circuit_state gauge = %v, want %d (open)", got, Open)
	}

	clk.Advance(10 * time.Second) // trial fails: open again
	get(t, tier, key)
	if h := home.hits.Load(); h != 3 {
		t.Fatalf("home got %d requests, want a trial (3)", h)
	}
	get(t, tier, key)
	if h := home.hits.Load(); h != 3 {
		t.Fatalf("home got a request right after a failed trial")
	}

	home.set(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "from home") })
	clk.Advance(10 * time.Second) // trial succeeds: closed, keys come back
	for i := range 3 {
		if _, body, _ := get(t, tier, key); body != "from home" {
			t.Fatalf("request %d after recovery: %q, want from home", i, body)
		}
	}
	if got := counter(t, reg, "popcache_shield_circuit_state", "shield", home.URL); got != float64(Closed) {
		t.Errorf("circuit_state gauge = %v, want closed", got)
	}
}

// When no shield answers: the origin with failover "origin", else the
// last shield's own error response, else the joined errors.
func TestExhausted(t *testing.T) {
	tests := []struct {
		name      string
		failover  string
		respond   bool // the shields answer 502 (else they are down)
		wantBody  string
		wantCode  int
		wantErr   string
		wantCalls int64 // origin requests
	}{
		{name: "down, to the origin", failover: "origin", wantBody: "from origin", wantCode: 200, wantCalls: 1},
		{name: "502, to the origin", failover: "origin", respond: true, wantBody: "from origin", wantCode: 200, wantCalls: 1},
		{name: "down, no failover", failover: "none", wantErr: "no shield answered"},
		{name: "502, no failover", failover: "none", respond: true, wantBody: "b down\n", wantCode: 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			urls := []string{"http://" + deadAddr(t), "http://" + deadAddr(t)}
			if tt.respond {
				for i, name := range []string{"a", "b"} {
					s := newFakeShield(t, name)
					s.set(func(w http.ResponseWriter, r *http.Request) { http.Error(w, name+" down", 502) })
					urls[i] = s.URL
				}
			}
			c, reg, _ := testClient(t, urls, fmt.Sprintf("failover = %q\n", tt.failover))
			o := &fakeOrigin{}
			// Pick a key whose last shield is b, so "b down" is the last answer.
			key := keyHomedAt(t, c, urls[0])
			code, body, err := get(t, c.Tier(o), key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), urls[0]) || !strings.Contains(err.Error(), urls[1]) {
					t.Errorf("err %q does not name both shields", err)
				}
				return
			}
			if err != nil || code != tt.wantCode || body != tt.wantBody {
				t.Fatalf("got %d %q, %v; want %d %q", code, body, err, tt.wantCode, tt.wantBody)
			}
			if o.n.Load() != tt.wantCalls {
				t.Errorf("origin got %d requests, want %d", o.n.Load(), tt.wantCalls)
			}
			if tt.wantCalls > 0 {
				if got := counter(t, reg, "popcache_shield_origin_fallbacks_total"); got != 1 {
					t.Errorf("origin_fallbacks = %v, want 1", got)
				}
				if got := counter(t, reg, "popcache_shield_failovers_total", "shield", urls[1], "to", "origin"); got != 1 {
					t.Errorf("failovers{to=origin} of the last shield = %v, want 1", got)
				}
			}
		})
	}
}

// Every circuit open and nowhere else to go: the shields are tried anyway
// rather than the request failed untried.
func TestAllOpenWithoutOrigin(t *testing.T) {
	a := newFakeShield(t, "a")
	a.set(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) })
	c, _, _ := testClient(t, []string{a.URL}, "failover = \"none\"\n[shield.breaker]\nmax_fails = 1\nopen_for = \"1h\"\n")
	tier := c.Tier(nil)
	get(t, tier, "k") // opens
	a.set(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "back") })
	if _, body, err := get(t, tier, "k"); err != nil || body != "back" {
		t.Fatalf("got %q, %v; want the forced attempt to reach the shield", body, err)
	}
	if s := c.peers[0].br.current(); s != Closed {
		t.Errorf("a forced attempt's success left the circuit %v", s)
	}
}

// Requests with a body, or with other methods after the request was sent,
// are not retried; bodiless ones refused a connection are.
func TestRetryRules(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		body     string
		homeDown bool // connection refused (else: own 503)
		wantNext bool // served by the next shield
	}{
		{name: "POST with a body, 503", method: "POST", body: "x", wantNext: false},
		{name: "DELETE, 503", method: "DELETE", wantNext: false},
		{name: "DELETE, refused", method: "DELETE", homeDown: true, wantNext: true},
		{name: "HEAD, 503", method: "HEAD", wantNext: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := newFakeShield(t, "next")
			homeURL := "http://" + deadAddr(t)
			if !tt.homeDown {
				home := newFakeShield(t, "home")
				home.set(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) })
				homeURL = home.URL
			}
			c, _, _ := testClient(t, []string{homeURL, next.URL}, "")
			key := keyHomedAt(t, c, homeURL)
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, _ := http.NewRequest(tt.method, "http://example.com/x", body)
			resp, err := c.Tier(nil).RoundTrip(req, key)
			if resp != nil {
				resp.Body.Close()
			}
			gotNext := next.hits.Load() > 0
			if gotNext != tt.wantNext {
				t.Errorf("next shield reached = %v, want %v (resp %v, err %v)", gotNext, tt.wantNext, resp, err)
			}
		})
	}
}

// A request whose context ends returns at once and counts for nothing.
func TestCanceled(t *testing.T) {
	release := make(chan struct{})
	home := newFakeShield(t, "home")
	home.set(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	next := newFakeShield(t, "next")
	c, reg, _ := testClient(t, []string{home.URL, next.URL}, "[shield.breaker]\nmax_fails = 1\n")
	key := keyHomedAt(t, c, home.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.com/x", nil)
	_, err := c.Tier(&fakeOrigin{}).RoundTrip(req, key)
	if err == nil {
		t.Fatal("no error for a canceled request")
	}
	if next.hits.Load() != 0 {
		t.Errorf("a canceled request failed over")
	}
	if c.peers[0].br.current() != Closed || c.peers[1].br.current() != Closed {
		t.Errorf("a canceled request opened a circuit")
	}
	if got := counter(t, reg, "popcache_shield_failures_total", "shield", home.URL, "reason", reasonTimeout); got != 0 {
		t.Errorf("a canceled request counted as a timeout failure")
	}
}

// The attempt keeps the client's Host, rewrites only scheme and host of
// the URL, and leaves the caller's request untouched.
func TestRequestRewrite(t *testing.T) {
	s := newFakeShield(t, "s")
	c, _, _ := testClient(t, []string{s.URL}, "")
	req, _ := http.NewRequest(http.MethodGet, "http://www.example.com/a/b?q=1", nil)
	req.Host = "www.example.com"
	req.Header.Set("X-Test", "1")
	resp, err := c.Tier(nil).RoundTrip(req, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.mu.Lock()
	got := s.last
	s.mu.Unlock()
	if got.Host != "www.example.com" || got.URL.RequestURI() != "/a/b?q=1" || got.Header.Get("X-Test") != "1" {
		t.Errorf("shield saw Host %q, URI %q, X-Test %q", got.Host, got.URL.RequestURI(), got.Header.Get("X-Test"))
	}
	if req.URL.Host != "www.example.com" || req.URL.Scheme != "http" {
		t.Errorf("caller's request modified: %v", req.URL)
	}
}

// Bodies within the retry buffer arrive whole; larger ones stream.
func TestRetryBuffer(t *testing.T) {
	big := strings.Repeat("x", 2048)
	s := newFakeShield(t, "s")
	s.set(func(w http.ResponseWriter, r *http.Request) {
		body := "small"
		if r.URL.Path == "/big" {
			body = big
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		io.WriteString(w, body)
	})
	c, _, _ := testClient(t, []string{s.URL}, "retry_buffer = \"1KiB\"\n")
	tests := []struct {
		path     string
		buffered bool
	}{
		{"/small", true},
		{"/big", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://example.com"+tt.path, nil)
			resp, err := c.Tier(nil).RoundTrip(req, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			// A buffered body is a bytes.Reader (it has WriteTo); the
			// transport's streaming body has not.
			_, isNop := resp.Body.(interface {
				WriteTo(io.Writer) (int64, error)
			})
			if isNop != tt.buffered {
				t.Errorf("body %T: buffered = %v, want %v", resp.Body, isNop, tt.buffered)
			}
			b, _ := io.ReadAll(resp.Body)
			if int64(len(b)) != resp.ContentLength {
				t.Errorf("read %d bytes, Content-Length %d", len(b), resp.ContentLength)
			}
		})
	}
}

// A shield that fails its health checks is skipped; it comes back when it
// passes them again.
func TestHealthChecks(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	home := newFakeShield(t, "home")
	home.set(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && !healthy.Load() {
			http.Error(w, "sick", 500)
			return
		}
		io.WriteString(w, "from home")
	})
	next := newFakeShield(t, "next")
	next.set(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "from next") })
	c, reg, _ := testClient(t, []string{home.URL, next.URL}, `
[shield.health]
path = "/health"
interval = "100ms"
timeout = "90ms"
rise = 1
fall = 1
`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	tier := c.Tier(nil)
	key := keyHomedAt(t, c, home.URL)

	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if _, body, _ := get(t, tier, key); body == want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("key never served %q within 5s", want)
	}
	waitFor("from home")
	healthy.Store(false)
	waitFor("from next")
	if got := counter(t, reg, "popcache_shield_up", "shield", home.URL); got != 0 {
		t.Errorf("popcache_shield_up = %v for a shield failing checks", got)
	}
	healthy.Store(true)
	waitFor("from home")
}
