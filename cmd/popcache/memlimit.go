package main

import (
	"os"
	"runtime/debug"

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

// cacheGCPercent is the garbage collector's GOGC for a node. Go's default,
// 100, lets the heap grow to twice what is live before collecting; in a
// cache nearly all of what is live is the cache, which lives long, so the
// default doubles the memory of a full tier for garbage headroom (2.3 GiB
// RSS holding 1.1 GiB in the benchmark). At 25 the headroom is a quarter:
// the bodies are pointer-free, so a collection costs about the same
// however much cache there is, and they come four times as often.
const cacheGCPercent = 25

// setGCPercent applies cacheGCPercent unless the operator set GOGC, and
// returns the percentage in force.
func setGCPercent() int {
	if os.Getenv("GOGC") != "" {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(cacheGCPercent)
	return cacheGCPercent
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
