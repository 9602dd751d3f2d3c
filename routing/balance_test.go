package routing

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// testServers returns servers http://sN:80 with the given weights.
func testServers(weights ...int) []*server {
	out := make([]*server, len(weights))
	for i, w := range weights {
		out[i] = newServer(i, &url.URL{Scheme: "http", Host: fmt.Sprintf("s%d:80", i)}, w)
	}
	return out
}

func mustBalancer(t *testing.T, name string, n int) balancer {
	t.Helper()
	b, err := newBalancer(name, n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// counts picks n times and counts the picks per server index.
func counts(b balancer, servers []*server, f filter, n int) []int {
	c := make([]int, len(servers))
	for i := range n {
		c[b.pick(servers, f, fmt.Sprint("key", i)).index]++
	}
	return c
}

func TestDistribution(t *testing.T) {
	now := time.Now()
	tests := []struct {
		balance string
		weights []int
		want    []int // exact counts over 400 picks
	}{
		{"round_robin", []int{1, 1, 1, 1}, []int{100, 100, 100, 100}},
		{"round_robin", []int{3, 1}, []int{200, 200}}, // round_robin ignores weights
		{"weighted", []int{3, 1}, []int{300, 100}},
		{"weighted", []int{1, 1}, []int{200, 200}},
		{"weighted", []int{5, 2, 1}, []int{250, 100, 50}},
		{"least_conn", []int{1, 1, 1, 1}, []int{100, 100, 100, 100}}, // nothing in flight: ties rotate
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.balance, tt.weights), func(t *testing.T) {
			servers := testServers(tt.weights...)
			got := counts(mustBalancer(t, tt.balance, len(servers)), servers, filter{now: now}, 400)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("picks = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSmoothWeightedSequence checks nginx's smooth interleaving.
func TestSmoothWeightedSequence(t *testing.T) {
	servers := testServers(5, 1, 1)
	b := mustBalancer(t, "weighted", len(servers))
	var seq strings.Builder
	for range 7 {
		seq.WriteByte("abc"[b.pick(servers, filter{now: time.Now()}, "").index])
	}
	if got, want := seq.String(), "aabacaa"; got != want {
		t.Errorf("sequence = %s, want %s (nginx's smooth weighted round robin)", got, want)
	}
}

// TestHashDistribution checks weighted rendezvous hashing spreads keys by
// weight, within a tolerance wide enough for 4000 keys.
func TestHashDistribution(t *testing.T) {
	tests := []struct {
		weights []int
		share   []float64
	}{
		{[]int{1, 1, 1, 1}, []float64{0.25, 0.25, 0.25, 0.25}},
		{[]int{3, 1}, []float64{0.75, 0.25}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.weights), func(t *testing.T) {
			servers := testServers(tt.weights...)
			const n = 4000
			got := counts(rendezvous{}, servers, filter{now: time.Now()}, n)
			for i, c := range got {
				if share := float64(c) / n; share < tt.share[i]-0.04 || share > tt.share[i]+0.04 {
					t.Errorf("server %d got %.3f of keys, want %.2f±0.04 (counts %v)", i, share, tt.share[i], got)
				}
			}
		})
	}
}

// TestHashStability checks that when one of 4 servers leaves, only its keys
// move, whether it leaves by going down or by being removed from the config.
func TestHashStability(t *testing.T) {
	now := time.Now()
	servers := testServers(1, 1, 1, 1)
	const n = 2000
	before := make([]string, n)
	for i := range n {
		before[i] = rendezvous{}.pick(servers, filter{now: now}, fmt.Sprint("/k/", i)).label
	}
	leaving := servers[2]

	down := filter{now: now, exclude: leaving}
	removed := []*server{servers[0], servers[1], servers[3]}
	for name, pick := range map[string]func(key string) *server{
		"down":    func(k string) *server { return rendezvous{}.pick(servers, down, k) },
		"removed": func(k string) *server { return rendezvous{}.pick(removed, filter{now: now}, k) },
	} {
		t.Run(name, func(t *testing.T) {
			moved, orphans := 0, 0
			for i := range n {
				after := pick(fmt.Sprint("/k/", i)).label
				switch {
				case before[i] == leaving.label:
					orphans++
					if after == leaving.label {
						t.Fatalf("key %d still on the leaving server", i)
					}
				case after != before[i]:
					moved++
				}
			}
			if moved != 0 {
				t.Errorf("%d keys moved between servers that stayed", moved)
			}
			if orphans < n/8 || orphans > n*3/8 {
				t.Errorf("leaving server held %d of %d keys, want about a quarter", orphans, n)
			}
		})
	}
}

func TestLeastConnPicksIdlest(t *testing.T) {
	servers := testServers(1, 1, 2)
	b := mustBalancer(t, "least_conn", len(servers))
	servers[0].inflight.Store(2)
	servers[1].inflight.Store(1)
	servers[2].inflight.Store(3) // weight 2: load 1.5
	f := filter{now: time.Now()}
	for range 5 {
		if s := b.pick(servers, f, ""); s != servers[1] {
			t.Fatalf("picked s%d, want s1 (fewest in flight per weight)", s.index)
		}
	}
	servers[1].inflight.Store(4)
	if s := b.pick(servers, f, ""); s != servers[2] {
		t.Fatalf("picked s%d, want s2 (3/2 < 2/1)", s.index)
	}
}

// TestBalancersSkipUnavailable checks every policy skips down, ejected and
// excluded servers, and picks nothing when nothing is allowed.
func TestBalancersSkipUnavailable(t *testing.T) {
	now := time.Now()
	for _, name := range []string{"round_robin", "weighted", "least_conn", "hash"} {
		t.Run(name, func(t *testing.T) {
			servers := testServers(1, 1, 1, 1)
			servers[0].health.SetUp(false)
			servers[1].ejectedUntil.Store(now.Add(time.Second).UnixNano())
			f := filter{now: now, exclude: servers[2]}
			b := mustBalancer(t, name, len(servers))
			for i := range 20 {
				if s := b.pick(servers, f, fmt.Sprint(i)); s != servers[3] {
					t.Fatalf("picked s%d, want s3, the only one allowed", s.index)
				}
			}
			servers[3].health.SetUp(false)
			if s := b.pick(servers, f, "k"); s != nil {
				t.Fatalf("picked s%d with none allowed", s.index)
			}
			f.anyUp = true
			if s := b.pick(servers, f, "k"); s == nil || s == servers[2] {
				t.Fatalf("anyUp: picked %v, want a server other than the excluded one", s)
			}
		})
	}
}
