package edge

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestBadFraming sends malformed and smuggling-shaped requests on raw
// connections: each gets a 4xx or is closed, and nothing smuggled reaches
// the origin.
func TestBadFraming(t *testing.T) {
	var smuggled atomic.Int64
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "smuggled") {
			smuggled.Add(1)
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("ok"))
	}), "[server]\nmax_header_bytes = \"4KiB\"\nmax_uri_bytes = \"1KiB\"\n")
	cases := []struct {
		name     string
		req      string
		wantCode string // status code at the start of the first response
	}{
		{"conflicting Content-Length values",
			"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", "400"},
		{"unsupported Transfer-Encoding",
			"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "501"},
		{"bad chunk size",
			"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", ""},
		{"space before colon",
			"GET /a HTTP/1.1\r\nHost : h\r\n\r\n", "400"},
		{"missing Host",
			"GET /a HTTP/1.1\r\n\r\n", "400"},
		{"two Hosts",
			"GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"},
		{"oversized headers",
			"GET /a HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", "431"},
		{"oversized URI",
			"GET /" + strings.Repeat("a", 2<<10) + " HTTP/1.1\r\nHost: h\r\n\r\n", "414"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := n.raw(tc.req)
			if tc.wantCode == "" {
				if strings.HasPrefix(got, "HTTP/1.1 2") {
					t.Errorf("malformed request accepted: %q", firstLine(got))
				}
				return
			}
			if !strings.HasPrefix(got, "HTTP/1.1 "+tc.wantCode) {
				t.Errorf("got %q, want status %s", firstLine(got), tc.wantCode)
			}
		})
	}

	// The same requests after a hit on the same connection: the fast path
	// answers the hit and hands the connection to net/http with the bad
	// request's bytes as they came, which must meet the same answer.
	n.get("/warm", "Host", "h")
	const warm = "GET /warm HTTP/1.1\r\nHost: h\r\n\r\n"
	for _, tc := range cases {
		t.Run("after a hit: "+tc.name, func(t *testing.T) {
			got := n.raw(warm + tc.req)
			if !strings.HasPrefix(got, "HTTP/1.1 200 ") {
				t.Fatalf("the hit: %q", firstLine(got))
			}
			i := strings.Index(got[1:], "HTTP/1.1 ")
			second := ""
			if i >= 0 {
				second = got[i+1:]
			}
			if tc.wantCode == "" {
				if strings.HasPrefix(second, "HTTP/1.1 2") {
					t.Errorf("malformed request accepted: %q", firstLine(second))
				}
				return
			}
			if !strings.HasPrefix(second, "HTTP/1.1 "+tc.wantCode) {
				t.Errorf("got %q, want status %s", firstLine(second), tc.wantCode)
			}
		})
	}
	for _, tc := range []struct{ name, req string }{
		{"CL.TE", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"TE.CL", "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n23\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n\r\n0\r\n\r\n"},
		{"GET with a body", "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 35\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"},
	} {
		t.Run("after a hit: "+tc.name+" smuggling reaches nothing", func(t *testing.T) {
			before := smuggled.Load()
			got := n.raw(warm + tc.req)
			if c := strings.Count(got, "HTTP/1.1 "); c > 2 {
				t.Errorf("%d responses on one connection: the smuggled request was answered", c)
			}
			if smuggled.Load() != before {
				t.Errorf("smuggled request reached the origin")
			}
		})
	}

	t.Run("CL.TE smuggling: the connection is closed after the response", func(t *testing.T) {
		req := "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
		got := n.raw(req)
		if c := strings.Count(got, "HTTP/1.1 "); c > 1 {
			t.Errorf("%d responses on one connection: the smuggled request was answered", c)
		}
		if smuggled.Load() != 0 {
			t.Errorf("smuggled request reached the origin")
		}
	})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// TestNotAnOpenProxy checks that hosts without a route get 404 and never
// reach any origin, also in absolute form.
func TestNotAnOpenProxy(t *testing.T) {
	var hits atomic.Int64
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}), `
[[routes]]
name = "site"
hosts = ["www.example.com"]
origin = "o"
`)
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n",
		"GET http://evil.example/ HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
		"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n",
	} {
		if got := n.raw(req); !strings.HasPrefix(got, "HTTP/1.1 404") {
			t.Errorf("%q: got %q, want 404", firstLine(req), firstLine(got))
		}
	}
	if hits.Load() != 0 {
		t.Errorf("origin reached %d times", hits.Load())
	}
	if resp, _ := n.get("/", "Host", "www.example.com"); resp.StatusCode != 200 {
		t.Errorf("routed host: status %d", resp.StatusCode)
	}
}

// TestUpstreamFailures maps origin failures to statuses and checks that a
// body cut short is never stored.
func TestUpstreamFailures(t *testing.T) {
	var calls atomic.Int64
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/reset":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		case "/truncated":
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("only part"))
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}
	}), "")
	cases := []struct {
		path string
		code int
	}{
		{"/reset", http.StatusBadGateway},
		{"/truncated", http.StatusBadGateway},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, _ := n.get(tc.path)
			if resp.StatusCode != tc.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.code)
			}
		})
	}
	before := calls.Load()
	n.get("/truncated")
	if calls.Load() == before {
		t.Error("a truncated body was cached")
	}
}

// TestUpstreamTimeout checks that an origin slower than header_timeout gets
// a 504.
func TestUpstreamTimeout(t *testing.T) {
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}), "")
	o := n.origin.URL
	n2 := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), fmt.Sprintf(`
[[origins]]
name = "slow"
header_timeout = "200ms"
servers = [{ url = %q }]
[[routes]]
name = "slow"
origin = "slow"
`, o))
	resp, _ := n2.get("/x")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
}

// TestUnkeyedHeadersDoNotReachOrigin checks that request fields origins
// use to build URLs, which are not in the cache key, never reach the
// origin from an untrusted client, and that the node's own forwarding
// fields replace the client's.
func TestUnkeyedHeadersDoNotReachOrigin(t *testing.T) {
	seen := make(chan http.Header, 1)
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.Header().Set("Cache-Control", "max-age=60")
	}), "")
	n.get("/page",
		"X-Forwarded-Host", "evil.example",
		"X-Forwarded-Proto", "javascript",
		"X-Forwarded-For", "6.6.6.6",
		"X-Forwarded-Scheme", "nothttps",
		"X-Forwarded-Port", "1337",
		"X-Original-URL", "/admin",
		"X-Rewrite-URL", "/admin",
		"X-Host", "evil.example",
		"X-HTTP-Method-Override", "DELETE",
		"Forwarded", "host=evil.example",
		"X-Real-IP", "6.6.6.6",
		"True-Client-IP", "6.6.6.6",
	)
	h := <-seen
	for _, f := range []string{"X-Forwarded-Scheme", "X-Forwarded-Port", "X-Original-Url", "X-Rewrite-Url", "X-Host", "X-Http-Method-Override", "Forwarded", "X-Real-Ip", "True-Client-Ip"} {
		if v := h.Get(f); v != "" {
			t.Errorf("%s reached the origin: %q", f, v)
		}
	}
	host := strings.TrimPrefix(n.url, "http://")
	want := map[string]string{"X-Forwarded-Host": host, "X-Forwarded-Proto": "http", "X-Forwarded-For": "127.0.0.1"}
	for f, v := range want {
		if got := h.Get(f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
}

// TestTrustedProxyForwardingFields checks that a trusted peer's
// X-Forwarded-Proto, -Host and -For are kept (and -For appended to).
func TestTrustedProxyForwardingFields(t *testing.T) {
	seen := make(chan http.Header, 1)
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}), "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n")
	n.get("/p", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "www.example.com", "X-Forwarded-For", "203.0.113.9")
	h := <-seen
	want := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "www.example.com", "X-Forwarded-For": "203.0.113.9, 127.0.0.1"}
	for f, v := range want {
		if got := h.Get(f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
}

// TestTrustedProtoKeys: a node behind TLS-terminating proxies it trusts
// (a shield behind edges) forwards their X-Forwarded-Proto to the origin,
// so it keys on it too: an origin's http-to-https redirect, cached for
// the http clients, is never served to the https ones. An untrusted
// client's X-Forwarded-Proto is replaced, and changes nothing.
func TestTrustedProtoKeys(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		if r.Header.Get("X-Forwarded-Proto") != "https" {
			w.Header().Set("Location", "https://"+r.Host+r.URL.RequestURI())
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		io.WriteString(w, "secure content")
	})
	for _, tt := range []struct {
		name, extra string
		https       int // the status an https client gets after an http one filled the cache
	}{
		{"trusted", "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n", http.StatusOK},
		{"untrusted", "", http.StatusMovedPermanently},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := startNode(t, origin, tt.extra)
			if resp, _ := n.get("/page", "X-Forwarded-Proto", "http"); resp.StatusCode != http.StatusMovedPermanently {
				t.Fatalf("http client: %d, want the origin's 301", resp.StatusCode)
			}
			resp, body := n.get("/page", "X-Forwarded-Proto", "https")
			if resp.StatusCode != tt.https {
				t.Errorf("https client: %d %q (Cache-Status %q), want %d", resp.StatusCode, body, cacheStatusOf(resp), tt.https)
			}
			if resp, _ := n.get("/page", "X-Forwarded-Proto", "http"); resp.StatusCode != http.StatusMovedPermanently || !strings.Contains(cacheStatusOf(resp), "hit") {
				t.Errorf("http client again: %d (%q), want the cached 301", resp.StatusCode, cacheStatusOf(resp))
			}
		})
	}
}

// TestRequestTargets: a request-target the pipeline would key and route
// as one thing and forward as another is refused with 400 before it can
// reach the origin or the cache. net/http parses "x:*" into an opaque URL
// with an empty path: taken for "/" by routing and the key, sent to the
// origin as "*", its answer would have become everyone's home page.
func TestRequestTargets(t *testing.T) {
	var c counter
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.inc(r.RequestURI)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "origin saw "+r.RequestURI)
	}), "")
	tests := []struct {
		name, req string
		want      int
	}{
		{"scheme and opaque part", "GET x:* HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 400},
		{"mailto", "GET mailto:a@a.test HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 400},
		{"asterisk for GET", "GET * HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 400},
		{"relative path", "GET a/b HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 400},
		{"origin-form", "GET /ok HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 200},
		{"absolute-form", "GET http://a.test/abs HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 200},
		{"asterisk for OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 200},
		{"raw non-ASCII byte", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 400},
		{"empty Host", "GET /ok HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n", 400},
		{"HTTP/1.0 without Host", "GET /ok HTTP/1.0\r\n\r\n", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := n.raw(tt.req)
			if want := fmt.Sprintf(" %d ", tt.want); !strings.HasPrefix(got, "HTTP/1.") || !strings.Contains(firstLine(got), want) {
				t.Errorf("got %q, want %d", firstLine(got), tt.want)
			}
		})
	}
	// (net/http answers OPTIONS * itself.) Nothing else reached the origin.
	c.mu.Lock()
	if len(c.n) != 2 || c.n["/ok"] != 2 || c.n["/abs"] != 1 {
		t.Errorf("the origin saw %v, want /ok twice (a.test and no host) and /abs once", c.n)
	}
	c.mu.Unlock()
	if _, body := n.get("/", "Host", "a.test"); body != "origin saw /" {
		t.Errorf("GET /: %q, want the origin's answer to /", body)
	}

	// HTTP/2's :path may carry a space, which the upstream request line
	// cannot.
	h := dialH2C(t, n)
	h.buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "a.test"}, {":path", "/p?x=1 y"}} {
		h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	status, _ := h.response(1)
	var cacheStatus string
	for _, f := range h.fields[1] {
		if f.Name == "cache-status" {
			cacheStatus = f.Value
		}
	}
	if status != "400" || !strings.Contains(cacheStatus, "detail=bad-target") {
		t.Errorf("HTTP/2 :path with a space: %s, Cache-Status %q; want the edge's own 400 (detail=bad-target)", status, cacheStatus)
	}
	if got := c.get("/p?x=1 y"); got != 0 {
		t.Errorf("the origin saw the target with a space %d times", got)
	}

	// Nor may it leave out the authority (RFC 9113 §8.3.1): it would be
	// keyed under an empty host on a catch-all route.
	h.buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/no-authority"}} {
		h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: h.buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if status, _ := h.response(3); status != "400" {
		t.Errorf("HTTP/2 request without :authority or Host: %s, want 400", status)
	}
	if got := c.get("/no-authority"); got != 0 {
		t.Errorf("the origin saw the request without authority %d times", got)
	}
}

// TestNormalHostForwarded: the key normalises the host (case, trailing
// dot, default port), so the origin must be asked for that same form:
// otherwise the answer to "A.TEST.:80", whose links an origin may build
// from Host, fills the entry every a.test client gets.
func TestNormalHostForwarded(t *testing.T) {
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "host="+r.Host+" xfh="+r.Header.Get("X-Forwarded-Host"))
	}), "")
	for _, tt := range []struct{ host, want string }{
		{"A.Test.:80", "host=a.test xfh=a.test"},
		{"b.test:8080", "host=b.test:8080 xfh=b.test:8080"},
		{"[::1]:80", "host=[::1] xfh=[::1]"},
	} {
		t.Run(tt.host, func(t *testing.T) {
			got := n.raw("GET /links HTTP/1.1\r\nHost: " + tt.host + "\r\nConnection: close\r\n\r\n")
			if !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, tt.want) {
				t.Errorf("Host %q: %q, want the origin to see %q", tt.host, got, tt.want)
			}
		})
	}
	if _, body := n.get("/links", "Host", "a.test"); body != "host=a.test xfh=a.test" {
		t.Errorf("a.test after A.Test.:80 filled its entry: %q", body)
	}
}

// TestMethodNotAllowed: TRACE and CONNECT are refused with 405 and the
// Allow field RFC 9110 §15.5.6 requires, and never reach the origin.
func TestMethodNotAllowed(t *testing.T) {
	var c counter
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.inc(r.Method) }), "")
	for _, req := range []string{
		"TRACE / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
		"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\nConnection: close\r\n\r\n",
	} {
		got := n.raw(req)
		if !strings.HasPrefix(got, "HTTP/1.1 405 ") || !strings.Contains(got, "\r\nAllow: GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE\r\n") {
			t.Errorf("%s: %q, want a 405 with Allow", firstLine(req), got)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.n) != 0 {
		t.Errorf("the origin saw %v", c.n)
	}
}

// TestHalfClosedMissGetsNoEmptyAnswer: a client that half-closes after
// its request makes net/http cancel the request's context, as for a
// client gone. A miss then must not be answered 200 with an empty body
// (what net/http writes for a handler that returns without writing): the
// connection is closed without an answer, as nginx does (499 in its
// log), or the real answer is sent.
func TestHalfClosedMissGetsNoEmptyAnswer(t *testing.T) {
	fast, slow, _ := startFastPair(t, "")
	for _, n := range []*node{fast, slow} {
		for i := range 4 {
			path := fmt.Sprintf("/halfclosed/%d", i)
			c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a.test\r\n\r\n")
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			b, err := io.ReadAll(c)
			c.Close()
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if got := string(b); got != "" && !strings.HasSuffix(got, "body of "+path) {
				t.Errorf("%s (%s): answered\n%s\nwant nothing or its body", path, n.url, got)
			}
		}
	}
}
