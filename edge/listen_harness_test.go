package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/quic-go/quic-go/http3"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/routing"
)

// tlsNode is a real edge serving plain, TLS and QUIC sockets on loopback
// ports in front of a real origin.
type tlsNode struct {
	t        *testing.T
	cfg      *conf.Config
	srv      *Server
	reg      *prometheus.Registry
	plain    string // 127.0.0.1:PORT of the plain listener
	tls      string // 127.0.0.1:PORT of the TLS listener (TCP and UDP)
	h3Port   int    // 0 when HTTP/3 is disabled
	roots    *x509.CertPool
	h3       *http3.Transport
	stopNode func()
}

// startTLSNode starts an edge for origin with a plain and a TLS listener
// on free ports, with opts applied to its Server before it serves.
// certTOML is one or more [[tls.certs]] tables; extra is appended (route
// sections, [server] or [tls.*] keys go in serverTOML and tlsTOML). roots
// are the CAs the test clients trust.
func startTLSNode(t *testing.T, origin http.Handler, serverTOML, tlsTOML, certTOML, extra string, roots *x509.CertPool, opts ...func(*Server)) *tlsNode {
	t.Helper()
	o := httptest.NewServer(origin)
	t.Cleanup(o.Close)
	doc := fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
%s
[admin]
disabled = true
[tls]
listen = ["127.0.0.1:0"]
%s
%s
[[origins]]
name = "o"
servers = [{ url = %q }]
%s
`, serverTOML, tlsTOML, certTOML, o.URL, extra)
	if !strings.Contains(extra, "[[routes]]") {
		doc += "\n[[routes]]\nname = \"all\"\norigin = \"o\"\n"
	}
	path := filepath.Join(t.TempDir(), "node.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, doc)
	}
	reg := prometheus.NewRegistry()
	table, err := routing.New(cfg, routing.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cache.New(cfg.Cache, cache.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, table, store, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(srv)
	}
	lns, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &tlsNode{t: t, cfg: cfg, srv: srv, reg: reg, roots: roots,
		plain: lns.Plain[0].Addr().String(), tls: lns.TLS[0].Addr().String()}
	if len(lns.QUIC) > 0 {
		n.h3Port = lns.QUIC[0].LocalAddr().(*net.UDPAddr).Port
	}
	n.h3 = &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "www.example.com"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, lns) }()
	var stopped bool
	n.stopNode = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeListeners: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("ServeListeners did not return within 15s of its context ending")
		}
		n.h3.Close()
		store.Close()
	}
	t.Cleanup(n.stopNode)
	return n
}

// client kinds the tests fetch with.
const (
	viaH1    = "h1"     // HTTP/1.1 on the plain listener
	viaH2C   = "h2c"    // HTTP/2 with prior knowledge on the plain listener
	viaH1TLS = "h1-tls" // HTTP/1.1 over TLS
	viaH2    = "h2"     // HTTP/2 over TLS
	viaH3    = "h3"     // HTTP/3 over QUIC
)

// wantProto is the response protocol each client kind must see.
var wantProto = map[string]string{
	viaH1: "HTTP/1.1", viaH2C: "HTTP/2.0", viaH1TLS: "HTTP/1.1", viaH2: "HTTP/2.0", viaH3: "HTTP/3.0",
}

// roundTripper returns a fresh transport of the given kind, with no
// connection reuse across calls.
func (n *tlsNode) roundTripper(kind string) http.RoundTripper {
	tlsConf := &tls.Config{RootCAs: n.roots, ServerName: "www.example.com"}
	var p http.Protocols
	switch kind {
	case viaH1, viaH1TLS:
		p.SetHTTP1(true)
	case viaH2C:
		p.SetUnencryptedHTTP2(true)
	case viaH2:
		p.SetHTTP2(true)
	case viaH3:
		return n.h3
	}
	return &http.Transport{Protocols: &p, TLSClientConfig: tlsConf, DisableCompression: true, ForceAttemptHTTP2: kind == viaH2}
}

// url is the URL of path on the listener a client kind uses.
func (n *tlsNode) url(kind, path string) string {
	switch kind {
	case viaH1, viaH2C:
		return "http://" + n.plain + path
	case viaH3:
		return fmt.Sprintf("https://127.0.0.1:%d%s", n.h3Port, path)
	}
	return "https://" + n.tls + path
}

// fetch GETs path with a client of the given kind and Host, and returns
// the response with its body read.
func (n *tlsNode) fetch(kind, host, path string) (*http.Response, string) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url(kind, path), nil)
	if err != nil {
		n.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	rt := n.roundTripper(kind)
	if t, ok := rt.(*http.Transport); ok {
		defer t.CloseIdleConnections()
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		n.t.Fatalf("%s GET %s: %v", kind, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("%s GET %s: reading body: %v", kind, path, err)
	}
	return resp, string(b)
}

// metric returns the value of the counter or gauge name with the given
// label pairs, 0 if it has not been observed.
func (n *tlsNode) metric(name string, labels ...string) float64 {
	n.t.Helper()
	return gatheredValue(n.t, n.reg, name, labels...)
}

func gatheredValue(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// minimalTLSConfig is a validated config with the given [server] and
// [tls] keys and a self-signed certificate.
func minimalTLSConfig(t *testing.T, server, tlsKeys string) *conf.Config {
	t.Helper()
	cfg, err := conf.Parse("test.toml", []byte(`
[server]
`+server+`
[tls]
`+tlsKeys+`
[[tls.certs]]
self_signed = true
names = ["localhost"]
[[origins]]
name = "o"
servers = [{ url = "http://127.0.0.1:1" }]
[[routes]]
origin = "o"
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
