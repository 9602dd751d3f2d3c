package shield

import (
	"net/url"
	"time"

	"github.com/popcache/popcache/routing"
)

// peer is one shield node and its health state.
type peer struct {
	url    *url.URL // scheme and host only
	label  string   // scheme://host, in metrics, logs and errors
	weight float64  // >= 1
	seed   uint64   // hash of label: the peer's identity for rendezvous hashing

	br breaker
	// health is the active-check verdict; up without checks.
	health routing.Health

	m *peerMetrics // never nil; records nothing without a Registerer
}

// newPeer returns an up peer with a closed breaker and metrics that record
// nothing; the Client sets m and br.onChange.
func newPeer(u *url.URL, weight int, maxFails int, openFor time.Duration) *peer {
	p := &peer{
		url:    &url.URL{Scheme: u.Scheme, Host: u.Host},
		label:  u.Scheme + "://" + u.Host,
		weight: float64(max(weight, 1)),
		br:     breaker{maxFails: maxFails, openFor: openFor},
		m:      &peerMetrics{},
	}
	p.seed = routing.HashKey(p.label)
	return p
}

// admit reports whether a request may go to p at now (p is up and its
// circuit lets it through), and whether it is the circuit's trial.
func (p *peer) admit(now time.Time) (ok, trial bool) {
	if !p.health.Up() {
		return false, false
	}
	return p.br.allow(now)
}

// maxStackPeers is how many peers rank without allocating.
const maxStackPeers = 8

// rank returns peers in rendezvous order for key: the key's home shield
// first, then the shield each key would move to if the ones before it
// left. It is weighted rendezvous (highest random weight) hashing: each
// peer scores -weight/ln(u), u being uniform in (0,1) from hash(key,
// peer), and higher scores come first. The order depends on nothing but
// the key and the peers' URLs and weights, so every edge computes the same
// one, and removing a peer moves only the keys whose home it was. dst is
// reused when large enough.
func rank(peers []*peer, key string, dst []*peer) []*peer {
	k := routing.HashKey(key)
	var stack [maxStackPeers]float64
	scores := stack[:0]
	if len(peers) > maxStackPeers {
		scores = make([]float64, 0, len(peers))
	}
	dst = dst[:0]
	for _, p := range peers {
		score := routing.RendezvousScore(k, p.seed, p.weight)
		// Insertion sort: pools are small. Ties (equal scores) keep config
		// order, which every edge shares.
		i := len(dst)
		dst = append(dst, p)
		scores = append(scores, score)
		for i > 0 && scores[i-1] < score {
			dst[i], scores[i] = dst[i-1], scores[i-1]
			i--
		}
		dst[i], scores[i] = p, score
	}
	return dst
}
