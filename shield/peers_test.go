package shield

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"testing"
	"time"
)

func testPeers(t testing.TB, weights ...int) []*peer {
	t.Helper()
	ps := make([]*peer, len(weights))
	for i, w := range weights {
		u, err := url.Parse(fmt.Sprintf("http://10.0.0.%d:8080", i+1))
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = newPeer(u, w, 3, time.Second)
	}
	return ps
}

func labels(ps []*peer) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.label
	}
	return out
}

// The order is a permutation that depends on the key and the peers only,
// not on their config order.
func TestRankDeterministic(t *testing.T) {
	ps := testPeers(t, 1, 1, 1, 1, 1)
	rev := slices.Clone(ps)
	slices.Reverse(rev)
	for i := range 200 {
		key := fmt.Sprintf("http://example.com/obj/%d", i)
		a := labels(rank(ps, key, nil))
		b := labels(rank(rev, key, nil))
		if !slices.Equal(a, b) {
			t.Fatalf("key %q: order depends on config order: %v vs %v", key, a, b)
		}
		if len(a) != len(ps) {
			t.Fatalf("rank returned %d peers, want %d", len(a), len(ps))
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		if !slices.Equal(slices.Compact(sorted), labels(ps)) {
			t.Fatalf("key %q: order %v is not a permutation", key, a)
		}
	}
}

// Removing a shield moves only the keys whose home it was, each to the
// next shield of its own order; adding it back moves them back.
func TestRankMinimalDisruption(t *testing.T) {
	ps := testPeers(t, 1, 1, 1, 1)
	without := slices.Delete(slices.Clone(ps), 2, 3)
	moved := 0
	for i := range 2000 {
		key := fmt.Sprintf("k%d", i)
		full := rank(ps, key, nil)
		less := rank(without, key, nil)
		if full[0] != ps[2] {
			if less[0] != full[0] {
				t.Fatalf("key %q moved from %s to %s though its home stayed", key, full[0].label, less[0].label)
			}
			continue
		}
		moved++
		if less[0] != full[1] {
			t.Fatalf("key %q went to %s, want its second choice %s", key, less[0].label, full[1].label)
		}
	}
	if moved < 400 || moved > 600 {
		t.Errorf("%d of 2000 keys had the removed shield as home, want about 500", moved)
	}
}

// Shares follow the weights.
func TestRankWeights(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{name: "equal", weights: []int{1, 1, 1}},
		{name: "one double", weights: []int{2, 1, 1}},
		{name: "skewed", weights: []int{5, 1}},
	}
	const n = 20000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := testPeers(t, tt.weights...)
			count := map[*peer]int{}
			for i := range n {
				count[rank(ps, fmt.Sprintf("/obj/%d", i), nil)[0]]++
			}
			total := 0
			for _, w := range tt.weights {
				total += w
			}
			for i, p := range ps {
				want := float64(n) * float64(tt.weights[i]) / float64(total)
				if got := float64(count[p]); math.Abs(got-want) > 0.05*n {
					t.Errorf("%s (weight %d) is home of %v keys, want about %v", p.label, tt.weights[i], got, want)
				}
			}
		})
	}
}

func BenchmarkRank(b *testing.B) {
	for _, n := range []int{2, 4, 8} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			ps := testPeers(b, slices.Repeat([]int{1}, n)...)
			var buf [maxStackPeers]*peer
			b.ReportAllocs()
			for b.Loop() {
				rank(ps, "https://www.example.com/static/app.js?v=12", buf[:0])
			}
		})
	}
}
