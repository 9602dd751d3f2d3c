package edge

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// xffOrigin answers with the X-Forwarded-For it received.
func xffOrigin(c *counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.inc(r.URL.Path)
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "xff="+r.Header.Get("X-Forwarded-For"))
	})
}

// proxyV1 and proxyV2 are PROXY headers naming a client.
func proxyV1(client string) []byte {
	return []byte("PROXY TCP4 " + client + " 127.0.0.1 40000 443\r\n")
}

func proxyV2(t *testing.T, client string) []byte {
	t.Helper()
	src := &net.TCPAddr{IP: net.ParseIP(client), Port: 40000}
	dst := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443}
	h := proxyproto.HeaderProxyFromAddrs(2, src, dst)
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchange opens a connection to addr, writes header (if any), does a TLS
// handshake if tlsOn, sends a GET and returns the response body, or an
// error when the connection fails or is closed without a response.
func exchange(addr string, header []byte, tlsOn bool) (status int, body string, err error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	const req = "GET /who HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"
	if !tlsOn {
		// One write: a server that refuses the header and closes has
		// then read everything, so it ends with a FIN, not a reset that
		// can cut its answer short.
		if _, err := c.Write(append(header, req...)); err != nil {
			return 0, "", err
		}
		return readAnswer(c)
	}
	if len(header) > 0 {
		if _, err := c.Write(header); err != nil {
			return 0, "", err
		}
	}
	var rw net.Conn = c
	if tlsOn {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "www.example.com", NextProtos: []string{"http/1.1"}})
		if err := tc.Handshake(); err != nil {
			return 0, "", err
		}
		rw = tc
	}
	if _, err := io.WriteString(rw, req); err != nil {
		return 0, "", err
	}
	return readAnswer(rw)
}

// readAnswer reads one response from c: its status and body.
func readAnswer(c net.Conn) (status int, body string, err error) {
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// PROXY protocol v1 and v2 headers are required and obeyed on the
// listeners that enable them (the client address reaches X-Forwarded-For)
// and refused on the others.
func TestProxyProtocol(t *testing.T) {
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, "www", "www", "www.example.com")
	var c counter
	plainProxy := startTLSNode(t, xffOrigin(&c), "proxy_protocol = true", "", certTOML(certPath, keyPath), "", ca.pool)
	tlsProxy := startTLSNode(t, xffOrigin(&c), "", "proxy_protocol = true", certTOML(certPath, keyPath), "", ca.pool)

	tests := []struct {
		name   string
		node   *tlsNode
		tls    bool
		header []byte
		// wantBody is the expected response body; "" means the request
		// must fail, and wantCode (if set) is a refusal status instead.
		wantBody string
		wantCode int
		metric   string // proxy error reason counted, if any
	}{
		{name: "plain v1", node: plainProxy, header: proxyV1("203.0.113.7"), wantBody: "xff=203.0.113.7"},
		{name: "plain v2 IPv6", node: plainProxy, header: proxyV2(t, "2001:db8::7"), wantBody: "xff=2001:db8::7"},
		{name: "plain without header", node: plainProxy, metric: "missing"},
		{name: "plain with a broken header", node: plainProxy, header: []byte("PROXY TCP4 nonsense\r\n"), metric: "invalid"},
		{name: "tls v2", node: tlsProxy, tls: true, header: proxyV2(t, "198.51.100.9"), wantBody: "xff=198.51.100.9"},
		{name: "tls v1", node: tlsProxy, tls: true, header: proxyV1("203.0.113.8"), wantBody: "xff=203.0.113.8"},
		{name: "tls without header", node: tlsProxy, tls: true, metric: "missing"},
		{name: "plain listener refuses a header", node: tlsProxy, header: proxyV1("203.0.113.66"), wantCode: http.StatusBadRequest},
		{name: "tls listener refuses a header", node: plainProxy, tls: true, header: proxyV1("203.0.113.66")},
		{name: "no header where none is expected", node: plainProxy, tls: true, wantBody: "xff=127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.node.plain
			if tt.tls {
				addr = tt.node.tls
			}
			before := tt.node.metric("popcache_proxy_protocol_errors_total", "reason", tt.metric)
			originBefore := c.get("/who")
			code, body, err := exchange(addr, tt.header, tt.tls)
			switch {
			case tt.wantBody != "":
				if err != nil || code != 200 || body != tt.wantBody {
					t.Fatalf("got %d %q (err %v), want 200 %q", code, body, err, tt.wantBody)
				}
			case tt.wantCode != 0:
				if err != nil || code != tt.wantCode {
					t.Fatalf("got %d %q (err %v), want %d", code, body, err, tt.wantCode)
				}
			default:
				if err == nil {
					t.Fatalf("got %d %q, want the connection refused", code, body)
				}
			}
			if tt.wantBody == "" && c.get("/who") != originBefore {
				t.Errorf("a refused connection reached the origin")
			}
			if tt.metric != "" {
				eventually(t, 5*time.Second, "the refusal is counted", func() bool {
					return tt.node.metric("popcache_proxy_protocol_errors_total", "reason", tt.metric) == before+1
				})
			}
		})
	}
}
