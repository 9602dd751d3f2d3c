package shield_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pop is the integration topology: 1 origin, 2 shields, 2 edges.
type pop struct {
	origin  *origin
	shields []*node
	edges   []*node
	keys    []*keys // per edge: path → cache key
}

// startPoP starts the topology; h is the origin's handler.
func startPoP(t *testing.T, h http.HandlerFunc) *pop {
	t.Helper()
	p := &pop{origin: startOrigin(t, h)}
	var urls []string
	for _, name := range []string{"shield-a", "shield-b"} {
		s := startNode(t, p.origin, nodeConfig{name: name, role: "shield"})
		p.shields = append(p.shields, s)
		urls = append(urls, s.url)
	}
	for _, name := range []string{"edge-1", "edge-2"} {
		k := &keys{}
		e := startNode(t, p.origin, nodeConfig{name: name, role: "edge", shield: urls, spy: k.record})
		p.edges = append(p.edges, e)
		p.keys = append(p.keys, k)
	}
	return p
}

// home returns the shield node that the edges' rendezvous order makes
// the home of key.
func (p *pop) home(t *testing.T, key string) *node {
	t.Helper()
	first := p.edges[0].client.Order(key)[0]
	for _, s := range p.shields {
		if s.url == first {
			return s
		}
	}
	t.Fatalf("order of %q starts with unknown %s", key, first)
	return nil
}

// cacheable answers every path with max-age=60 and a body naming it.
func cacheable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "object %s", r.URL.RequestURI())
}

// Each object goes to the shield that rendezvous hashing of its cache key
// names, from either edge, and the keys spread over both shields.
func TestTierKeySpread(t *testing.T) {
	p := startPoP(t, cacheable)
	const objects = 200
	per := map[string]int{}
	for i := range objects {
		path := fmt.Sprintf("/spread/%d", i)
		_, h1, _ := mustGet(t, p.edges[0].url+path)
		key := p.keys[0].get(path)
		if key == "" {
			t.Fatalf("%s: edge-1 made no upstream request", path)
		}
		want := p.home(t, key).name
		if got := shieldOf(h1, p.shields...); got != want {
			t.Fatalf("%s: edge-1 fetched it from %q, the hash says %q (Cache-Status %q)", path, got, want, h1["Cache-Status"])
		}
		if e := entry(h1, want); !strings.Contains(e, "fwd=uri-miss") {
			t.Fatalf("%s: first fetch, shield entry %q, want a miss", path, e)
		}
		// The other edge computes the same key and the same home, where
		// the object now is: edge miss, shield hit.
		_, h2, _ := mustGet(t, p.edges[1].url+path)
		if k2 := p.keys[1].get(path); k2 != key {
			t.Fatalf("%s: edges disagree on the key: %q vs %q", path, key, k2)
		}
		if e := entry(h2, want); !strings.HasPrefix(e, want+"; hit") {
			t.Fatalf("%s: edge-2's shield entry %q, want a hit at %s", path, e, want)
		}
		if e := entry(h2, "edge-2"); !strings.Contains(e, "fwd=uri-miss") {
			t.Fatalf("%s: edge-2 entry %q, want a miss", path, e)
		}
		per[want]++
	}
	for _, s := range p.shields {
		share := per[s.name]
		t.Logf("%s is home of %d of %d objects", s.name, share, objects)
		if share < objects*3/10 || share > objects*7/10 {
			t.Errorf("%s is home of %d of %d objects, want 30%%..70%%", s.name, share, objects)
		}
	}
	if got := p.origin.total.Load(); got != objects {
		t.Errorf("origin fetches = %d, want %d (one per object for the fleet)", got, objects)
	}
}

// Two edges with 500 concurrent clients each ask for the same cold
// object: each edge coalesces its clients into one fetch, both fetches go
// to the object's home shield, which coalesces them into one origin
// fetch.
func TestTierCoalescing(t *testing.T) {
	const clients = 500
	var viaMu sync.Mutex
	var vias []string // who fetched from the origin, and when
	defer func() { t.Logf("origin requests (Via @ time): %q", vias) }()
	p := startPoP(t, func(w http.ResponseWriter, r *http.Request) {
		viaMu.Lock()
		vias = append(vias, r.Header.Get("Via")+" @"+time.Now().Format("05.000"))
		viaMu.Unlock()
		time.Sleep(100 * time.Millisecond) // a cold, slow object
		cacheable(w, r)
	})
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed, ok atomic.Int64
	var bodyMu sync.Mutex
	bodies := map[string]int{}
	statuses := map[string]int{} // Cache-Status → responses
	for _, e := range p.edges {
		for range clients {
			wg.Go(func() {
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				code, h, body, err := fetch(ctx, e.url+"/cold")
				bodyMu.Lock()
				statuses[h.Get("Cache-Status")]++
				bodyMu.Unlock()
				if err != nil || code != http.StatusOK {
					if failed.Add(1) <= 3 {
						t.Logf("%s: %d %v", e.name, code, err)
					}
					return
				}
				ok.Add(1)
				bodyMu.Lock()
				bodies[body]++
				bodyMu.Unlock()
			})
		}
	}
	close(start)
	wg.Wait()
	defer func() {
		if t.Failed() {
			t.Logf("Cache-Status seen (value: responses): %v", statuses)
		}
	}()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed", failed.Load(), 2*clients)
	}
	if len(bodies) != 1 {
		t.Errorf("clients got %d different bodies, want 1: %v", len(bodies), bodies)
	}
	shieldRequests := p.shields[0].hits.Load() + p.shields[1].hits.Load()
	t.Logf("%d clients served; shield requests %d; origin fetches %d", ok.Load(), shieldRequests, p.origin.count("/cold"))
	if got := p.origin.count("/cold"); got != 1 {
		t.Errorf("origin fetches = %d, want exactly 1", got)
	}
	if shieldRequests != 2 {
		t.Errorf("shield requests = %d, want 2 (one per edge)", shieldRequests)
	}
}

// Under a steady GET load through both edges, one shield is killed and
// later restored. No client sees an error; while it is down its keys are
// served through the other shield, and when it is back they return to it.
func TestTierShieldKill(t *testing.T) {
	p := startPoP(t, cacheable)
	victim, survivor := p.shields[0], p.shields[1]

	// Paths homed at each shield, found through the edges' own keys.
	homed := map[string][]string{}
	for i := 0; len(homed[victim.name]) < 10 || len(homed[survivor.name]) < 10; i++ {
		if i > 1000 {
			t.Fatal("could not find 10 keys homed at each shield")
		}
		path := fmt.Sprintf("/steady/%d", i)
		mustGet(t, p.edges[0].url+path) // warms edge-1 and the home shield
		s := p.home(t, p.keys[0].get(path)).name
		homed[s] = append(homed[s], path)
	}

	// The load: 4 workers per edge, each alternating a cached object and
	// a fresh one (a unique query: an edge miss that must reach a shield).
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sent, errs atomic.Int64
	var errMu sync.Mutex
	var firstErrs []string
	all := append(append([]string{}, homed[victim.name]...), homed[survivor.name]...)
	for ei, e := range p.edges {
		for w := range 4 {
			wg.Go(func() {
				for i := 0; i < 100_000 && ctx.Err() == nil; i++ {
					path := all[(i+w)%len(all)]
					if i%2 == 1 {
						path += fmt.Sprintf("?r=%d-%d-%d", ei, w, i)
					}
					rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					code, h, _, err := fetch(rctx, e.url+path)
					cancel()
					sent.Add(1)
					if err != nil || code != http.StatusOK {
						errs.Add(1)
						errMu.Lock()
						if len(firstErrs) < 5 {
							firstErrs = append(firstErrs, fmt.Sprintf("%s%s: %d %v %q", e.name, path, code, err, h["Cache-Status"]))
						}
						errMu.Unlock()
					}
				}
			})
		}
	}
	defer func() { stop(); wg.Wait() }()

	// servedBy asks edge-2 for a fresh variant of path and returns the
	// shield that answered, and the Cache-Status.
	var probe atomic.Int64
	servedBy := func(path string) (string, []string) {
		_, h, _ := mustGet(t, p.edges[1].url+path+"?probe="+strconv.FormatInt(probe.Add(1), 10))
		return shieldOf(h, p.shields...), h["Cache-Status"]
	}
	// waitAll waits (bounded) until every path is served by want.
	waitAll := func(paths []string, want string) {
		t.Helper()
		for _, path := range paths {
			deadline := time.Now().Add(10 * time.Second)
			for {
				got, cs := servedBy(path)
				if got == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s still served by %q, not %s, after 10s: Cache-Status %q; circuits at edge-2: %s %v, %s %v",
						path, got, want, cs, victim.name, gatherValue(t, p.edges[1], "popcache_shield_circuit_state", victim.url),
						survivor.name, gatherValue(t, p.edges[1], "popcache_shield_circuit_state", survivor.url))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	waitLoad := func(n int64) {
		t.Helper()
		target := sent.Load() + n
		deadline := time.Now().Add(10 * time.Second)
		for sent.Load() < target && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}

	waitLoad(300)
	waitAll(homed[victim.name], victim.name)
	beforeKill := sent.Load()

	victim.kill()
	waitLoad(300)
	// Its keys moved to the survivor; the survivor's stayed.
	waitAll(homed[victim.name], survivor.name)
	waitAll(homed[survivor.name], survivor.name)
	duringKill := sent.Load() - beforeKill

	victim.restore()
	// After open_for (200ms) a trial request closes the circuit: the keys
	// come back.
	waitAll(homed[victim.name], victim.name)
	waitAll(homed[survivor.name], survivor.name)
	waitLoad(300)

	stop()
	wg.Wait()
	t.Logf("load: %d requests, %d while %s was down; %d errors", sent.Load(), duringKill, victim.name, errs.Load())
	if errs.Load() != 0 {
		t.Errorf("%d client errors, want 0; first: %v", errs.Load(), firstErrs)
	}
	if duringKill < 100 {
		t.Errorf("only %d requests while %s was down: the load did not run", duringKill, victim.name)
	}
	for _, e := range p.edges {
		skipped := gatherValue(t, e, "popcache_shield_skipped_total", victim.url)
		failures := gatherValue(t, e, "popcache_shield_failures_total", victim.url)
		failovers := gatherValue(t, e, "popcache_shield_failovers_total", victim.url)
		t.Logf("%s: %s failures %v, failovers %v, skipped while open %v", e.name, victim.name, failures, failovers, skipped)
	}
}

// gatherValue sums the series of a metric family of node n whose shield
// label is shield.
func gatherValue(t *testing.T, n *node, name, shield string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "shield" && l.GetValue() == shield {
					sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return sum
}
