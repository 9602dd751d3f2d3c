package routing

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
	"github.com/prometheus/client_golang/prometheus"
)

// echo is an upstream that names itself and reports what it received.
type echo struct {
	name string
	srv  *httptest.Server
	hits atomic.Int64
}

func newEcho(t *testing.T, name string) *echo {
	t.Helper()
	e := &echo{name: name}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Server", e.name)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Accept-Encoding", r.Header.Get("Accept-Encoding"))
		w.Header().Set("X-Body", string(body))
		w.Header().Set("X-Path", r.URL.RequestURI())
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// outgoing returns a request as the edge would build it: client Host, a
// placeholder URL host that the pool must rewrite.
func outgoing(t *testing.T, method, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://placeholder.invalid/p?q=1", rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "client.example"
	return req
}

// do sends one request through p and returns the header of its response,
// closing the body.
func do(t *testing.T, p *Pool, req *http.Request, key string) http.Header {
	t.Helper()
	resp, err := p.RoundTrip(req, key)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header
}

func TestRoundTripRewrites(t *testing.T) {
	up := newEcho(t, "a")
	tests := []struct {
		name       string
		hostHeader string
		wantHost   string
	}{
		{"client host is forwarded", "", "client.example"},
		{"host_header replaces it", "origin.example", "origin.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOrigin(t, "o", up.srv.URL)
			o.HostHeader = tt.hostHeader
			p := testTable(t, nil, Options{}, o).Pool("o")
			req := outgoing(t, http.MethodGet, "")
			h := do(t, p, req, "")
			if got := h.Get("X-Host"); got != tt.wantHost {
				t.Errorf("upstream saw Host %q, want %q", got, tt.wantHost)
			}
			if got := h.Get("X-Path"); got != "/p?q=1" {
				t.Errorf("upstream saw %q, want /p?q=1", got)
			}
			if got := h.Get("X-Accept-Encoding"); got != "" {
				t.Errorf("transport added Accept-Encoding %q", got)
			}
			if req.URL.Host != up.srv.Listener.Addr().String() || req.URL.Scheme != "http" {
				t.Errorf("req.URL = %v, want rewritten to the server", req.URL)
			}
		})
	}
}

func TestTransportSettings(t *testing.T) {
	o := testOrigin(t, "o", "https://10.0.0.1:8443", "http://10.0.0.2")
	o.ConnectTimeout = conf.Duration(3 * time.Second)
	o.HeaderTimeout = conf.Duration(7 * time.Second)
	o.IdleTimeout = conf.Duration(11 * time.Second)
	o.MaxIdleConns = 13
	o.MaxConns = 17
	o.InsecureSkipVerify = true
	o.HostHeader = "www.example.com:443"
	tr := testTable(t, nil, Options{}, o).Pool("o").transport
	if tr == http.DefaultTransport {
		t.Fatal("pool uses DefaultTransport")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Proxy", tr.Proxy == nil, true},
		{"TLSHandshakeTimeout", tr.TLSHandshakeTimeout, 3 * time.Second},
		{"ResponseHeaderTimeout", tr.ResponseHeaderTimeout, 7 * time.Second},
		{"IdleConnTimeout", tr.IdleConnTimeout, 11 * time.Second},
		{"MaxIdleConnsPerHost", tr.MaxIdleConnsPerHost, 13},
		{"MaxConnsPerHost", tr.MaxConnsPerHost, 17},
		{"DisableCompression", tr.DisableCompression, true},
		{"ForceAttemptHTTP2", tr.ForceAttemptHTTP2, true},
		{"InsecureSkipVerify", tr.TLSClientConfig.InsecureSkipVerify, true},
		{"ServerName", tr.TLSClientConfig.ServerName, "www.example.com"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	plain := testTable(t, nil, Options{}, testOrigin(t, "p", "http://10.0.0.3")).Pool("p").transport
	if plain.ForceAttemptHTTP2 || plain.TLSClientConfig != nil {
		t.Error("an http-only pool should not force HTTP/2 or configure TLS")
	}
}

// TestConnectRetry sends requests, bodies included, to a pool whose first
// server refuses connections: each must land on the live server.
func TestConnectRetry(t *testing.T) {
	live := newEcho(t, "live")
	o := testOrigin(t, "o", "http://"+closedAddr(t), live.srv.URL)
	o.Passive.Disabled = true // keep the dead server in rotation
	reg := prometheus.NewPedanticRegistry()
	p := testTable(t, nil, Options{Registerer: reg}, o).Pool("o")
	for i, method := range []string{"GET", "POST", "PUT", "DELETE"} {
		body := ""
		if method == "POST" || method == "PUT" {
			body = "payload-" + method
		}
		h := do(t, p, outgoing(t, method, body), "")
		if h.Get("X-Server") != "live" || h.Get("X-Body") != body {
			t.Errorf("request %d (%s): server %q body %q, want live %q", i, method, h.Get("X-Server"), h.Get("X-Body"), body)
		}
	}
	if got := live.hits.Load(); got != 4 {
		t.Errorf("live server got %d requests, want 4", got)
	}
	// Round robin sends every other first attempt to the dead server.
	if got := counterValue(t, reg, "popcache_upstream_retries_total", nil); got != 2 {
		t.Errorf("retries = %v, want 2", got)
	}
	if got := counterValue(t, reg, "popcache_upstream_requests_total", map[string]string{"outcome": "connect_error"}); got != 2 {
		t.Errorf("connect errors = %v, want 2", got)
	}
}

// TestConnectErrorSingleServer: nowhere to retry, the error comes back.
func TestConnectErrorSingleServer(t *testing.T) {
	p := testTable(t, nil, Options{}, testOrigin(t, "o", "http://"+closedAddr(t))).Pool("o")
	body := &closeCounter{Reader: strings.NewReader("x")}
	req := outgoing(t, http.MethodPost, "")
	req.Body = body
	_, err := p.RoundTrip(req, "")
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("err = %v, want a dial error", err)
	}
	if body.closed.Load() != 1 {
		t.Errorf("request body closed %d times, want 1", body.closed.Load())
	}
}

// closeCounter is a request body that counts its closes and, like a
// server's request body, cannot be read once closed.
type closeCounter struct {
	io.Reader
	closed atomic.Int64
}

func (c *closeCounter) Read(p []byte) (int, error) {
	if c.closed.Load() > 0 {
		return 0, errors.New("read after close")
	}
	return c.Reader.Read(p)
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

// TestRequestBodyClosedOnce checks the retry body is closed exactly once,
// whether the first attempt succeeds or is retried.
func TestRequestBodyClosedOnce(t *testing.T) {
	live := newEcho(t, "live")
	o := testOrigin(t, "o", "http://"+closedAddr(t), live.srv.URL)
	o.Passive.Disabled = true
	p := testTable(t, nil, Options{}, o).Pool("o")
	for i := range 2 { // dead server first, then the live one
		body := &closeCounter{Reader: strings.NewReader("data")}
		req := outgoing(t, http.MethodPost, "")
		req.Body, req.ContentLength = body, 4
		h := do(t, p, req, "")
		if h.Get("X-Body") != "data" {
			t.Errorf("request %d: upstream got body %q", i, h.Get("X-Body"))
		}
		waitFor(t, "the request body to be closed", func() bool { return body.closed.Load() >= 1 })
		if n := body.closed.Load(); n != 1 {
			t.Errorf("request %d: body closed %d times, want 1", i, n)
		}
	}
}

// TestNoRetryAfterSending: a server that drops the connection after
// reading the request may have acted on it; the error is returned.
func TestNoRetryAfterSending(t *testing.T) {
	dropper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	defer dropper.Close()
	other := newEcho(t, "other")
	p := testTable(t, nil, Options{}, testOrigin(t, "o", dropper.URL, other.srv.URL)).Pool("o")
	if _, err := p.RoundTrip(outgoing(t, http.MethodGet, ""), ""); err == nil {
		t.Fatal("RoundTrip succeeded, want the dropped connection's error")
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("other server got %d requests, want 0 (no retry after sending)", n)
	}
	if n := p.servers[0].inflight.Load(); n != 0 {
		t.Errorf("in flight after an error = %d, want 0", n)
	}
}

// TestBadStatusReturned: 5xx answers are responses, not retried.
func TestBadStatusReturned(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	other := newEcho(t, "other")
	p := testTable(t, nil, Options{}, testOrigin(t, "o", bad.URL, other.srv.URL)).Pool("o")
	resp, err := p.RoundTrip(outgoing(t, http.MethodGet, ""), "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || other.hits.Load() != 0 {
		t.Errorf("status %d, other hits %d; want 503 from the first server, no retry", resp.StatusCode, other.hits.Load())
	}
}

// TestLeastConnHeldBodies: a response whose body is still open keeps its
// server busy; closing it frees the server.
func TestLeastConnHeldBodies(t *testing.T) {
	a, b := newEcho(t, "a"), newEcho(t, "b")
	o := testOrigin(t, "o", a.srv.URL, b.srv.URL)
	o.Balance = "least_conn"
	p := testTable(t, nil, Options{}, o).Pool("o")
	send := func() *http.Response {
		resp, err := p.RoundTrip(outgoing(t, http.MethodGet, ""), "")
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := send()
	second := send()
	if s1, s2 := first.Header.Get("X-Server"), second.Header.Get("X-Server"); s1 == s2 {
		t.Fatalf("both held requests went to %s", s1)
	}
	first.Body.Close()
	for range 3 { // the first server is idle again; the second is busy
		resp := send()
		if got, want := resp.Header.Get("X-Server"), first.Header.Get("X-Server"); got != want {
			t.Errorf("went to %s, want %s (second still holds a body)", got, want)
		}
		io.Copy(io.Discard, resp.Body) // EOF releases too
		resp.Body.Close()
	}
	second.Body.Close()
	for _, s := range p.servers {
		if n := s.inflight.Load(); n != 0 {
			t.Errorf("%s: %d in flight after all bodies closed, want 0", s.label, n)
		}
	}
}

func TestCanceledRequestIsNotAServerFailure(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-block
	}))
	defer slow.Close()
	defer close(block)
	o := testOrigin(t, "o", slow.URL)
	o.Passive.MaxFails = 1
	p := testTable(t, nil, Options{}, o).Pool("o")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.RoundTrip(outgoing(t, http.MethodGet, "").WithContext(ctx), ""); err == nil {
		t.Fatal("RoundTrip succeeded past its deadline")
	}
	if s := p.servers[0]; s.ejectedUntil.Load() != 0 || s.fails.Load() != 0 {
		t.Error("a client cancellation counted against the server")
	}
}

// TestUpgradeBody: a 101 response body stays writable (ReverseProxy relays
// upgrades through it) and still releases its server on Close.
func TestUpgradeBody(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString(line)
		brw.Flush()
	}))
	defer up.Close()
	o := testOrigin(t, "o", up.URL)
	o.Balance = "least_conn"
	p := testTable(t, nil, Options{}, o).Pool("o")
	req := outgoing(t, http.MethodGet, "")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := p.RoundTrip(req, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("101 body %T is not an io.ReadWriteCloser", resp.Body)
	}
	if _, err := io.WriteString(rwc, "ping\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rwc, buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("read %q, %v; want the echo", buf, err)
	}
	if n := p.servers[0].inflight.Load(); n != 1 {
		t.Errorf("in flight during the upgrade = %d, want 1", n)
	}
	rwc.Close()
	if n := p.servers[0].inflight.Load(); n != 0 {
		t.Errorf("in flight after Close = %d, want 0", n)
	}
}
