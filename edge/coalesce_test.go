package edge

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCoalescing sends many concurrent requests for one cold key to a slow
// origin: a cacheable response must cost one origin fetch, and an
// uncacheable one must never be handed to another client.
func TestCoalescing(t *testing.T) {
	const clients = 500
	cases := []struct {
		name        string
		header      map[string]string
		wantFetches func(n int64) bool
		shared      bool
	}{
		{
			name:        "cacheable: one fetch for all",
			header:      map[string]string{"Cache-Control": "max-age=60"},
			wantFetches: func(n int64) bool { return n == 1 },
			shared:      true,
		},
		{
			name:        "private: every client gets its own response",
			header:      map[string]string{"Cache-Control": "private, max-age=60"},
			wantFetches: func(n int64) bool { return n == clients },
		},
		{
			name:        "Set-Cookie: no cookie is shared",
			header:      map[string]string{"Cache-Control": "max-age=60", "Set-Cookie": "id=%d"},
			wantFetches: func(n int64) bool { return n == clients },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var fetches atomic.Int64
			release := make(chan struct{})
			n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id := fetches.Add(1)
				if id == 1 {
					<-release // hold the first fetch until every client is waiting
				}
				for k, v := range tc.header {
					if strings.Contains(v, "%d") {
						v = strings.ReplaceAll(v, "%d", strconv.FormatInt(id, 10))
					}
					w.Header().Set(k, v)
				}
				w.Write([]byte("response " + strconv.FormatInt(id, 10)))
			}), "")
			var wg sync.WaitGroup
			bodies := make([]string, clients)
			codes := make([]int, clients)
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, body := n.get("/cold")
					codes[i] = resp.StatusCode
					bodies[i] = body + "|" + resp.Header.Get("Set-Cookie")
				}()
			}
			// Wait until the clients are queued on the fill, then let it go.
			deadline := time.Now().Add(5 * time.Second)
			for fetches.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			close(release)
			wg.Wait()
			if got := fetches.Load(); !tc.wantFetches(got) {
				t.Errorf("origin fetches = %d", got)
			}
			seen := map[string]int{}
			for i, b := range bodies {
				if codes[i] != http.StatusOK {
					t.Fatalf("client %d: status %d", i, codes[i])
				}
				seen[b]++
			}
			if tc.shared && len(seen) != 1 {
				t.Errorf("cacheable response: %d distinct bodies, want 1", len(seen))
			}
			if !tc.shared {
				for b, c := range seen {
					if c > 1 {
						t.Errorf("uncacheable response %q was served to %d clients", b, c)
					}
				}
			}
		})
	}
}

// TestFillOutlivesClient checks that a client giving up does not cancel the
// fetch that other clients (and the cache) wait for.
func TestFillOutlivesClient(t *testing.T) {
	var fetches atomic.Int64
	started := make(chan struct{}, 1)
	n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		select {
		case started <- struct{}{}:
		default:
		}
		time.Sleep(300 * time.Millisecond)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("slow"))
	}), "")
	// The first client gives up once its fetch reached the origin (a
	// fixed timeout could end it before, on a loaded machine).
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
		}
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/slow", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("impatient client got a response; want it cancelled")
	}
	resp, body := n.get("/slow")
	if body != "slow" || fetches.Load() != 1 {
		t.Fatalf("second client: body %q, origin fetches %d; want the first fetch's response", body, fetches.Load())
	}
	if cs := cacheStatusOf(resp); !strings.Contains(cs, "collapsed") && !strings.Contains(cs, "hit") {
		t.Errorf("Cache-Status %q: want collapsed onto the first fetch or a hit", cs)
	}
}
