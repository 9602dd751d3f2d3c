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
