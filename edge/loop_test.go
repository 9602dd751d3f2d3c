package edge

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// A request that names this node in CDN-Loop or Via is refused with 508
// before it reaches the origin; one that names others passes, and the
// upstream request carries the prior entries and then ours.
func TestLoopDetection(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok"))
	})
	n := startNode(t, origin, "[server]\nname = \"edge-1\"\n")
	tests := []struct {
		name     string
		hdr      []string
		wantCode int
		wantLoop string // the CDN-Loop the origin sees, when it passes
	}{
		{name: "no entries", wantCode: 200, wantLoop: "edge-1"},
		{name: "another CDN", hdr: []string{"CDN-Loop", "cdn.example; abc=1, other-cdn"}, wantCode: 200,
			wantLoop: "cdn.example; abc=1, other-cdn, edge-1"},
		{name: "a longer name that starts like ours", hdr: []string{"CDN-Loop", "edge-10"}, wantCode: 200,
			wantLoop: "edge-10, edge-1"},
		{name: "our name in a quoted parameter", hdr: []string{"CDN-Loop", `foo; p="x, edge-1"`}, wantCode: 200,
			wantLoop: `foo; p="x, edge-1", edge-1`},
		{name: "ours in CDN-Loop", hdr: []string{"CDN-Loop", "edge-1"}, wantCode: 508},
		{name: "ours after others, with parameters", hdr: []string{"CDN-Loop", "a.example, EDGE-1; v=2"}, wantCode: 508},
		{name: "ours on a second line", hdr: []string{"CDN-Loop", "a", "CDN-Loop", "edge-1"}, wantCode: 508},
		{name: "ours in Via", hdr: []string{"Via", "1.1 proxy.example (x, y), 2 edge-1"}, wantCode: 508},
		{name: "ours in a Via comment only", hdr: []string{"Via", "1.1 proxy (via edge-1)"}, wantCode: 200,
			wantLoop: "edge-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			resp, body := n.get("/loop", tt.hdr...)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.wantCode, body)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.wantCode == http.StatusLoopDetected {
				if len(seen) != 0 {
					t.Errorf("a looping request reached the origin")
				}
				if cs := cacheStatusOf(resp); !strings.Contains(cs, "detail=loop") {
					t.Errorf("Cache-Status %q, want detail=loop", cs)
				}
				return
			}
			if len(seen) != 1 {
				t.Fatalf("origin saw %d requests, want 1", len(seen))
			}
			if got := seen[0]["Cdn-Loop"]; !slices.Equal(got, []string{tt.wantLoop}) {
				t.Errorf("upstream CDN-Loop %q, want %q", got, tt.wantLoop)
			}
		})
	}
}

// Two nodes that forward to each other stop at the first repeat.
func TestLoopBetweenNodes(t *testing.T) {
	var b *node
	forward := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Stands for node A's origin being node B: relay as B would see it.
		req, _ := http.NewRequest(r.Method, b.url+r.URL.RequestURI(), nil)
		req.Header = r.Header.Clone()
		resp, err := testClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	})
	a := startNode(t, forward, "[server]\nname = \"node-a\"\n")
	// B's origin is A: A → B → A must end at A with 508.
	b = startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequest(r.Method, a.url+r.URL.RequestURI(), nil)
		req.Header = r.Header.Clone()
		resp, err := testClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	}), "[server]\nname = \"node-b\"\n")
	resp, _ := a.get("/x")
	if resp.StatusCode != http.StatusLoopDetected {
		t.Fatalf("status %d, want 508 relayed back", resp.StatusCode)
	}
}
