package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// purgeFleet is two edges and a shield, each with a memory and a disk
// tier, sharing a NATS JetStream bus embedded in the shield.
type purgeFleet struct {
	origin         *purgeOrigin
	edgeA, edgeB   *purgeNode
	shield         *purgeNode
	specB          purgeNodeSpec
	dir, busURL    string
	shieldName     string
	edgeAN, edgeBN string
}

func newPurgeFleet(t *testing.T) *purgeFleet {
	t.Helper()
	f := &purgeFleet{origin: newPurgeOrigin(t), dir: t.TempDir(), shieldName: "shield-1", edgeAN: "edge-a", edgeBN: "edge-b"}
	p := freePorts(t, 7)
	f.busURL = "nats://" + p[6]
	f.shield = startPurgeNode(t, purgeNodeSpec{name: f.shieldName, role: "shield", listen: p[0], admin: p[1],
		dir: f.dir, origin: f.origin.URL, busAt: p[6]})
	f.edgeA = startPurgeNode(t, purgeNodeSpec{name: f.edgeAN, role: "edge", listen: p[2], admin: p[3],
		dir: f.dir, origin: f.origin.URL, shield: p[0], busURL: f.busURL, extra: "[purge.method]\nenabled = true\n"})
	f.specB = purgeNodeSpec{name: f.edgeBN, role: "edge", listen: p[4], admin: p[5],
		dir: f.dir, origin: f.origin.URL, shield: p[0], busURL: f.busURL}
	f.edgeB = startPurgeNode(t, f.specB)
	return f
}

// warm fetches host+path through both edges until both answer hits.
func (f *purgeFleet) warm(t *testing.T, host, path string) {
	t.Helper()
	if r := get(t, f.edgeA.spec.listen, host, path); !r.miss(f.edgeAN) || !r.miss(f.shieldName) {
		t.Fatalf("first GET %s%s via %s: %v, want a miss at both tiers", host, path, f.edgeAN, r.status)
	}
	if r := get(t, f.edgeB.spec.listen, host, path); !r.miss(f.edgeBN) || !r.hit(f.shieldName) {
		t.Fatalf("first GET %s%s via %s: %v, want an edge miss and a shield hit", host, path, f.edgeBN, r.status)
	}
	for _, e := range []*purgeNode{f.edgeA, f.edgeB} {
		if r := get(t, e.spec.listen, host, path); !r.hit(e.spec.name) {
			t.Fatalf("GET %s%s via %s: %v, want a hit", host, path, e.spec.name, r.status)
		}
	}
}

// TestPurgeFleet: each kind of purge issued at one edge removes the
// object from every node (both tiers of each), so the next request is a
// miss at every tier; a soft purge leads to revalidations answered 304 by
// the origin; requests refused for their authentication, scope or body
// change nothing.
func TestPurgeFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes and a NATS server")
	}
	f := newPurgeFleet(t)
	tests := []struct {
		name, host, path, token, purge string
	}{
		{"url", "example.test", "/p/u", testPurgeToken, `{"urls": ["https://example.test/p/u"]}`},
		{"prefix", "example.test", "/static/app.js", testPurgeToken, `{"prefixes": ["example.test/static/"]}`},
		{"host", "host.test", "/p/h", testPurgeToken, `{"hosts": ["host.test"]}`},
		{"tag", "example.test", "/p/tagged", testPurgeToken, `{"tags": ["t-tagged"]}`},
		{"all", "example.test", "/p/all", testAdminToken, `{"all": true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.warm(t, tt.host, tt.path)
			if r := get(t, f.edgeA.spec.listen, tt.host, tt.path); len(r.header.Values("Surrogate-Key")) != 0 {
				t.Errorf("the edge served the tag header to a client: %q", r.header.Values("Surrogate-Key"))
			}
			full, _ := f.origin.counts(tt.path)
			mustPurge(t, f.edgeA.spec.admin, tt.token, tt.purge)
			r := get(t, f.edgeA.spec.listen, tt.host, tt.path)
			if !r.miss(f.edgeAN) || !r.miss(f.shieldName) {
				t.Errorf("after the purge, via %s: %v, want a miss at every tier", f.edgeAN, r.status)
			}
			if got, _ := f.origin.counts(tt.path); got != full+1 {
				t.Errorf("origin fetches %d -> %d, want one more", full, got)
			}
			if r := get(t, f.edgeB.spec.listen, tt.host, tt.path); !r.miss(f.edgeBN) {
				t.Errorf("after the purge, via %s: %v, want an edge miss", f.edgeBN, r.status)
			}
		})
	}

	t.Run("soft purge revalidates with a 304", func(t *testing.T) {
		f.warm(t, "example.test", "/p/soft")
		full, reval := f.origin.counts("/p/soft")
		mustPurge(t, f.edgeB.spec.admin, testPurgeToken, `{"urls": ["http://example.test/p/soft"], "soft": true}`)
		r := get(t, f.edgeA.spec.listen, "example.test", "/p/soft")
		if e := r.entry(f.edgeAN); !strings.Contains(e, "fwd=stale") || !strings.Contains(e, "fwd-status=304") {
			t.Errorf("edge entry %q: want a revalidation answered 304", e)
		}
		if e := r.entry(f.shieldName); !strings.Contains(e, "fwd=stale") || !strings.Contains(e, "fwd-status=304") {
			t.Errorf("shield entry %q: want a revalidation answered 304", e)
		}
		if gotFull, gotReval := f.origin.counts("/p/soft"); gotFull != full || gotReval != reval+1 {
			t.Errorf("origin: %d full responses and %d 304s, was %d and %d: want one more 304 and no full fetch", gotFull, gotReval, full, reval)
		}
		if r := get(t, f.edgeA.spec.listen, "example.test", "/p/soft"); !r.hit(f.edgeAN) || r.code != http.StatusOK || !strings.HasPrefix(r.body, "/p/soft #1") {
			t.Errorf("after the revalidation: %d %v %q, want a hit on the same body", r.code, r.status, r.body)
		}
	})

	t.Run("refused requests change nothing", func(t *testing.T) {
		f.warm(t, "example.test", "/p/auth")
		full, _ := f.origin.counts("/p/auth")
		for _, c := range []struct {
			token, body string
			code        int
		}{
			{"", `{"urls": ["http://example.test/p/auth"]}`, http.StatusUnauthorized},
			{"not-a-token-0123456789", `{"urls": ["http://example.test/p/auth"]}`, http.StatusUnauthorized},
			{testPurgeToken, `{"all": true}`, http.StatusForbidden},
			{testPurgeToken, `{"urls": ["http://example.test/p/auth"], "bogus": 1}`, http.StatusBadRequest},
			{testPurgeToken, `{"prefixes": ["/p/"]}`, http.StatusBadRequest},
		} {
			if code, body := adminCall(t, f.edgeA.spec.admin, http.MethodPost, "/purge", c.token, c.body); code != c.code {
				t.Errorf("POST %s with token %q: %d %v, want %d", c.body, c.token, code, body, c.code)
			}
		}
		for _, e := range []*purgeNode{f.edgeA, f.edgeB} {
			if r := get(t, e.spec.listen, "example.test", "/p/auth"); !r.hit(e.spec.name) {
				t.Errorf("via %s: %v, want still a hit", e.spec.name, r.status)
			}
		}
		if got, _ := f.origin.counts("/p/auth"); got != full {
			t.Errorf("origin fetches %d -> %d", full, got)
		}
	})

	t.Run("PURGE method", func(t *testing.T) {
		f.warm(t, "example.test", "/p/method")
		req, _ := http.NewRequest("PURGE", "http://"+f.edgeA.spec.listen+"/p/method", nil)
		req.Host = "example.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PURGE: %d, want 200", resp.StatusCode)
		}
		if r := get(t, f.edgeB.spec.listen, "example.test", "/p/method"); !r.miss(f.edgeBN) || !r.miss(f.shieldName) {
			t.Errorf("after PURGE: %v, want a miss at every tier", r.status)
		}
	})

	t.Run("health and metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + f.edgeB.spec.admin + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "purge: bus connected, up to date") {
			t.Errorf("/healthz: %d %q", resp.StatusCode, b)
		}
		resp, err = http.Get("http://" + f.edgeA.spec.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range []string{`popcache_purge_applied_total{kind="tag"}`, `popcache_purge_published_total{kind="url"}`,
			"popcache_purge_objects_removed_total", "popcache_purge_apply_latency_seconds_bucket", "popcache_purge_consumer_lag",
			"popcache_purge_bus_connected 1"} {
			if !strings.Contains(string(b), m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	})

	t.Run("status per node", func(t *testing.T) {
		id := mustPurge(t, f.shield.spec.admin, testPurgeToken, `{"tags": ["nothing-has-it"]}`)
		code, st := adminCall(t, f.edgeB.spec.admin, http.MethodGet, "/purge/"+id, testPurgeToken, "")
		nodes, _ := st["nodes"].([]any)
		if code != http.StatusOK || st["state"] != "applied" || len(nodes) != 3 {
			t.Fatalf("GET /purge/%s: %d %v, want 200 applied on 3 nodes", id, code, st)
		}
		for _, n := range nodes {
			m := n.(map[string]any)
			if m["live"] != true || m["applied"] != true {
				t.Errorf("node %v", m)
			}
		}
	})
}

// TestPurgeCatchUp: a node stopped while a purge is issued does not serve
// the purged object when it starts again, not even once, though its disk
// tier still holds it; what no purge touched is served from that disk.
func TestPurgeCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes and a NATS server")
	}
	f := newPurgeFleet(t)
	f.warm(t, "example.test", "/p/late")
	f.warm(t, "example.test", "/p/kept")
	f.edgeB.stop()

	id := mustPurge(t, f.edgeA.spec.admin, testPurgeToken, `{"tags": ["t-late"]}`)
	code, st := adminCall(t, f.edgeA.spec.admin, http.MethodGet, "/purge/"+id, testPurgeToken, "")
	if code != http.StatusOK {
		t.Fatalf("GET /purge/%s: %d %v", id, code, st)
	}
	for _, n := range st["nodes"].([]any) {
		if m := n.(map[string]any); m["node"] == f.edgeBN && (m["live"] != false || m["applied"] != false) {
			t.Errorf("the stopped node's status: %v, want not live and not applied", m)
		}
	}

	f.edgeB = startPurgeNode(t, f.specB)
	if r := get(t, f.edgeB.spec.listen, "example.test", "/p/late"); !r.miss(f.edgeBN) {
		t.Errorf("first request after the restart: %v, want a miss at %s", r.status, f.edgeBN)
	}
	if r := get(t, f.edgeB.spec.listen, "example.test", "/p/kept"); !r.hit(f.edgeBN) {
		t.Errorf("an object no purge touched: %v, want a hit from the disk tier", r.status)
	}
}

// childConfigEnv names the config file a re-executed test binary serves
// (see TestPurgeChildNode).
const childConfigEnv = "POPCACHE_PURGE_TEST_CHILD_CONFIG"

// TestPurgeChildNode is not a test: it is the node the restart test runs
// in a child process, and kills.
func TestPurgeChildNode(t *testing.T) {
	path := os.Getenv(childConfigEnv)
	if path == "" {
		t.Skip("run by TestPurgeSurvivesKill")
	}
	os.Exit(run([]string{"serve", "-c", path}, os.Stdout, os.Stderr))
}

// startChild runs a node from config in a child process.
func startChild(t *testing.T, config, admin string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPurgeChildNode$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), childConfigEnv+"="+config)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if testing.Verbose() == false {
		cmd.Stdout, cmd.Stderr = nil, nil
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	died := make(chan error, 1)
	go func() { died <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-died
	})
	waitHealthy(t, admin, died)
	return cmd
}

// TestPurgeSurvivesKill: purge, kill -9, start: the object is still
// purged, though the disk tier kept it, and the purge's status is kept.
func TestPurgeSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node in a child process")
	}
	origin := newPurgeOrigin(t)
	p := freePorts(t, 3)
	dir := t.TempDir()
	spec := purgeNodeSpec{name: "solo", role: "edge", listen: p[0], admin: p[1], dir: dir, origin: origin.URL, busAt: p[2]}
	config := filepath.Join(dir, "solo.toml")
	if err := os.WriteFile(config, []byte(spec.toml()), 0o644); err != nil {
		t.Fatal(err)
	}

	child := startChild(t, config, spec.admin)
	for _, path := range []string{"/p/gone", "/p/kept"} {
		get(t, spec.listen, "example.test", path)
		if r := get(t, spec.listen, "example.test", path); !r.hit("solo") {
			t.Fatalf("GET %s: %v, want a hit", path, r.status)
		}
	}
	// A fill is committed to the disk tier just after its response, and
	// synced just after that: wait for the commits, so that the kill
	// tests the purge and not a write still under way.
	waitDiskObjects(t, spec.admin, 2)
	id := mustPurge(t, spec.admin, testPurgeToken, `{"urls": ["http://example.test/p/gone"]}`)
	if err := child.Process.Kill(); err != nil { // SIGKILL: no shutdown, no flush
		t.Fatal(err)
	}
	child.Process.Wait()

	startChild(t, config, spec.admin)
	full, _ := origin.counts("/p/gone")
	if r := get(t, spec.listen, "example.test", "/p/gone"); !r.miss("solo") {
		t.Errorf("the purged object after kill -9 and restart: %v, want a miss", r.status)
	}
	if got, _ := origin.counts("/p/gone"); got != full+1 {
		t.Errorf("origin fetches %d -> %d, want one more", full, got)
	}
	if r := get(t, spec.listen, "example.test", "/p/kept"); !r.hit("solo") {
		t.Errorf("an object no purge touched: %v, want a hit from the disk tier", r.status)
	}
	if code, st := adminCall(t, spec.admin, http.MethodGet, "/purge/"+id, testPurgeToken, ""); code != http.StatusOK || st["state"] != "applied" {
		t.Errorf("GET /purge/%s after the restart: %d %v", id, code, st)
	}
}

// waitDiskObjects waits until the node's popcache_disk_objects reaches n,
// for at most 10 seconds.
func waitDiskObjects(t *testing.T, admin string, n float64) {
	t.Helper()
	var last float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get("http://" + admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "popcache_disk_objects "); ok {
				last, _ = strconv.ParseFloat(v, 64)
			}
		}
		if last >= n {
			return
		}
	}
	t.Fatalf("popcache_disk_objects stayed at %v, want %v", last, n)
}
