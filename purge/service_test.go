package purge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
)

// Tokens of the test configs.
const (
	purgeToken = "purge-token-0123456789"
	adminToken = "admin-token-0123456789"
)

// testNode is a Service on a memory Store, running until the test ends
// (or stop).
type testNode struct {
	svc     *Service
	store   *cache.Store
	api     *httptest.Server
	cancel  context.CancelFunc
	done    chan struct{}
	applied chan appliedAt
	once    sync.Once
}

// nodeConfig is the config of a test node: its ID, role, purge directory
// ("" for none) and bus URL ("" to embed the server). extra is appended.
func nodeConfig(t testing.TB, id, role, dir, busURL, extra string) *conf.Config {
	t.Helper()
	purgeDir, urls := "", ""
	if dir != "" {
		purgeDir = fmt.Sprintf("dir = %q", dir)
	}
	if busURL != "" {
		urls = fmt.Sprintf("urls = [%q]", busURL)
	}
	doc := fmt.Sprintf(`
role = %q
[server]
listen = ["127.0.0.1:0"]
[admin]
listen = "127.0.0.1:0"
tokens = [{ name = "ops", token = %q, scopes = ["purge"] },
          { name = "root", token = %q, scopes = ["admin"] }]
[purge]
node_id = %q
wait = "5s"
%s
[purge.bus]
catch_up_timeout = "5s"
connect_timeout = "500ms"
%s
%s
[[origins]]
name = "o"
servers = [{url = "http://127.0.0.1:9"}]
[[routes]]
origin = "o"
`, role, purgeToken, adminToken, id, purgeDir, urls, extra)
	cfg, err := conf.Parse("test.toml", []byte(doc))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, doc)
	}
	return cfg
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// appliedAt is an Applied and when the callback ran.
type appliedAt struct {
	Applied
	at time.Time
}

// startNode starts a node on cfg, and Run in the background.
func startNode(t testing.TB, cfg *conf.Config) *testNode {
	t.Helper()
	store, err := cache.New(cfg.Cache, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{store: store, done: make(chan struct{}), applied: make(chan appliedAt, 1024)}
	n.svc, err = New(cfg, store, Options{OnApply: func(a Applied) {
		select {
		case n.applied <- appliedAt{a, time.Now()}:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if err := n.svc.Start(ctx); err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	go func() { defer close(n.done); n.svc.Run(ctx) }()
	n.api = httptest.NewServer(n.svc.Handler())
	t.Cleanup(n.stop)
	return n
}

// stop stops the node as a graceful shutdown does.
func (n *testNode) stop() {
	n.once.Do(func() {
		n.api.Close()
		n.cancel()
		<-n.done
		n.svc.Close()
		n.store.Close()
	})
}

// post sends POST /purge with token (none if "") and body.
func (n *testNode) post(t testing.TB, token, body string) (int, map[string]any) {
	t.Helper()
	return n.do(t, http.MethodPost, "/purge", token, body)
}

func (n *testNode) do(t testing.TB, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, n.api.URL+path, strings.NewReader(body))
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
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// hasRule reports whether the node's cache would judge an object fetched
// at fetched for target as purged (hard) or stale.
func (n *testNode) judge(target string, fetched time.Time, tags string) string {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	recipe, _ := cache.NewKeyRecipe(conf.Key{})
	key := string(recipe.Append(nil, "http", r.Host, r.URL.EscapedPath(), r.URL.RawQuery, nil))
	h := http.Header{"Surrogate-Key": {tags}}
	obj := &cache.Object{Meta: cache.Meta{Status: 200, Header: h, RequestTime: fetched, ResponseTime: fetched, Lifetime: time.Hour}}
	got, out := n.store.FilterPurged(key, obj, cache.Found, r, recipe)
	switch {
	case out != cache.Found:
		return "miss"
	case got.Meta.IsFresh(time.Now()):
		return "hit"
	}
	return "stale"
}

// cluster starts a node embedding the bus and others joining it.
func cluster(t testing.TB, roles ...string) []*testNode {
	t.Helper()
	var nodes []*testNode
	for i, role := range roles {
		bus := ""
		if i > 0 {
			bus = nodes[0].svc.BusURL()
		}
		nodes = append(nodes, startNode(t, nodeConfig(t, fmt.Sprintf("n%d-%s", i, role), role, "", bus, "")))
	}
	// A POST waits for the live nodes only, and a node counts as live once
	// it pulls from the stream, shortly after joining: wait for all of them,
	// so that a test may hold a POST to having waited for every node.
	waitFor(t, "every node of the cluster to be live", func() bool {
		ns, err := nodes[0].svc.nodes(context.Background(), 0)
		if err != nil || len(ns) != len(nodes) {
			return false
		}
		for _, n := range ns {
			if !n.Live {
				return false
			}
		}
		return true
	})
	return nodes
}

func TestPurgeReachesEveryNode(t *testing.T) {
	nodes := cluster(t, "edge", "edge", "shield")
	before := time.Now()
	code, st := nodes[1].post(t, purgeToken, `{"tags": ["t1"], "urls": ["http://example.com/u"]}`)
	if code != http.StatusOK || st["state"] != StateApplied {
		t.Fatalf("POST /purge: %d %v, want 200 applied", code, st)
	}
	if ns, _ := st["nodes"].([]any); len(ns) != 3 {
		t.Errorf("status lists %d nodes, want 3: %v", len(ns), st["nodes"])
	}
	for i, n := range nodes {
		if got := n.judge("http://example.com/other", before, "t1 t2"); got != "miss" {
			t.Errorf("node %d: an object tagged t1: %s, want miss", i, got)
		}
		if got := n.judge("http://example.com/u", before, ""); got != "miss" {
			t.Errorf("node %d: the purged URL: %s, want miss", i, got)
		}
		if got := n.judge("http://example.com/other", before, "t2"); got != "hit" {
			t.Errorf("node %d: an untouched object: %s, want hit", i, got)
		}
	}

	id, _ := st["id"].(string)
	code, got := nodes[2].do(t, http.MethodGet, "/purge/"+id, purgeToken, "")
	if code != http.StatusOK || got["state"] != StateApplied || got["by"] != "ops" {
		t.Errorf("GET /purge/%s: %d %v", id, code, got)
	}
	if code, _ := nodes[0].do(t, http.MethodGet, "/purge/"+strings.Repeat("0", 32), purgeToken, ""); code != http.StatusNotFound {
		t.Errorf("GET of an unknown purge: %d, want 404", code)
	}
}

func TestSoftPurgeMarksStale(t *testing.T) {
	nodes := cluster(t, "edge")
	before := time.Now()
	if code, st := nodes[0].post(t, purgeToken, `{"prefixes": ["example.com/static/"], "soft": true}`); code != http.StatusOK {
		t.Fatalf("POST: %d %v", code, st)
	}
	if got := nodes[0].judge("http://example.com/static/a.js", before, ""); got != "stale" {
		t.Errorf("soft-purged object: %s, want stale", got)
	}
	if got := nodes[0].judge("http://example.com/static/a.js", time.Now(), ""); got != "hit" {
		t.Errorf("an object fetched after the purge: %s, want hit", got)
	}
}

// TestBadRequestsChangeNothing: authentication failures, missing scopes
// and malformed purges are answered without publishing anything.
func TestBadRequestsChangeNothing(t *testing.T) {
	nodes := cluster(t, "edge", "edge")
	seq := func() uint64 {
		s, err := nodes[0].svc.bus.stream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.LastSeq
	}
	start := seq()
	big := `{"tags": ["` + strings.Repeat("x", 70<<10) + `"]}`
	tests := []struct {
		name, method, path, token, body string
		code                            int
		msg                             string
	}{
		{"no token", "POST", "/purge", "", `{"tags":["a"]}`, 401, "bearer token"},
		{"wrong token", "POST", "/purge", "nope-nope-nope-nope-nope", `{"tags":["a"]}`, 401, "bearer token"},
		{"all without admin scope", "POST", "/purge", purgeToken, `{"all": true}`, 403, "admin scope"},
		{"status without a token", "GET", "/purge/" + strings.Repeat("a", 32), "", "", 401, "bearer token"},
		{"malformed JSON", "POST", "/purge", purgeToken, `{"tags": [`, 400, "JSON"},
		{"unknown field", "POST", "/purge", purgeToken, `{"tag": ["a"]}`, 400, "unknown field"},
		{"case-folded field", "POST", "/purge", purgeToken, `{"Tags": ["a"]}`, 400, "unknown field"},
		{"empty purge", "POST", "/purge", purgeToken, `{"soft": true}`, 400, "empty purge"},
		{"prefix without host", "POST", "/purge", purgeToken, `{"prefixes": ["/static/"]}`, 400, "no host"},
		{"over-large body", "POST", "/purge", purgeToken, big, 400, "larger than"},
		{"bad wait", "POST", "/purge?wait=maybe", purgeToken, `{"tags":["a"]}`, 400, "wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := nodes[0].do(t, tt.method, tt.path, tt.token, tt.body)
			msg, _ := body["error"].(string)
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("%d %q, want %d and a message about %q", code, msg, tt.code, tt.msg)
			}
		})
	}
	if got := seq(); got != start {
		t.Errorf("the stream went from seq %d to %d: a refused request published", start, got)
	}
	for i, n := range nodes {
		if e := n.store.PurgeStats().Entries; e != 1 { // the start-up revalidation only
			t.Errorf("node %d has %d rule entries, want 1", i, e)
		}
	}
	// The admin token may purge all.
	if code, st := nodes[0].post(t, adminToken, `{"all": true}`); code != http.StatusOK {
		t.Errorf("purge all with the admin scope: %d %v", code, st)
	}
}

// TestCatchUp: a node stopped while a purge is issued applies it when it
// starts again, before Start returns, so it never serves the object.
func TestCatchUp(t *testing.T) {
	hub := startNode(t, nodeConfig(t, "hub", "edge", "", "", ""))
	dir := t.TempDir()
	cfg := nodeConfig(t, "late", "edge", dir, hub.svc.BusURL(), "")
	late := startNode(t, cfg)
	fetched := time.Now()
	late.stop()

	if code, st := hub.post(t, purgeToken, `{"tags": ["gone"]}`); code != http.StatusOK {
		t.Fatalf("POST: %d %v", code, st)
	}
	again := startNode(t, nodeConfig(t, "late", "edge", dir, hub.svc.BusURL(), ""))
	if got := again.judge("http://example.com/a", fetched, "gone"); got != "miss" {
		t.Errorf("right after Start, an object tagged with the purge issued while the node was down: %s, want miss", got)
	}
	if got := again.judge("http://example.com/a", fetched, "kept"); got != "hit" {
		t.Errorf("an object no purge matches, fetched before the restart: %s, want hit (the journal carried the checkpoint)", got)
	}
}

// TestBusDown: an unreachable bus never blocks the node: Start returns
// once catch_up_timeout runs out, the node revalidates what it had, and
// a purge is refused with 503 without publishing.
func TestBusDown(t *testing.T) {
	cfg := nodeConfig(t, "alone", "edge", "", "nats://"+deadAddr(t), "")
	cfg.Purge.Bus.CatchUpTimeout = conf.Duration(300 * time.Millisecond)
	start := time.Now()
	n := startNode(t, cfg)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Start took %v with the bus down", d)
	}
	if got := n.judge("http://example.com/a", start.Add(-time.Second), ""); got != "stale" {
		t.Errorf("an object from before the start: %s, want stale (revalidated)", got)
	}
	if h := n.svc.Health(); !strings.Contains(h, "purges are delayed") {
		t.Errorf("Health() = %q", h)
	}
	if code, body := n.post(t, purgeToken, `{"tags":["a"]}`); code != http.StatusServiceUnavailable {
		t.Errorf("POST with the bus down: %d %v, want 503", code, body)
	}
}

// slowCache delays every Purge, like a shield with a slow disk.
type slowCache struct {
	*cache.Store
	delay time.Duration
}

func (c slowCache) Purge(ctx context.Context, rules []cache.PurgeRule) error {
	time.Sleep(c.delay)
	return c.Store.Purge(ctx, rules)
}

// TestEdgesApplyAfterShields: an edge that fetches through shields
// applies a purge only after the live shields did, however slow they are
// (up to purge.wait).
func TestEdgesApplyAfterShields(t *testing.T) {
	hub := startNode(t, nodeConfig(t, "edge-1", "edge", "", "", "[shield]\nservers = [{ url = \"http://127.0.0.1:9\" }]\n"))
	cfg := nodeConfig(t, "shield-1", "shield", "", hub.svc.BusURL(), "")
	store, err := cache.New(cfg.Cache, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var mu sync.Mutex
	var shieldDone time.Time
	svc, err := New(cfg, slowCache{store, 300 * time.Millisecond}, Options{OnApply: func(Applied) {
		mu.Lock()
		shieldDone = time.Now()
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	defer func() { cancel(); <-done; svc.Close() }()
	// Wait until the edge has heard the shield.
	for deadline := time.Now().Add(5 * time.Second); ; {
		hub.svc.shields.mu.Lock()
		n := len(hub.svc.shields.seen)
		hub.svc.shields.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the edge never heard from the shield")
		}
		time.Sleep(10 * time.Millisecond)
	}

	if code, st := hub.post(t, purgeToken, `{"tags": ["x"]}`); code != http.StatusOK {
		t.Fatalf("POST: %d %v", code, st)
	}
	var edgeDone time.Time
	select {
	case a := <-hub.applied:
		edgeDone = a.at
	case <-time.After(10 * time.Second):
		t.Fatal("the edge did not apply the purge")
	}
	mu.Lock()
	defer mu.Unlock()
	if shieldDone.IsZero() || edgeDone.Before(shieldDone) {
		t.Errorf("the edge applied at %v, the shield at %v: the edge went first", edgeDone, shieldDone)
	}
}

// TestBusOutage: when the NATS server goes away, nodes keep judging
// lookups and say so in Health; when it is back, they re-attach and apply
// the purges issued meanwhile.
func TestBusOutage(t *testing.T) {
	busAt := deadAddr(t)
	hubDir, nodeDir := t.TempDir(), t.TempDir()
	hubCfg := func() *conf.Config {
		c := nodeConfig(t, "hub", "edge", hubDir, "", "")
		c.Purge.Bus.Listen = busAt
		return c
	}
	hub := startNode(t, hubCfg())
	node := startNode(t, nodeConfig(t, "node", "edge", nodeDir, "nats://"+busAt, ""))
	fetched := time.Now()

	hub.stop()
	waitFor(t, "the node to see the bus gone", func() bool { return strings.Contains(node.svc.Health(), "delayed") })
	if got := node.judge("http://example.com/a", fetched, "t1"); got != "hit" {
		t.Errorf("during the outage, an object no purge matches: %s, want hit", got)
	}

	hub = startNode(t, hubCfg())
	if code, st := hub.post(t, purgeToken, `{"tags": ["t1"]}`); code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("POST after the outage: %d %v", code, st)
	}
	waitFor(t, "the node to apply the purge issued after the outage", func() bool {
		return node.judge("http://example.com/a", fetched, "t1") == "miss"
	})
	waitFor(t, "the node to report itself up to date", func() bool { return strings.Contains(node.svc.Health(), "up to date") })
}

// waitFor polls cond every 10ms for up to 20s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestNewNodeJoinsAStreamWithHistory: a node without a journal joining a
// stream that already holds purges starts at once (it has nothing those
// purges could concern) and is up to date.
func TestNewNodeJoinsAStreamWithHistory(t *testing.T) {
	hub := startNode(t, nodeConfig(t, "hub", "edge", "", "", ""))
	for range 3 {
		if code, st := hub.post(t, purgeToken, `{"tags": ["old"]}`); code != http.StatusOK {
			t.Fatalf("POST: %d %v", code, st)
		}
	}
	start := time.Now()
	late := startNode(t, nodeConfig(t, "new", "edge", t.TempDir(), hub.svc.BusURL(), ""))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Start took %v: it waited for a backlog it does not need", d)
	}
	if h := late.svc.Health(); !strings.Contains(h, "up to date") || !strings.Contains(h, "seq 3") {
		t.Errorf("Health() = %q, want up to date through seq 3", h)
	}
	if code, st := hub.post(t, purgeToken, `{"tags": ["new"]}`); code != http.StatusOK {
		t.Fatalf("POST: %d %v", code, st)
	}
	// The POST may answer before the new node counts as live (it announces
	// itself on the bus shortly after joining), so wait for it to apply.
	waitFor(t, "a purge issued after it joined to make the object a miss", func() bool {
		return late.judge("http://example.com/a", start, "new") == "miss"
	})
}
