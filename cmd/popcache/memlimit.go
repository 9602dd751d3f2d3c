package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"

	"github.com/popcache/popcache/conf"
)

// memoryLimit is the Go runtime's soft memory limit for a process running
// nodes with memory tiers capped at caps: their sum plus a quarter for what the cap does not count (Go's
// per-object overhead, fills in progress, buffers) and a fixed 512 MiB
// for the rest of the node (connections, Pebble's caches, NATS). Without
// it the garbage collector lets the heap grow to twice what is live, so a
// full 2 GiB memory tier could take 4 GiB.
func memoryLimit(caps ...conf.Size) int64 {
	var sum int64
	for _, c := range caps {
		sum += int64(c)
	}
	return sum*5/4 + 512<<20
}

// cacheGCPercent is the garbage collector's GOGC for a node with a large
// heap. Go's default, 100, lets the heap grow to twice what is live
// before collecting; in a cache nearly all of what is live is the cache,
// which lives long, so the default doubles the memory of a full tier for
// garbage headroom (2.3 GiB RSS holding 1.1 GiB in the benchmark). At 25
// the headroom is a quarter: the bodies are pointer-free, so a collection
// costs about the same however much cache there is, and they come four
// times as often.
const cacheGCPercent = 25

// gcHeadroomFloor is the least headroom the tuner gives a node with a
// small heap. A quarter of a small heap is little: 18 MB over 71 MB live
// meant a collection every 0.4 s under a fill-heavy load, which cost a
// fifth of the misses a second (9.6k against 11.7k at GOGC 100).
const gcHeadroomFloor = 256 << 20

// gcPercentFor is the GOGC that gives a heap of live bytes a headroom of
// a quarter of it, but at least floor bytes and never more than live
// (Go's default, 100).
func gcPercentFor(live, floor uint64) int {
	if live == 0 {
		return 100
	}
	return int(min(100, max(cacheGCPercent, floor*100/live)))
}

// gcTuner sets GOGC after every collection to [gcPercentFor] the live
// heap that collection found: with the memory limit (see memoryLimit) it
// bounds the heap from above, this from below.
type gcTuner struct {
	floor   uint64
	sample  [1]metrics.Sample
	percent int // last set; only the cleanup goroutine touches it
	stopped atomic.Bool
}

// gcSentinel is an object whose only use is to be collected: its cleanup
// runs once per collection.
type gcSentinel struct{ _ [32]byte } // over 16 bytes: not a tiny allocation, whose cleanup may run late

// startGCTuner applies cacheGCPercent and then tunes GOGC after every
// collection, unless the operator set GOGC; it returns the percentage in
// force now, and a func that stops the tuning (GOGC stays as last set).
func startGCTuner(floor uint64) (percent int, stop func()) {
	if os.Getenv("GOGC") != "" {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p, func() {}
	}
	t := &gcTuner{floor: floor}
	t.sample[0].Name = "/gc/heap/live:bytes"
	t.percent = cacheGCPercent
	debug.SetGCPercent(cacheGCPercent)
	t.arm()
	return cacheGCPercent, func() { t.stopped.Store(true) }
}

// arm has tune run after the next collection.
func (t *gcTuner) arm() {
	runtime.AddCleanup(&gcSentinel{}, func(t *gcTuner) { t.tune() }, t)
}

// tune sets GOGC for the live heap the last collection found, and
// re-arms.
func (t *gcTuner) tune() {
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample[:])
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		if p := gcPercentFor(t.sample[0].Value.Uint64(), t.floor); p != t.percent {
			t.percent = p
			debug.SetGCPercent(p)
		}
	}
	t.arm()
}

// setMemoryLimit applies memoryLimit unless the operator set GOMEMLIMIT,
// and returns the limit in force.
func setMemoryLimit(caps ...conf.Size) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1) // -1 reads the limit without changing it
	}
	limit := memoryLimit(caps...)
	debug.SetMemoryLimit(limit)
	return limit
}
