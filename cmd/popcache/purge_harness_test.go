package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// Tokens of the purge test nodes.
const (
	testPurgeToken = "purge-token-0123456789"
	testAdminToken = "admin-token-0123456789"
)

// purgeOrigin is an origin that counts, per path, the full responses and
// the 304s it sends. Every object is fresh for an hour, has an ETag and
// the tags "t-<last path segment>" and "everything" in Surrogate-Key.
type purgeOrigin struct {
	*httptest.Server
	mu    sync.Mutex
	full  map[string]int // 200s by path
	revol map[string]int // 304s by path
}

func newPurgeOrigin(t *testing.T) *purgeOrigin {
	o := &purgeOrigin{full: map[string]int{}, revol: map[string]int{}}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		etag := `"v1` + r.URL.Path + `"`
		h := w.Header()
		h.Set("Cache-Control", "max-age=3600")
		h.Set("ETag", etag)
		h.Set("Surrogate-Key", "t-"+r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]+" everything")
		o.mu.Lock()
		defer o.mu.Unlock()
		if r.Header.Get("If-None-Match") == etag {
			o.revol[r.URL.Path]++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		o.full[r.URL.Path]++
		fmt.Fprintf(w, "%s #%d\n", r.URL.Path, o.full[r.URL.Path])
	}))
	t.Cleanup(o.Close)
	return o
}

// counts returns the 200s and 304s sent for path.
func (o *purgeOrigin) counts(path string) (full, revalidated int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.full[path], o.revol[path]
}

// freePorts returns n loopback addresses that were free a moment ago.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// purgeNodeSpec describes one node of a purge test fleet.
type purgeNodeSpec struct {
	name   string // server.name and purge.node_id
	role   string
	listen string // client listener
	admin  string // admin listener
	dir    string // parent of the node's disk tier (and so of its journal)
	origin string // origin URL
	shield string // shield address, for edges; "" for none
	busURL string // NATS URL to join; "" to embed the bus on busAt
	busAt  string // embedded bus address
	extra  string // appended TOML
}

// toml renders the node's config.
func (s purgeNodeSpec) toml() string {
	bus := fmt.Sprintf("listen = %q", s.busAt)
	if s.busURL != "" {
		bus = fmt.Sprintf("urls = [%q]", s.busURL)
	}
	shield := ""
	if s.shield != "" {
		shield = fmt.Sprintf("[shield]\nservers = [{ url = \"http://%s\" }]\n", s.shield)
	}
	return fmt.Sprintf(`role = %q
[server]
listen = [%q]
name = %q
trusted_proxies = ["127.0.0.1"]
[admin]
listen = %q
tokens = [{ name = "ops", token = %q, scopes = ["purge"] },
          { name = "root", token = %q, scopes = ["admin"] }]
[cache]
memory_max_bytes = "64MiB"
max_object_bytes = "1MiB"
[cache.disk]
path = %q
max_bytes = "64MiB"
max_object_bytes = "8MiB"
[purge]
node_id = %q
wait = "5s"
[purge.bus]
%s
catch_up_timeout = "10s"
%s
%s
[[origins]]
name = "o"
servers = [{ url = %q }]
[[routes]]
origin = "o"
`, s.role, s.listen, s.name, s.admin, testPurgeToken, testAdminToken, filepath.Join(s.dir, s.name),
		s.name, bus, shield, s.extra, s.origin)
}

// purgeNode is a node run in-process by runNode.
type purgeNode struct {
	spec   purgeNodeSpec
	cancel context.CancelFunc
	done   chan error
}

// startPurgeNode runs a node and waits until its admin listener answers.
func startPurgeNode(t *testing.T, spec purgeNodeSpec) *purgeNode {
	t.Helper()
	cfg, err := conf.Parse(spec.name+".toml", []byte(spec.toml()))
	if err != nil {
		t.Fatalf("config of %s: %v", spec.name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &purgeNode{spec: spec, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- runNode(ctx, cfg, io.Discard, io.Discard, "", nil) }()
	waitHealthy(t, spec.admin, n.done)
	t.Cleanup(n.stop)
	return n
}

// stop stops the node gracefully and waits for it.
func (n *purgeNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

// waitHealthy polls http://admin/healthz until it answers 200, for up to
// 30s; died, if not nil, reports the node's end.
func waitHealthy(t *testing.T, admin string, died <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-died:
			t.Fatalf("node on %s stopped: %v", admin, err)
		default:
		}
		resp, err := http.Get("http://" + admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("node on %s not healthy within 30s", admin)
}

// fetch is a GET through a node's client listener.
type fetch struct {
	code   int
	body   string
	status []string // Cache-Status entries, farthest tier first
	header http.Header
}

// get requests path with Host host from the node listening on addr.
func get(t *testing.T, addr, host, path string) fetch {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s via %s: %v", host, path, addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var entries []string
	for _, line := range resp.Header.Values("Cache-Status") {
		for _, e := range strings.Split(line, ",") {
			entries = append(entries, strings.TrimSpace(e))
		}
	}
	return fetch{code: resp.StatusCode, body: string(b), status: entries, header: resp.Header}
}

// entry returns the Cache-Status entry of the node called name.
func (f fetch) entry(name string) string {
	for _, e := range f.status {
		if e == name || strings.HasPrefix(e, name+";") {
			return e
		}
	}
	return ""
}

// hit reports whether node name answered from its cache, fresh.
func (f fetch) hit(name string) bool { return strings.Contains(f.entry(name), "; hit") }

// miss reports whether node name had nothing usable stored.
func (f fetch) miss(name string) bool {
	e := f.entry(name)
	return strings.Contains(e, "fwd=uri-miss") || strings.Contains(e, "fwd=vary-miss")
}

// adminCall sends a request to a node's admin API and decodes the JSON
// answer.
func adminCall(t *testing.T, admin, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+admin+path, bytes.NewReader([]byte(body)))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// purgeAll posts a purge that must be applied by every live node.
func mustPurge(t *testing.T, admin, token, body string) string {
	t.Helper()
	code, st := adminCall(t, admin, http.MethodPost, "/purge", token, body)
	if code != http.StatusOK || st["state"] != "applied" {
		t.Fatalf("POST /purge %s: %d %v, want 200 applied", body, code, st)
	}
	id, _ := st["id"].(string)
	return id
}
