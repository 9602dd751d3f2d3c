package routing

import "math"

// HashKey hashes s for rendezvous hashing: 64-bit FNV-1a, spread by the
// splitmix64 finalizer so that every input bit affects every output bit.
// Every node computes the same value for the same string.
func HashKey(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// RendezvousScore is the weighted rendezvous (highest random weight)
// score of a node for a key: -weight/ln(u), u uniform in (0,1) from the
// key's hash and the node's seed (HashKey of its identity). The node with
// the highest score is the key's home; a key moves only when its home
// leaves or a better node joins.
func RendezvousScore(key, seed uint64, weight float64) float64 {
	u := (float64(mix64(key^seed)>>11) + 0.5) / (1 << 53)
	return -weight / math.Log(u)
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
