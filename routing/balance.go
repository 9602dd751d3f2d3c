package routing

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// balancer picks one server among those a filter allows.
type balancer interface {
	// pick returns a server f allows, or nil when f allows none.
	pick(servers []*server, f filter, hashKey string) *server
}

// filter says which servers a pick may return.
type filter struct {
	now     time.Time
	exclude *server // the server that just failed to connect, or nil
	anyUp   bool    // ignore health: every server counts as available
}

func (f filter) allows(s *server) bool {
	return s != f.exclude && (f.anyUp || s.available(f.now))
}

func newBalancer(name string, n int) (balancer, error) {
	switch name {
	case "", "round_robin":
		return &roundRobin{}, nil
	case "weighted":
		return &smoothWeighted{current: make([]int, n)}, nil
	case "least_conn":
		return &leastConn{}, nil
	case "hash":
		return rendezvous{}, nil
	}
	return nil, fmt.Errorf("balance %q: want round_robin, weighted, least_conn or hash", name)
}

// roundRobin takes the servers in turn, skipping those not allowed.
type roundRobin struct{ rotation }

// rotation is a turn counter shared by concurrent picks.
type rotation struct{ next atomic.Uint64 }

// turn returns where a pick starts. A retry (f.exclude set) takes the
// turn after the failed pick's without using one up, so a dead server does
// not get every first attempt.
func (r *rotation) turn(f filter) uint64 {
	if f.exclude != nil {
		return r.next.Load()
	}
	return r.next.Add(1) - 1
}

func (b *roundRobin) pick(servers []*server, f filter, _ string) *server {
	n := uint64(len(servers))
	start := b.turn(f)
	for i := range n {
		if s := servers[(start+i)%n]; f.allows(s) {
			return s
		}
	}
	return nil
}

// smoothWeighted is nginx's smooth weighted round robin: each pick adds
// every allowed server's weight to its current value, takes the largest and
// subtracts the total from it. Weights 5,1,1 give a a b a c a a rather than
// a a a a a b c.
type smoothWeighted struct {
	mu      sync.Mutex // protects current
	current []int      // indexed like the pool's servers
}

func (b *smoothWeighted) pick(servers []*server, f filter, _ string) *server {
	b.mu.Lock()
	defer b.mu.Unlock()
	var best *server
	total := 0
	for i, s := range servers {
		if !f.allows(s) {
			continue
		}
		b.current[i] += s.weight
		total += s.weight
		if best == nil || b.current[i] > b.current[best.index] {
			best = s
		}
	}
	if best != nil {
		b.current[best.index] -= total
	}
	return best
}

// leastConn takes the server with the fewest requests in flight relative
// to its weight; ties go round robin.
type leastConn struct{ rotation }

func (b *leastConn) pick(servers []*server, f filter, _ string) *server {
	n := uint64(len(servers))
	start := b.turn(f)
	var best *server
	var bestLoad int64
	for i := range n {
		s := servers[(start+i)%n]
		if !f.allows(s) {
			continue
		}
		load := s.inflight.Load()
		// load/weight < bestLoad/best.weight, without division.
		if best == nil || load*int64(best.weight) < bestLoad*int64(s.weight) {
			best, bestLoad = s, load
		}
	}
	return best
}

// rendezvous is weighted rendezvous (highest random weight) hashing: each
// server scores hash(key, server) scaled by its weight and the top score
// wins. A key moves only when its server leaves (or a better one joins),
// and the choice depends on nothing but the key and the server URLs, so
// every node picks the same server for a key.
type rendezvous struct{}

func (rendezvous) pick(servers []*server, f filter, hashKey string) *server {
	k := HashKey(hashKey)
	var best *server
	bestScore := math.Inf(-1)
	for _, s := range servers {
		if !f.allows(s) {
			continue
		}
		if score := RendezvousScore(k, s.seed, float64(s.weight)); score > bestScore {
			best, bestScore = s, score
		}
	}
	return best
}
