package edge

import (
	"bufio"
	"crypto/tls"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// TestFastPathOverTLS: HTTP/1.1 over TLS is answered by the fast path too,
// with the same answers net/http gives over TLS. One connection per edge,
// on a route that redirects plain HTTP and sends HSTS, with HTTP/3
// advertised: the miss is handed to net/http, which must see the request
// as a TLS one (a 200 with HSTS, not a redirect to https, keyed as https);
// the connection then comes back, and the fast path answers the rest with
// the same status, fields and body, Alt-Svc and HSTS included. It runs
// with the body in the heap and again in a memory file (cache.Pages),
// which the fast path copies out over TLS, where sendfile cannot go.
func TestFastPathOverTLS(t *testing.T) {
	for _, pages := range []string{"0", "16"} {
		t.Run("sendfile_min_bytes="+pages, func(t *testing.T) {
			fastPathOverTLS(t, "[cache]\nsendfile_min_bytes = "+pages+"\n")
		})
	}
}

func fastPathOverTLS(t *testing.T, cache string) {
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, "www", "www", "www.example.com", "127.0.0.1")
	routes := "[[routes]]\nname = \"all\"\norigin = \"o\"\n[routes.https]\nredirect = true\nhsts_max_age = \"8760h\"\n" + cache
	var cf, cs counter
	fast := startTLSNode(t, cacheableOrigin(&cf), "", "", certTOML(certPath, keyPath), routes, ca.pool)
	slow := startTLSNode(t, cacheableOrigin(&cs), "", "", certTOML(certPath, keyPath), routes, ca.pool,
		func(s *Server) { s.noFastPath = true })

	reqs := []struct {
		name, req string
		status    string
	}{
		{"miss", "GET /obj HTTP/1.1\r\nHost: www.example.com\r\n\r\n", "HTTP/1.1 200 OK"},
		{"hit", "GET /obj HTTP/1.1\r\nHost: www.example.com\r\n\r\n", "HTTP/1.1 200 OK"},
		{"HEAD", "HEAD /obj HTTP/1.1\r\nHost: www.example.com\r\n\r\n", "HTTP/1.1 200 OK"},
		{"conditional", "GET /obj HTTP/1.1\r\nHost: www.example.com\r\nIf-Modified-Since: " + time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat) + "\r\n\r\n", "HTTP/1.1 304 Not Modified"},
		{"close", "GET /obj HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK"},
	}
	// wrk offers no ALPN; browsers offer h2 and http/1.1 and get h2.
	for _, alpn := range [][]string{nil, {"http/1.1"}} {
		conns := map[*tlsNode]*tls.Conn{}
		readers := map[*tlsNode]*bufio.Reader{}
		for _, n := range []*tlsNode{fast, slow} {
			c, err := tls.Dial("tcp", n.tls, &tls.Config{RootCAs: ca.pool, ServerName: "www.example.com", NextProtos: alpn})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			conns[n], readers[n] = c, bufio.NewReader(c)
		}
		for _, tt := range reqs {
			t.Run(strings.Join(alpn, "")+" "+tt.name, func(t *testing.T) {
				fh, fb := rawExchange(t, conns[fast], readers[fast], tt.req)
				sh, sb := rawExchange(t, conns[slow], readers[slow], tt.req)
				fStatus, fHeader := parseHead(t, fh)
				sStatus, sHeader := parseHead(t, sh)
				if fStatus != tt.status || sStatus != tt.status {
					t.Fatalf("status: fast path %q, net/http %q; want %q", fStatus, sStatus, tt.status)
				}
				if fb != sb {
					t.Errorf("body: fast path %q, net/http %q", fb, sb)
				}
				for _, h := range []http.Header{fHeader, sHeader} {
					if !strings.HasPrefix(h.Get("Alt-Svc"), `h3=":`) || h.Get("Strict-Transport-Security") != "max-age=31536000" {
						t.Errorf("Alt-Svc %q, Strict-Transport-Security %q; want both", h.Get("Alt-Svc"), h.Get("Strict-Transport-Security"))
					}
					// Each edge advertises its own UDP port; the date and
					// age may be a second apart.
					for _, k := range []string{"Alt-Svc", "Date", "Age"} {
						h.Del(k)
					}
					h.Set("Cache-Status", ttlParam.ReplaceAllString(h.Get("Cache-Status"), ""))
				}
				if !sameHeader(fHeader, sHeader) {
					t.Errorf("fast path header\n%v\ndiffers from net/http's\n%v", fHeader, sHeader)
				}
			})
		}
	}
	// Per connection, the miss alone went to net/http, and the connection
	// came back; every request counts as HTTP/1.1 over TLS; the origin saw
	// one fetch (the second connection hit what the first filled).
	if got := fast.metric("popcache_h1_fast_handoffs_total"); got != 1 {
		t.Errorf("popcache_h1_fast_handoffs_total = %v, want 1 (the first miss)", got)
	}
	if got := fast.metric("popcache_h1_fast_resumes_total"); got != 1 {
		t.Errorf("popcache_h1_fast_resumes_total = %v, want 1", got)
	}
	if got := fast.metric("popcache_protocol_requests_total", "protocol", "h1", "tls", "true"); got != float64(2*len(reqs)) {
		t.Errorf("HTTP/1.1 over TLS requests = %v, want %d", got, 2*len(reqs))
	}
	if got := cf.get("/obj"); got != 1 {
		t.Errorf("the origin saw /obj %d times, want 1", got)
	}
}

// parseHead splits a raw response head into its status line and fields.
func parseHead(t *testing.T, head string) (string, http.Header) {
	t.Helper()
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader(head)))
	status, err := tp.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("parsing %q: %v", head, err)
	}
	return status, http.Header(h)
}
