package edge

import (
	"fmt"
	"net"
	"net/http"
	"testing"
)

// A route that redirects answers plain-HTTP requests with 308 to the same
// URL over https, on the TLS listener's port; HSTS is sent over TLS (h1,
// h2, h3) and never over plain HTTP; other routes are untouched.
func TestRouteRedirectAndHSTS(t *testing.T) {
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, "www", "www", "www.example.com", "127.0.0.1")
	var c counter
	routes := `
[[routes]]
name = "open"
origin = "o"
paths = ["/open/"]

[[routes]]
name = "secure"
origin = "o"
[routes.https]
redirect = true
hsts_max_age = "8760h"
hsts_include_subdomains = true
`
	n := startTLSNode(t, cacheableOrigin(&c), "", "", certTOML(certPath, keyPath), routes, ca.pool)
	_, tlsPort, _ := net.SplitHostPort(n.tls)
	const hsts = "max-age=31536000; includeSubDomains"
	tests := []struct {
		name, kind, path string
		wantCode         int
		wantLocation     string
		wantHSTS         string
	}{
		{"plain redirects", viaH1, "/a/b?q=1&r=%20", http.StatusPermanentRedirect,
			fmt.Sprintf("https://www.example.com:%s/a/b?q=1&r=%%20", tlsPort), ""},
		{"h2c redirects", viaH2C, "/c", http.StatusPermanentRedirect,
			fmt.Sprintf("https://www.example.com:%s/c", tlsPort), ""},
		{"plain on another route", viaH1, "/open/x", http.StatusOK, "", ""},
		{"h1 over TLS gets HSTS", viaH1TLS, "/a", http.StatusOK, "", hsts},
		{"h2 gets HSTS", viaH2, "/a", http.StatusOK, "", hsts},
		{"h3 gets HSTS", viaH3, "/a", http.StatusOK, "", hsts},
		{"no HSTS on another route", viaH2, "/open/y", http.StatusOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := n.fetch(tt.kind, "www.example.com", tt.path)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if got := resp.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location %q, want %q", got, tt.wantLocation)
			}
			if got := resp.Header.Get("Strict-Transport-Security"); got != tt.wantHSTS {
				t.Errorf("Strict-Transport-Security %q, want %q", got, tt.wantHSTS)
			}
		})
	}
	if got := c.get("/c"); got != 0 {
		t.Errorf("a redirected request reached the origin %d times", got)
	}
}

func TestHTTPSURL(t *testing.T) {
	tests := []struct {
		host, target string
		port         int
		want         string
	}{
		{"example.com", "/", 443, "https://example.com/"},
		{"example.com:80", "/a?b", 443, "https://example.com/a?b"},
		{"example.com:8080", "/a", 8443, "https://example.com:8443/a"},
		{"[::1]:8080", "/", 443, "https://[::1]/"},
		{"[::1]:8080", "/", 8443, "https://[::1]:8443/"},
		{"example.com", "/", 0, "https://example.com/"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s%s on %d", tt.host, tt.target, tt.port), func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "http://"+tt.host+tt.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := httpsURL(r, tt.port); got != tt.want {
				t.Errorf("httpsURL = %q, want %q", got, tt.want)
			}
		})
	}
}
