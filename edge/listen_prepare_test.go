package edge

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"
)

// Failed TLS handshakes are counted by reason, and a client that stalls is
// cut off after the handshake timeout.
func TestHandshakeErrorsCounted(t *testing.T) {
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, "www", "www", "www.example.com")
	var c counter
	n := startTLSNode(t, cacheableOrigin(&c), "", "handshake_timeout = \"300ms\"\n", certTOML(certPath, keyPath), "", ca.pool)

	dial := func(t *testing.T) net.Conn {
		t.Helper()
		conn, err := net.DialTimeout("tcp", n.tls, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		return conn
	}
	handshake := func(t *testing.T, cfg *tls.Config) {
		t.Helper()
		if err := tls.Client(dial(t), cfg).Handshake(); err == nil {
			t.Fatalf("the handshake succeeded")
		}
	}
	tests := []struct {
		name, reason string
		client       func(t *testing.T)
	}{
		{"plain HTTP", "not_tls", func(t *testing.T) {
			conn := dial(t)
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
			io.ReadAll(conn) // until the server closes
		}},
		{"client distrusts the certificate", "client_alert", func(t *testing.T) {
			// The client does not trust our CA and says so.
			handshake(t, &tls.Config{ServerName: "www.example.com", RootCAs: x509.NewCertPool()})
		}},
		{"TLS 1.1 only", "protocol", func(t *testing.T) {
			handshake(t, &tls.Config{ServerName: "www.example.com", InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		}},
		{"CBC suites only", "protocol", func(t *testing.T) {
			// No cipher suite in common: a TLS 1.2 client offering only CBC.
			handshake(t, &tls.Config{ServerName: "www.example.com", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}})
		}},
		{"stalled client", "timeout", func(t *testing.T) {
			conn := dial(t)
			start := time.Now()
			if _, err := io.ReadAll(conn); err != nil {
				t.Fatalf("the server did not close a stalled handshake: %v", err)
			}
			if waited := time.Since(start); waited < 250*time.Millisecond {
				t.Errorf("closed after %v, before the 300ms handshake timeout", waited)
			}
		}},
		{"client hangs up", "client_closed", func(t *testing.T) {
			dial(t).Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := n.metric("popcache_tls_handshake_errors_total", "reason", tt.reason)
			tt.client(t)
			eventually(t, 5*time.Second, "the failed handshake is counted as "+tt.reason, func() bool {
				return n.metric("popcache_tls_handshake_errors_total", "reason", tt.reason) == before+1
			})
		})
	}
	// The listener still serves after all that.
	if resp, _ := n.fetch(viaH2, "www.example.com", "/ok"); resp.StatusCode != 200 {
		t.Errorf("status %d after the failed handshakes", resp.StatusCode)
	}
}

// Listen opens nothing when one address fails.
func TestListenFailsWhole(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := minimalTLSConfig(t, `listen = ["127.0.0.1:0"]`, `listen = ["`+busy.Addr().String()+`"]`)
	if _, err := Listen(cfg); err == nil {
		t.Fatalf("Listen on a busy address succeeded")
	}
}
