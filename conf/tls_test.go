package conf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// certFiles writes a self-signed ECDSA certificate for names, valid until
// notAfter, and its key to dir/base.pem and dir/base.key, and returns the
// two paths.
func certFiles(t *testing.T, dir, base string, notAfter time.Time, names ...string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: base},
		NotBefore:    notAfter.Add(-48 * time.Hour),
		NotAfter:     notAfter,
		DNSNames:     names,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, base+".pem"), filepath.Join(dir, base+".key")
	writeFile(t, certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return certPath, keyPath
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsFixture is a directory of certificate files for TLS config tests.
type tlsFixture struct {
	dir                string
	aCert, aKey        string // a.example.com, www.a.example.com
	wildCert, wildKey  string // *.example.net
	expCert, expKey    string // expired
	noNameCert, noName string // no DNS names
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	f := &tlsFixture{dir: t.TempDir()}
	later := time.Now().Add(24 * time.Hour)
	f.aCert, f.aKey = certFiles(t, f.dir, "a", later, "a.example.com", "WWW.a.example.com")
	f.wildCert, f.wildKey = certFiles(t, f.dir, "wild", later, "*.example.net")
	f.expCert, f.expKey = certFiles(t, f.dir, "expired", time.Now().Add(-time.Hour), "old.example.com")
	f.noNameCert, f.noName = certFiles(t, f.dir, "noname", later)
	return f
}

func TestTLSRules(t *testing.T) {
	f := newTLSFixture(t)
	tests := []errorCase{
		{name: "listen without certs", msg: "at least one [[tls.certs]]", toml: `
[tls] # @tls.certs
listen = ["127.0.0.1:8443"]
` + minimal},
		{name: "missing cert file", msg: "no such file", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]]
cert_file = %q # @tls.certs[0].cert_file
key_file = %q
`, filepath.Join(f.dir, "nope.pem"), f.aKey) + minimal},
		{name: "missing key file", msg: "no such file", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]]
cert_file = %q
key_file = %q # @tls.certs[0].key_file
`, f.aCert, filepath.Join(f.dir, "nope.key")) + minimal},
		{name: "mismatched pair", msg: "are not a pair", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]]
cert_file = %q
key_file = %q # @tls.certs[0].key_file
`, f.aCert, f.wildKey) + minimal},
		{name: "key file is a certificate", msg: "no PEM private key", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]]
cert_file = %q
key_file = %q # @tls.certs[0].key_file
`, f.aCert, f.aCert) + minimal},
		{name: "cert file is a key", msg: "no PEM certificate", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]]
cert_file = %q # @tls.certs[0].cert_file
key_file = %q
`, f.aKey, f.aKey) + minimal},
		{name: "expired certificate", msg: "expired", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]]
cert_file = %q # @tls.certs[0].cert_file
key_file = %q
`, f.expCert, f.expKey) + minimal},
		{name: "cert without key", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]] # @tls.certs[0].key_file
cert_file = %q
`, f.aCert) + minimal},
		{name: "no names anywhere", msg: "no DNS names", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]]
cert_file = %q
key_file = %q
[[tls.certs]] # @tls.certs[1].names
cert_file = %q
key_file = %q
`, f.aCert, f.aKey, f.noNameCert, f.noName) + minimal},
		{name: "two defaults", msg: "only one", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]]
cert_file = %q
key_file = %q
default = true
[[tls.certs]]
cert_file = %q
key_file = %q
default = true # @tls.certs[1].default
`, f.aCert, f.aKey, f.wildCert, f.wildKey) + minimal},
		{name: "bad names", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]]
cert_file = %q
key_file = %q
names = [
  "ok.example.com",
  "*", # @tls.certs[0].names[1]
  "a.*.example.com", # @tls.certs[0].names[2]
  "127.0.0.1", # @tls.certs[0].names[3]
  "bad name", # @tls.certs[0].names[4]
]
`, f.aCert, f.aKey) + minimal},
		{name: "self-signed with files and no names", toml: fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443"]
[[tls.certs]] # @tls.certs[0].names
self_signed = true
cert_file = %q # @tls.certs[0].cert_file
`, f.aCert) + minimal},
		{name: "bad min version", toml: `
[tls]
min_version = "1.1" # @tls.min_version
` + minimal},
		{name: "explicit zero streams", msg: "must not be 0", toml: `
[tls.http3]
max_streams = 0 # @tls.http3.max_streams
` + minimal},
		{name: "tls address shared with plain", msg: "already used", toml: `
[server]
listen = ["127.0.0.1:8443"]
[tls]
listen = ["127.0.0.1:8443"] # @tls.listen[0]
[[tls.certs]]
self_signed = true
names = ["localhost"]
` + minimal},
		{name: "redirect without tls", msg: "needs tls.listen", toml: minimal + `
[routes.https]
redirect = true # @routes[0].https.redirect
`},
		{name: "hsts preload rules", toml: minimal + `
[routes.https]
hsts_max_age = "1h"
hsts_preload = true # @routes[0].https.hsts_preload
`},
		{name: "hsts flags without max-age", toml: minimal + `
[routes.https]
hsts_include_subdomains = true # @routes[0].https.hsts_include_subdomains
`},
		{name: "hsts fractional seconds", toml: minimal + `
[routes.https]
hsts_max_age = "1.5s" # @routes[0].https.hsts_max_age
`},
		{name: "origin tls without https servers", msg: "no server", toml: `
[[origins]]
name = "o"
servers = [{url = "http://127.0.0.1:8000"}]
[origins.tls] # @origins[0].tls
ca_file = "/nonexistent"
[[routes]]
origin = "o"
`},
		{name: "origin tls bad files", toml: fmt.Sprintf(`
[[origins]]
name = "o"
servers = [{url = "https://127.0.0.1:8000"}]
[origins.tls]
ca_file = %q # @origins[0].tls.ca_file
cert_file = %q
key_file = %q # @origins[0].tls.key_file
server_name = "*.example.com" # @origins[0].tls.server_name
[[routes]]
origin = "o"
`, f.aKey, f.aCert, f.wildKey)},
		{name: "origin client cert without key", toml: fmt.Sprintf(`
[[origins]]
name = "o"
servers = [{url = "https://127.0.0.1:8000"}]
[origins.tls] # @origins[0].tls.key_file
cert_file = %q
[[routes]]
origin = "o"
`, f.aCert)},
		{name: "bad key scheme", toml: minimal + `
[routes.cache.key]
scheme = "http" # @routes[0].cache.key.scheme
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestTLSProvisions(t *testing.T) {
	f := newTLSFixture(t)
	c := mustParse(t, fmt.Sprintf(`
[tls]
listen = ["127.0.0.1:8443", "[::1]:8443"]
min_version = "1.3"
[[tls.certs]]
cert_file = %q
key_file = %q
[[tls.certs]]
cert_file = %q
key_file = %q
names = ["Other.example.ORG.", "*.example.net"]
default = true
[[tls.certs]]
self_signed = true
names = ["localhost", "127.0.0.1", "::1"]

[[origins]]
name = "o"
servers = [{url = "https://127.0.0.1:8000"}]
host_header = "www.example.com:8443"
[origins.tls]
ca_file = %q
cert_file = %q
key_file = %q
http2 = false

[[origins]]
name = "plain"
servers = [{url = "http://127.0.0.1:8000"}]

[[routes]]
origin = "o"
[routes.https]
redirect = true
hsts_max_age = "8760h"
hsts_include_subdomains = true
hsts_preload = true
[routes.cache.key]
scheme = "https"
`, f.aCert, f.aKey, f.wildCert, f.wildKey, f.wildCert, f.aCert, f.aKey))

	tc := c.TLS
	if tc.MinVersionID != tls.VersionTLS13 || tc.DefaultCert != 1 {
		t.Errorf("MinVersionID %x DefaultCert %d, want TLS 1.3 and 1", tc.MinVersionID, tc.DefaultCert)
	}
	wantNames := [][]string{
		{"a.example.com", "www.a.example.com"}, // from the certificate, lower-cased
		{"other.example.org", "*.example.net"}, // as configured, normalised
		{"localhost"},                          // IPs are not SNI names
	}
	for i, want := range wantNames {
		if got := tc.Certs[i].SNINames; !slices.Equal(got, want) {
			t.Errorf("certs[%d].SNINames = %q, want %q", i, got, want)
		}
	}
	if tc.Certs[0].Certificate == nil || tc.Certs[0].Certificate.Leaf == nil || tc.Certs[2].Certificate != nil {
		t.Errorf("file certificates must be loaded with their leaf, self-signed ones not")
	}
	if h := tc.HTTP3; h.Disabled || h.MaxStreams != 100 || h.IdleTimeout.D() != 30*time.Second || h.Allow0RTT {
		t.Errorf("HTTP3 defaults = %+v", h)
	}

	o := c.Origins[0].TLS
	cc := o.ClientConfig
	if cc == nil || cc.ServerName != "www.example.com" || cc.RootCAs == nil || len(cc.Certificates) != 1 || cc.InsecureSkipVerify {
		t.Fatalf("origin ClientConfig = %+v", cc)
	}
	if o.OffersHTTP2() {
		t.Errorf("http2 = false must not offer HTTP/2")
	}
	if p := c.Origins[1].TLS; p.ClientConfig != nil || !p.OffersHTTP2() {
		t.Errorf("a plain origin gets no ClientConfig and keeps the http2 default: %+v", p)
	}

	r := c.Routes[0]
	if r.HTTPS.HSTS != "max-age=31536000; includeSubDomains; preload" || r.HTTPS.RedirectPort != 8443 {
		t.Errorf("route HTTPS = %+v", r.HTTPS)
	}
	if r.Effective.Key.Scheme != KeySchemeHTTPS {
		t.Errorf("effective key scheme = %q", r.Effective.Key.Scheme)
	}
}

// A bad certificate fails Load with the file, the line and the key, and
// relative paths are resolved against the config file's directory.
func TestTLSLoadErrorsNameFileLineKey(t *testing.T) {
	f := newTLSFixture(t)
	path := filepath.Join(f.dir, "node.toml")
	writeFile(t, path, []byte(`[tls]
listen = ["127.0.0.1:8443"]

[[tls.certs]]
cert_file = "a.pem"
key_file = "wild.key"
`+minimal))
	_, err := Load(path)
	want := path + ":6: tls.certs[0].key_file: a.pem and wild.key are not a pair"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Load error = %v, want it to start with %q", err, want)
	}

	writeFile(t, path, []byte(`[tls]
listen = ["127.0.0.1:8443"]

[[tls.certs]]
cert_file = "a.pem"
key_file = "a.key"
`+minimal))
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TLS.Certs[0].CertPath; got != f.aCert {
		t.Errorf("CertPath = %q, want %q", got, f.aCert)
	}
}

// Stamp changes when a file is rewritten, and Load reads the new pair.
func TestTLSCertStampAndReload(t *testing.T) {
	f := newTLSFixture(t)
	c := &TLSCert{CertFile: "a.pem", KeyFile: "a.key", CertPath: f.aCert, KeyPath: f.aKey}
	s1, err := c.Stamp()
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	certFiles(t, f.dir, "a", time.Now().Add(72*time.Hour), "a.example.com", "new.example.com")
	// Make the change visible even on file systems with coarse timestamps.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(f.aCert, later, later); err != nil {
		t.Fatal(err)
	}
	s2, err := c.Stamp()
	if err != nil {
		t.Fatal(err)
	}
	if s1 == s2 {
		t.Fatalf("Stamp did not change after the files were rewritten")
	}
	second, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(first.Leaf.DNSNames, second.Leaf.DNSNames) {
		t.Errorf("Load returned the old certificate: %q", second.Leaf.DNSNames)
	}
}
