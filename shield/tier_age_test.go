package shield_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// chain is one origin, one shield and one edge with their own clocks.
type chain struct {
	origin       *origin
	shield, edge *node
	shieldClock  *clock
	edgeClock    *clock
}

func startChain(t *testing.T, edgeOffset time.Duration, h func(now time.Time) http.HandlerFunc, edgeTOML string) *chain {
	t.Helper()
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &chain{shieldClock: newClock(base), edgeClock: newClock(base.Add(edgeOffset))}
	// The origin's Date comes from the shield's clock: the two are one
	// data centre.
	c.origin = startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", c.shieldClock.Now().Format(http.TimeFormat))
		h(c.shieldClock.Now())(w, r)
	})
	c.shield = startNode(t, c.origin, nodeConfig{name: "shield-a", role: "shield", now: c.shieldClock.Now})
	c.edge = startNode(t, c.origin, nodeConfig{name: "edge-1", role: "edge", now: c.edgeClock.Now,
		shield: []string{c.shield.url}, toml: edgeTOML})
	return c
}

func (c *chain) advance(d time.Duration) {
	c.shieldClock.Advance(d)
	c.edgeClock.Advance(d)
}

// An object with max-age=60 that the shield has held for 50 s reaches the
// edge with Age: 50 and stays fresh there 10 s, not 60: the edge counts
// the Age the shield reports (RFC 9111 §4.2.3), whether or not its clock
// agrees with the Date header.
func TestTierAgeAccounting(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration // edge clock minus shield clock, after the shield's 50 s
	}{
		{name: "clocks agree: Date and Age both say 50s", offset: 50 * time.Second},
		{name: "edge clock 50s behind: only Age says 50s", offset: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startChain(t, tt.offset, func(time.Time) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", "max-age=60")
					w.Write([]byte("aged"))
				}
			}, "")
			// The shield fetches the object at t=0 (another edge asked).
			if code, _, _ := mustGet(t, c.shield.url+"/aged"); code != 200 {
				t.Fatalf("warming the shield: %d", code)
			}
			c.shieldClock.Advance(50 * time.Second)

			steps := []struct {
				advance   time.Duration
				wantEdge  string // prefix of the edge's Cache-Status entry
				wantAge   string
				wantTTL   string // in the edge's entry
				wantShiel string // prefix of the shield's entry
				wantFetch int
			}{
				{0, "edge-1; fwd=uri-miss", "50", "ttl=10", "shield-a; hit", 1},
				{9 * time.Second, "edge-1; hit", "59", "ttl=1", "", 1},
				// Past 10s the edge's copy is gone (or stale): upstream again,
				// and the shield's copy, 61s old, too.
				{2 * time.Second, "edge-1; fwd=", "0", "ttl=60", "shield-a; fwd=", 2},
			}
			for i, st := range steps {
				c.advance(st.advance)
				_, h, body := mustGet(t, c.edge.url+"/aged")
				e := entry(h, "edge-1")
				if body != "aged" || !strings.HasPrefix(e, st.wantEdge) || !strings.Contains(e, st.wantTTL) {
					t.Fatalf("step %d: edge entry %q (body %q), want %q with %s; Cache-Status %q", i, e, body, st.wantEdge, st.wantTTL, h["Cache-Status"])
				}
				if age := h.Get("Age"); age != st.wantAge {
					t.Errorf("step %d: Age %q, want %q", i, age, st.wantAge)
				}
				if st.wantShiel != "" && !strings.HasPrefix(entry(h, "shield-a"), st.wantShiel) {
					t.Errorf("step %d: shield entry %q, want %q", i, entry(h, "shield-a"), st.wantShiel)
				}
				if got := c.origin.count("/aged"); got != st.wantFetch {
					t.Errorf("step %d: origin fetches %d, want %d", i, got, st.wantFetch)
				}
			}
		})
	}
}

// An edge whose copy went stale revalidates it with the shield by a
// conditional request, and gets a 304: from the shield's cache when the
// shield's copy is fresh (the origin is not asked), or after the shield
// revalidated its own copy with the origin, conditionally too.
func TestTierRevalidation(t *testing.T) {
	tests := []struct {
		name string
		// freshen, when set, refreshes the shield's copy this long after
		// the first fetch (a request from elsewhere once the shield's copy
		// went stale, so the shield revalidates it).
		freshen         time.Duration
		later           time.Duration // then the edge asks again this much later
		wantShield      string        // prefix of the shield's entry
		wantConditional int64         // conditional requests the origin saw
	}{
		{name: "shield fresh: 304 from its cache", freshen: 11 * time.Second, later: 4 * time.Second,
			wantShield: "shield-a; hit", wantConditional: 1},
		{name: "shield stale too: both revalidate", later: 15 * time.Second,
			wantShield: "shield-a; fwd=stale; fwd-status=304", wantConditional: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conditional atomic.Int64
			c := startChain(t, 0, func(time.Time) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", "max-age=10")
					w.Header().Set("ETag", `"v1"`)
					if r.Header.Get("If-None-Match") == `"v1"` {
						conditional.Add(1)
						w.WriteHeader(http.StatusNotModified)
						return
					}
					w.Write([]byte("validated"))
				}
			}, "")
			mustGet(t, c.edge.url+"/v") // both tiers store it at t=0
			if tt.freshen > 0 {
				c.advance(tt.freshen)
				if _, h, _ := mustGet(t, c.shield.url+"/v"); !strings.Contains(entry(h, "shield-a"), "fwd-status=304") {
					t.Fatalf("refreshing the shield: %q", h["Cache-Status"])
				}
			}
			c.advance(tt.later)
			_, h, body := mustGet(t, c.edge.url+"/v")
			if body != "validated" {
				t.Fatalf("body %q", body)
			}
			if e := entry(h, "edge-1"); !strings.Contains(e, "fwd=stale") || !strings.Contains(e, "fwd-status=304") {
				t.Errorf("edge entry %q, want a revalidation answered 304", e)
			}
			if e := entry(h, "shield-a"); !strings.HasPrefix(e, tt.wantShield) {
				t.Errorf("shield entry %q, want %q", e, tt.wantShield)
			}
			if n, cond := c.origin.count("/v"), conditional.Load(); cond != tt.wantConditional || n != 1+int(cond) {
				t.Errorf("origin saw %d requests, %d conditional; want 1 full and %d conditional", n, cond, tt.wantConditional)
			}
			// Refreshed by the 304: fresh at the edge again.
			_, h, _ = mustGet(t, c.edge.url+"/v")
			if e := entry(h, "edge-1"); !strings.HasPrefix(e, "edge-1; hit") {
				t.Errorf("after the 304, edge entry %q, want a hit", e)
			}
		})
	}
}

// stale-if-error composes across tiers: when the origin fails, a shield
// holding a stale copy serves it, and when the shield is gone too, the
// edge serves its own.
func TestTierStaleIfError(t *testing.T) {
	tests := []struct {
		name       string
		killShield bool
		wantEntry  string // which tier served stale: its entry has this
		tier       string
	}{
		{name: "the shield serves stale", wantEntry: "detail=stale-if-error", tier: "shield-a"},
		{name: "shield down: the edge serves stale", killShield: true, wantEntry: "detail=stale-if-error", tier: "edge-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var down atomic.Bool
			c := startChain(t, 0, func(time.Time) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if down.Load() {
						http.Error(w, "origin down", http.StatusServiceUnavailable)
						return
					}
					w.Header().Set("Cache-Control", "max-age=1, stale-if-error=300")
					w.Write([]byte("still here"))
				}
			}, "")
			mustGet(t, c.edge.url+"/sie")
			c.advance(5 * time.Second)
			down.Store(true)
			if tt.killShield {
				c.shield.kill()
			}
			code, h, body := mustGet(t, c.edge.url+"/sie")
			if code != 200 || body != "still here" {
				t.Fatalf("got %d %q, want the stale copy; Cache-Status %q", code, body, h["Cache-Status"])
			}
			if e := entry(h, tt.tier); !strings.Contains(e, tt.wantEntry) {
				t.Errorf("%s entry %q, want %q; Cache-Status %q", tt.tier, e, tt.wantEntry, h["Cache-Status"])
			}
		})
	}
}
