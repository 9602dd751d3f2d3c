package edge

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// Reproducers of what an outside probe found in files this probe does
// not own. Each is skipped, naming the proposed patch, so that the suite
// stays green; remove the t.Skip with the fix, and the test must pass.

// skipUnfixed skips a reproducer whose fix is elsewhere, unless
// POPCACHE_PROBE_UNFIXED is set (to see them fail, or pass with a fix).
func skipUnfixed(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("POPCACHE_PROBE_UNFIXED") == "" {
		t.Skip("known, unfixed: " + why)
	}
}

// A client's malformed request body is the client's fault: it must get a
// 4xx, and must not count against the origin server in the passive health
// checks (5 such requests ejected the only server for 30s).
func TestProbeClientBodyErrorIsNotAnUpstreamFailure(t *testing.T) {
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}), "")
	bodies := []struct{ name, req string }{
		{"bad chunk size", "POST /p HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
		{"chunk without its CRLF", "POST /p HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcdXX0\r\n\r\n"},
		{"chunk size overflow", "POST /p HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\na\r\n"},
	}
	for i := range 6 {
		b := bodies[i%len(bodies)]
		if got := firstLine(n.raw(b.req)); !strings.HasPrefix(got, "HTTP/1.1 400 ") {
			t.Errorf("%s: %q, want a 400", b.name, got)
		}
	}
	if got := gatheredValue(t, n.reg, "popcache_upstream_ejections_total"); got != 0 {
		t.Errorf("%v ejections of the origin server by clients' bad bodies", got)
	}
}

// RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
// framing and the connection must close after it. net/http ignores the
// field on HTTP/1.0 (deleting it before the handler sees it), frames the
// body by Content-Length and keeps the connection: a front end that
// honours the Transfer-Encoding sees one request where popcache sees two.
func TestProbeHTTP10TransferEncodingClosesTheConnection(t *testing.T) {
	var smuggled atomic.Int64
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "smuggled") {
			smuggled.Add(1)
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "ok")
	}), "")
	n.raw("POST /a HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" +
		"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if got := smuggled.Load(); got != 0 {
		t.Errorf("the request after an HTTP/1.0 chunked body reached the origin %d times", got)
	}
}

// A request field that the request's own Connection field nominates is
// hop-by-hop: it is not forwarded. Then it must not select the stored
// variant either (Varnish drops such fields on arrival), or the answer
// the origin gave without it is stored as the variant for its value:
// here the CORS answer for https://victim.test loses its
// Access-Control-Allow-Origin for every victim.test client.
func TestProbeConnectionNominatedFieldsDoNotKey(t *testing.T) {
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "max-age=600")
		h.Set("Vary", "Origin")
		if o := r.Header.Get("Origin"); o != "" {
			h.Set("Access-Control-Allow-Origin", o)
		}
		io.WriteString(w, "data")
	}), "")
	n.raw("GET /api HTTP/1.1\r\nHost: a.test\r\nOrigin: https://victim.test\r\nConnection: close, Origin\r\n\r\n")
	resp, _ := n.get("/api", "Host", "a.test", "Origin", "https://victim.test")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://victim.test" {
		t.Errorf("victim's CORS answer has Access-Control-Allow-Origin %q (Cache-Status %q)", got, resp.Header.Get("Cache-Status"))
	}
}

// An origin answering 101 to a request that asked for no upgrade (RFC
// 9110 §15.2.2: a server must not) makes popcache write "101 Switching
// Protocols" and keep parsing HTTP/1.1 on the client connection: a proxy
// in front that tunnels after a 101 is desynchronised (the websocket
// smuggling class). It should be a 502.
func TestProbeUnsolicited101IsABadGateway(t *testing.T) {
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		bw.Flush()
		c.Close()
	}), "")
	for _, method := range []string{"GET", "POST"} {
		got := n.raw(method + " /ws HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		if !strings.HasPrefix(got, "HTTP/1.1 502 ") {
			t.Errorf("%s: %q, want a 502", method, firstLine(got))
		}
	}
}

// A 5xx without freshness is shared with the fill's waiters but not
// stored; its Age must be what it is (0), not 2147483648 (the age of a
// response received at time zero). Fixed in 2d56628.
func TestProbeUnstoredErrorAge(t *testing.T) {
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}), "")
	resp, _ := n.get("/e", "Host", "a.test")
	if got := resp.Header.Get("Age"); got != "" && got != "0" {
		t.Errorf("Age %q on a fresh 500 from the origin", got)
	}
}

// The key drops the parameters query_exclude names (or query_include does
// not) by their raw names, up to the next '&'. An origin that also splits
// on ';' (Rack before 3, Bottle, many Java and PHP setups) reads
// "utm_source=x;a=evil" as two parameters, and every origin decodes
// "%61=evil" as a=evil: the answer to a=evil then fills the entry of a
// URL without it (parameter cloaking).
func TestProbeDroppedParametersCannotCloakOthers(t *testing.T) {
	tests := []struct{ name, key, fill, victim string }{
		{"excluded, then ';'", `query_exclude = ["utm_source"]`, "/x?a=1&utm_source=x;a=evil", "/x?a=1"},
		{"not included, then ';'", `query_include = ["a"]`, "/x?a=1&b=x;a=evil", "/x?a=1"},
		{"not included, name escaped", `query_include = ["a"]`, "/x?%61=evil", "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fetches atomic.Int64
			n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fetches.Add(1)
				w.Header().Set("Cache-Control", "max-age=600")
				io.WriteString(w, "query="+r.URL.RawQuery)
			}), "[cache.policy.key]\n"+tt.key+"\n")
			n.get(tt.fill, "Host", "a.test")
			_, body := n.get(tt.victim, "Host", "a.test")
			if fetches.Load() != 2 {
				t.Errorf("%s answered %q, filled by %s", tt.victim, body, tt.fill)
			}
		})
	}
}

// Field names with '_' are forwarded as they are; CGI-style origins (PHP,
// WSGI, Rack) read X_Original_URL as X-Original-URL, so the unkeyed
// fields stripped from untrusted clients come back with underscores.
// nginx drops such fields by default (underscores_in_headers off).
func TestProbeUnderscoredFieldsAreStripped(t *testing.T) {
	var seen atomic.Value
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for k := range r.Header {
			if strings.Contains(k, "_") {
				names = append(names, k)
			}
		}
		seen.Store(fmt.Sprint(names))
		io.WriteString(w, "ok")
	}), "")
	n.get("/u", "Host", "a.test", "X_Original_URL", "/admin", "X_Forwarded_Host", "evil.test", "X_HTTP_Method_Override", "DELETE")
	if got := seen.Load(); got != "[]" {
		t.Errorf("origin received underscored fields %v", got)
	}
}

// The key sorts the query's parameters by name and value, so "x=1&x=2"
// and "x=2&x=1" share an entry; an origin reading the first (Go, Java) or
// the last (PHP) value answers them differently, and whichever came first
// is served for both. Only the order of names is free.
func TestProbeRepeatedParameterOrderKeys(t *testing.T) {
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "x="+r.URL.Query().Get("x"))
	}), "")
	n.get("/d?x=2&x=1", "Host", "a.test")
	if _, body := n.get("/d?x=1&x=2", "Host", "a.test"); body != "x=1" {
		t.Errorf("/d?x=1&x=2 answered %q", body)
	}
	if _, body := n.get("/d?b=1&a=2", "Host", "a.test"); body != "x=" {
		t.Errorf("/d?b=1&a=2 answered %q", body)
	}
}

// Web cache deception: an origin that ignores the suffix answers
// /account/profile.css with the user's page, saying nothing about its
// freshness but Last-Modified (or the route has default_ttl). The
// heuristic lifetime then shares the page of the user whose cookie filled
// it with everyone. Varnish's built-in VCL passes requests with a Cookie;
// only the origin's explicit freshness should share their answers.
func TestProbeCookiePageNotSharedOnAGuessedLifetime(t *testing.T) {
	for _, tt := range []struct{ name, extra string }{
		{"Last-Modified heuristic", ""},
		{"default_ttl", "[cache.policy]\ndefault_ttl = \"5m\"\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.extra == "" {
					w.Header().Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
				}
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "page for "+r.Header.Get("Cookie"))
			}), tt.extra)
			n.get("/account/profile.css", "Host", "a.test", "Cookie", "session=victim")
			if _, body := n.get("/account/profile.css", "Host", "a.test"); strings.Contains(body, "victim") {
				t.Errorf("a request without cookies got %q", body)
			}
		})
	}
}
