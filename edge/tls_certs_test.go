package edge

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"testing"
	"time"
)

// handshakeCN connects to addr with SNI sni (none when "") and returns the
// CommonName of the certificate the server chose.
func handshakeCN(t *testing.T, addr, sni string) string {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with SNI %q: %v", sni, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// SNI picks an exact name first, then a wildcard of one label, then the
// default certificate, whatever the order of the certificates.
func TestSNISelection(t *testing.T) {
	ca := newTestCA(t)
	aCert, aKey := ca.issue(t, "a", "A", "a.example.com")
	wCert, wKey := ca.issue(t, "w", "W", "*.example.net")
	eCert, eKey := ca.issue(t, "e", "E", "exact.example.net")
	certs := certTOML(aCert, aKey) +
		certTOML(wCert, wKey) +
		certTOML(eCert, eKey) +
		"[[tls.certs]]\nself_signed = true\nnames = [\"default.test\"]\ndefault = true\n"
	var c counter
	n := startTLSNode(t, cacheableOrigin(&c), "", "", certs, "", ca.pool)
	tests := []struct {
		name, sni, want string
	}{
		{"exact", "a.example.com", "A"},
		{"exact in another case", "A.Example.COM", "A"},
		{"wildcard", "x.example.net", "W"},
		{"exact beats an earlier wildcard", "exact.example.net", "E"},
		{"wildcard covers one label only", "deep.x.example.net", "default.test"},
		{"wildcard does not cover its base", "example.net", "default.test"},
		{"unknown name", "unknown.example.org", "default.test"},
		{"no SNI", "", "default.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := handshakeCN(t, n.tls, tt.sni); got != tt.want {
				t.Errorf("SNI %q got the certificate of %q, want %q", tt.sni, got, tt.want)
			}
		})
	}
}

// tlsKeepAlive is one HTTP/1.1 connection over TLS, kept open across
// requests.
type tlsKeepAlive struct {
	conn *tls.Conn
	br   *bufio.Reader
}

func dialKeepAlive(t *testing.T, n *tlsNode, sni string) *tlsKeepAlive {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", n.tls, &tls.Config{ServerName: sni, RootCAs: n.roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &tlsKeepAlive{conn: c, br: bufio.NewReader(c)}
}

// get sends a GET on the connection and returns the status.
func (k *tlsKeepAlive) get(t *testing.T, host, path string) int {
	t.Helper()
	k.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(k.conn, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		t.Fatalf("write on the open connection: %v", err)
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatalf("read on the open connection: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (k *tlsKeepAlive) cn() string {
	return k.conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// A reload, explicit (SIGHUP's path) or on a file change, serves new
// handshakes the new certificate while open HTTP/1.1 and HTTP/2
// connections go on; a reload that fails keeps the certificate in use.
func TestCertReloadKeepsOpenConnections(t *testing.T) {
	tests := []struct {
		name     string
		interval string
		reload   func(t *testing.T, n *tlsNode)
	}{
		{"explicit reload", "1h", func(t *testing.T, n *tlsNode) {
			if err := n.srv.ReloadCerts(); err != nil {
				t.Fatalf("ReloadCerts: %v", err)
			}
		}},
		{"file change", "10ms", func(t *testing.T, n *tlsNode) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := newTestCA(t)
			certPath, keyPath := ca.issue(t, "r", "gen1", "reload.example.com")
			var c counter
			n := startTLSNode(t, cacheableOrigin(&c), "", "reload_interval = \""+tt.interval+"\"\n",
				certTOML(certPath, keyPath), "", ca.pool)

			h1 := dialKeepAlive(t, n, "reload.example.com")
			if code := h1.get(t, "reload.example.com", "/before"); code != 200 || h1.cn() != "gen1" {
				t.Fatalf("before the reload: status %d, certificate %q", code, h1.cn())
			}
			var p http.Protocols
			p.SetHTTP2(true)
			h2 := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "reload.example.com"}}
			defer h2.CloseIdleConnections()
			h2get := func(path string) (reused bool) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }})
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+n.tls+path, nil)
				req.Host = "reload.example.com"
				resp, err := h2.RoundTrip(req)
				if err != nil {
					t.Fatalf("h2 GET %s: %v", path, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
					t.Fatalf("h2 GET %s: %s %d", path, resp.Proto, resp.StatusCode)
				}
				return reused
			}
			h2get("/before")

			ca.issue(t, "r", "gen2", "reload.example.com")
			tt.reload(t, n)
			eventually(t, 5*time.Second, "new handshakes get the new certificate", func() bool {
				return handshakeCN(t, n.tls, "reload.example.com") == "gen2"
			})
			if code := h1.get(t, "reload.example.com", "/after"); code != 200 {
				t.Errorf("the HTTP/1.1 connection opened before the reload answered %d", code)
			}
			if !h2get("/after") {
				t.Errorf("the HTTP/2 connection opened before the reload was not reused")
			}
			if got := n.metric("popcache_tls_cert_reloads_total", "result", "ok"); got != 1 {
				t.Errorf("reloads ok = %v, want 1", got)
			}

			// A broken key file: the reload fails and gen2 stays.
			if err := os.WriteFile(keyPath, []byte("not a key"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := n.srv.ReloadCerts(); err == nil {
				t.Errorf("ReloadCerts with a broken key file succeeded")
			}
			if got := handshakeCN(t, n.tls, "reload.example.com"); got != "gen2" {
				t.Errorf("after a failed reload the certificate is %q, want gen2", got)
			}
			if got := n.metric("popcache_tls_cert_reloads_total", "result", "error"); got < 1 {
				t.Errorf("reloads error = %v, want at least 1", got)
			}
		})
	}
}

// eventually polls cond every 10ms until it holds, failing the test if it
// does not within limit. For effects of background work that has no
// event to wait on (a ticker reading files, a goroutine counting).
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
