package edge

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// cacheableOrigin serves a fixed body, cacheable for a minute, and counts
// its fetches per path.
func cacheableOrigin(c *counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.inc(r.URL.Path)
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("one object for every protocol: " + r.URL.Path + "\n"))
	})
}

// ttlParam matches the ttl of a Cache-Status entry, which may tick down
// by a second between requests.
var ttlParam = regexp.MustCompile(`; ttl=\d+`)

// One cached object, fetched over h1, h2c, h1 over TLS, h2 and h3, is the
// same bytes, a hit, and the same Cache-Status; the request metrics count
// each protocol. With key.scheme = "https" all five share one object; by
// default plain and TLS clients have one each, and h3 shares HTTP/2 over
// TLS's key.
func TestSameObjectOverEveryProtocol(t *testing.T) {
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, "www", "www", "www.example.com", "127.0.0.1")
	tests := []struct {
		name   string
		scheme string
		// groups of client kinds that share one object: the first of each
		// group fills it, the others hit it.
		groups [][]string
	}{
		{name: "shared scheme", scheme: `scheme = "https"`,
			groups: [][]string{{viaH1, viaH2C, viaH1TLS, viaH2, viaH3}}},
		{name: "scheme of the request",
			groups: [][]string{{viaH2, viaH3, viaH1TLS}, {viaH2C, viaH1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c counter
			n := startTLSNode(t, cacheableOrigin(&c), "", "", certTOML(certPath, keyPath),
				"[[routes]]\nname = \"all\"\norigin = \"o\"\n[routes.cache.key]\n"+tt.scheme+"\n", ca.pool)
			const path = "/obj.txt"
			var firstBody, firstStatus string
			for gi, group := range tt.groups {
				for i, kind := range group {
					resp, body := n.fetch(kind, "www.example.com", path)
					if resp.StatusCode != http.StatusOK || resp.Proto != wantProto[kind] {
						t.Fatalf("%s: %s %d, want %s 200", kind, resp.Proto, resp.StatusCode, wantProto[kind])
					}
					status := cacheStatusOf(resp)
					if i == 0 {
						if !strings.Contains(status, "fwd=uri-miss") || !strings.Contains(status, "stored") {
							t.Errorf("%s (fills group %d): Cache-Status %q, want a stored miss", kind, gi, status)
						}
					} else if !strings.HasPrefix(status, "popcache; hit") {
						t.Errorf("%s: Cache-Status %q, want a hit", kind, status)
					}
					if gi == 0 && i == 1 {
						firstStatus = ttlParam.ReplaceAllString(status, "")
					}
					if i > 0 && ttlParam.ReplaceAllString(status, "") != firstStatus {
						t.Errorf("%s: Cache-Status %q differs from %q", kind, status, firstStatus)
					}
					if firstBody == "" {
						firstBody = body
					} else if body != firstBody {
						t.Errorf("%s: body %q, want %q", kind, body, firstBody)
					}
					altSvc := resp.Header.Get("Alt-Svc")
					switch kind {
					case viaH1TLS, viaH2:
						if want := altSvcValue(n.h3Port, 86400); altSvc != want {
							t.Errorf("%s: Alt-Svc %q, want %q", kind, altSvc, want)
						}
					default:
						if altSvc != "" {
							t.Errorf("%s: Alt-Svc %q, want none (only TLS over TCP advertises HTTP/3)", kind, altSvc)
						}
					}
				}
			}
			if got := c.get(path); got != len(tt.groups) {
				t.Errorf("origin fetched %d times, want %d", got, len(tt.groups))
			}
			for _, m := range []struct{ proto, tls string }{
				{"h1", "false"}, {"h2", "false"}, {"h1", "true"}, {"h2", "true"}, {"h3", "true"},
			} {
				if got := n.metric("popcache_protocol_requests_total", "protocol", m.proto, "tls", m.tls); got != 1 {
					t.Errorf("popcache_protocol_requests_total{protocol=%q,tls=%q} = %v, want 1", m.proto, m.tls, got)
				}
			}
		})
	}
}

// HTTP/3 can be turned off: no UDP socket, no Alt-Svc.
func TestHTTP3Disabled(t *testing.T) {
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, "www", "www", "www.example.com")
	var c counter
	n := startTLSNode(t, cacheableOrigin(&c), "", "[tls.http3]\ndisabled = true\n", certTOML(certPath, keyPath), "", ca.pool)
	if n.h3Port != 0 {
		t.Fatalf("a UDP socket was opened with HTTP/3 disabled")
	}
	resp, _ := n.fetch(viaH2, "www.example.com", "/x")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Alt-Svc") != "" {
		t.Errorf("status %d, Alt-Svc %q; want 200 and none", resp.StatusCode, resp.Header.Get("Alt-Svc"))
	}
}
