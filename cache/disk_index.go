package cache

import (
	"container/heap"
	"sync"
	"sync/atomic"
)

// diskEntry is the in-memory index record of one committed marker: what
// eviction, expiry and lookups need without reading Pebble.
type diskEntry struct {
	h     keyHash
	kind  byte   // markerObject or markerVary
	gen   uint64 // as in the marker
	until int64  // Unix nanoseconds; expired after
	size  int64  // bytes accounted against the cap (keys and values)
	// Objects only.
	bodySize   int64
	chunkBytes int64
	metaBytes  int64
	// Vary markers only: canonical field names.
	fields []string

	// ref is CLOCK's reference bit, set by hits (memory hits included,
	// through Object.loc) and cleared as the hand passes.
	ref atomic.Bool
	// dead is set once the entry left the index: its object may be gone.
	dead atomic.Bool

	prev, next *diskEntry // CLOCK ring order; protected by diskIndex.mu
	heapIdx    int        // position in the expiry heap; protected by diskIndex.mu
}

// touch records a use of the entry for eviction. It writes only when the
// bit is clear, so hot objects do not bounce a cache line between cores.
func (e *diskEntry) touch() {
	if !e.ref.Load() {
		e.ref.Store(true)
	}
}

// diskIndex indexes the committed markers in memory: by key hash for
// lookups, in CLOCK order for eviction (approximate LRU: an entry used
// since the hand last passed gets a second chance), and by expiry for the
// background deletion. It also accounts the tier's bytes.
//
// Mutations happen under the disk's write lock and mu; lookups take mu
// shared and never wait for Pebble.
type diskIndex struct {
	mu       sync.RWMutex
	m        map[keyHash]*diskEntry // protected by mu
	head     *diskEntry             // CLOCK hand: next candidate; protected by mu
	exp      expiryHeap             // protected by mu
	used     int64                  // bytes of committed entries; protected by mu
	reserved int64                  // bytes reserved by writes in progress; protected by mu
}

func newDiskIndex() *diskIndex {
	return &diskIndex{m: make(map[keyHash]*diskEntry)}
}

// get returns the live entry for h, or nil.
func (x *diskIndex) get(h keyHash) *diskEntry {
	x.mu.RLock()
	e := x.m[h]
	x.mu.RUnlock()
	return e
}

// counts returns the bytes used and reserved and the number of entries.
func (x *diskIndex) counts() (used, reserved int64, n int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.used, x.reserved, len(x.m)
}

// put adds e, replacing and returning the entry it displaces, if any.
func (x *diskIndex) put(e *diskEntry) (old *diskEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	old = x.m[e.h]
	if old != nil {
		x.removeLocked(old)
	}
	x.m[e.h] = e
	x.used += e.size
	heap.Push(&x.exp, e)
	if x.head == nil {
		e.prev, e.next = e, e
		x.head = e
	} else { // insert just behind the hand: the last to be considered
		tail := x.head.prev
		e.prev, e.next = tail, x.head
		tail.next = e
		x.head.prev = e
	}
	return old
}

// load adds entries to an empty index in one go (start-up): one lock,
// one heap build. Duplicate hashes are not expected (markers are keyed by
// hash); a later one would replace an earlier one.
func (x *diskIndex) load(es []*diskEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range es {
		if old := x.m[e.h]; old != nil {
			x.removeLocked(old)
		}
		x.m[e.h] = e
		x.used += e.size
		e.heapIdx = len(x.exp)
		x.exp = append(x.exp, e)
		if x.head == nil {
			e.prev, e.next = e, e
			x.head = e
		} else {
			tail := x.head.prev
			e.prev, e.next = tail, x.head
			tail.next = e
			x.head.prev = e
		}
	}
	heap.Init(&x.exp)
}

// update changes the expiry and sizes of a live entry in place.
func (x *diskIndex) update(e *diskEntry, until, size, metaBytes int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m[e.h] != e {
		return
	}
	x.used += size - e.size
	e.size, e.metaBytes = size, metaBytes
	e.until = until
	heap.Fix(&x.exp, e.heapIdx)
}

// remove takes e out of the index, if it is still there.
func (x *diskIndex) remove(e *diskEntry) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m[e.h] != e {
		return false
	}
	x.removeLocked(e)
	return true
}

func (x *diskIndex) removeLocked(e *diskEntry) {
	delete(x.m, e.h)
	x.used -= e.size
	heap.Remove(&x.exp, e.heapIdx)
	if e.next == e {
		x.head = nil
	} else {
		e.prev.next = e.next
		e.next.prev = e.prev
		if x.head == e {
			x.head = e.next
		}
	}
	e.prev, e.next = nil, nil
	e.dead.Store(true)
}

// reserve reserves n bytes if they fit under limit, and reports whether
// they did.
func (x *diskIndex) reserve(n, limit int64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.used+x.reserved+n > limit {
		return false
	}
	x.reserved += n
	return true
}

// release returns n reserved bytes.
func (x *diskIndex) release(n int64) {
	x.mu.Lock()
	x.reserved -= n
	x.mu.Unlock()
}

// victims removes entries in CLOCK order until at least need bytes are
// freed or the index is empty, and returns them. An entry whose reference
// bit is set has it cleared and is passed over once.
func (x *diskIndex) victims(need int64) []*diskEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*diskEntry
	var freed int64
	// Each entry is passed over at most once, so 2n steps always suffice.
	for steps := 2 * len(x.m); freed < need && x.head != nil && steps > 0; steps-- {
		e := x.head
		if e.ref.Load() {
			e.ref.Store(false)
			x.head = e.next
			continue
		}
		freed += e.size
		x.removeLocked(e)
		out = append(out, e)
	}
	return out
}

// expired removes up to max entries whose expiry is before now and
// returns them.
func (x *diskIndex) expired(now int64, max int) []*diskEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*diskEntry
	for len(out) < max && len(x.exp) > 0 && x.exp[0].until < now {
		e := x.exp[0]
		x.removeLocked(e)
		out = append(out, e)
	}
	return out
}

// expiryHeap is a min-heap of entries by until.
type expiryHeap []*diskEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until < h[j].until }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*diskEntry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIdx = -1
	return e
}
