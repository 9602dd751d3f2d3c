package routing

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// pki is a test CA that issues certificates, written to files for conf.
type pki struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	pool   *x509.CertPool
	serial int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "routing test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), ca: ca, caKey: key, pool: x509.NewCertPool(), serial: 1}
	p.pool.AddCert(ca)
	p.caFile = filepath.Join(p.dir, "ca.pem")
	writePEM(t, p.caFile, "CERTIFICATE", der)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue returns a certificate for cn and dnsNames, and writes it and its
// key to files.
func (p *pki) issue(t *testing.T, cn string, dnsNames ...string) (tls.Certificate, string, string) {
	t.Helper()
	key := newKey(t)
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn}, DNSNames: dnsNames,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(p.dir, cn+".pem"), filepath.Join(p.dir, cn+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	pair, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return pair, certFile, keyFile
}

// TLS to origins: SNI and verification against the origin's CA bundle,
// the client certificate for mutual TLS, and HTTP/2 when offered.
func TestOriginTLS(t *testing.T) {
	p := newPKI(t)
	serverCert, _, _ := p.issue(t, "origin", "origin.example.com")
	_, clientCertFile, clientKeyFile := p.issue(t, "edge-client")

	// The origin requires a client certificate from our CA and reports
	// what it saw.
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			client = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "proto=%s sni=%s client=%s", r.Proto, r.TLS.ServerName, client)
	}))
	origin.EnableHTTP2 = true
	origin.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: p.pool}
	origin.StartTLS()
	t.Cleanup(origin.Close)

	tests := []struct {
		name    string
		tlsTOML string
		want    string // response body, or the error's text
		wantErr bool
	}{
		{name: "CA bundle, server name, client certificate, h2",
			tlsTOML: fmt.Sprintf("ca_file = %q\nserver_name = \"origin.example.com\"\ncert_file = %q\nkey_file = %q\n", p.caFile, clientCertFile, clientKeyFile),
			want:    "proto=HTTP/2.0 sni=origin.example.com client=edge-client"},
		{name: "HTTP/1.1 only",
			tlsTOML: fmt.Sprintf("ca_file = %q\nserver_name = \"origin.example.com\"\nhttp2 = false\n", p.caFile),
			want:    "proto=HTTP/1.1 sni=origin.example.com client=none"},
		{name: "system roots do not know the origin's CA",
			tlsTOML: "server_name = \"origin.example.com\"\n",
			want:    "certificate signed by unknown authority", wantErr: true},
		{name: "the certificate is not for that name",
			tlsTOML: fmt.Sprintf("ca_file = %q\nserver_name = \"other.example.com\"\n", p.caFile),
			want:    "not other.example.com", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := conf.Parse("test.toml", []byte(fmt.Sprintf(`
[[origins]]
name = "o"
servers = [{ url = %q }]
[origins.tls]
%s
[[routes]]
origin = "o"
`, origin.URL, tt.tlsTOML)))
			if err != nil {
				t.Fatal(err)
			}
			tbl, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(tbl.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://www.example.com/", nil)
			resp, err := tbl.Match("www.example.com", "/").Pool.RoundTrip(req, "")
			if tt.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("the request succeeded, want an error with %q", tt.want)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %q, want %q in it", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if string(b) != tt.want {
				t.Errorf("origin saw %q, want %q", b, tt.want)
			}
		})
	}
}
