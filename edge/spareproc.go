package edge

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/popcache/popcache/conf"
)

// SpareProc lends Go one P (GOMAXPROCS) more than CPUs while the pinned
// HTTP/1.1 event loops are saturated. A saturated loop holds its P until
// its slice ends (server.event_loop_slice), so with as many Ps as loops
// every goroutine (misses, passes, TLS and HTTP/2 connections) waits for
// a loop to yield, and network readiness waits for sysmon: a pass took
// p50 20-30 ms at saturation, against 1.2-1.4 ms with a spare P. But
// more Ps than cores cost goroutine-bound load a tenth of its throughput
// (the runtime's idle Ps spin and steal on cores the loops and clients
// need: 100 KiB hits at 256 connections, 37k against 41k req/s), so the
// P is lent only while the loops serve mostly full slices, and taken
// back a second after they stop (bench/PROFILE.md, "A spare P beside
// the loops"). One per process: the binary makes it and hands it to
// each node's Server (Options.SpareProc).
type SpareProc struct {
	cpus   int           // GOMAXPROCS without the spare P
	full   uint64        // slices an interval holds with every loop saturated, halved
	slices atomic.Uint64 // full slices the loops served (poller.yield)
}

// spareEvery is how often SpareProc looks at the loops.
const spareEvery = 250 * time.Millisecond

// spareIdle is how many looks in a row without saturation take the P back.
const spareIdle = 4

// NewSpareProc returns the spare P of a process whose nodes run s's
// loops, or nil when there is none to lend: the loops will not be
// pinned (see conf.Server.EventLoopPin), they never end a slice
// (event_loop_slice = "0s"), or the environment sets GOMAXPROCS.
func NewSpareProc(s *conf.Server) *SpareProc {
	if s.EventLoopSlice == nil || s.EventLoopSlice.D() <= 0 {
		return nil
	}
	cpus := spareCPUs(s)
	if cpus == 0 {
		return nil
	}
	full := uint64(cpus) * uint64(spareEvery/s.EventLoopSlice.D()) / 2
	return &SpareProc{cpus: cpus, full: max(full, 1)}
}

// sliced counts one full slice a loop served; g may be nil.
func (g *SpareProc) sliced() {
	if g != nil {
		g.slices.Add(1)
	}
}

// Run lends and takes back the P until ctx is done, then leaves
// GOMAXPROCS to the runtime's default. It lends only while GOMAXPROCS is
// still the CPUs it was made for: should the runtime have changed it
// since (a container's CPU limit changed), there is nothing to lend
// beside. Taking the P back hands GOMAXPROCS to the runtime's default
// again, which follows such limits.
func (g *SpareProc) Run(ctx context.Context) {
	t := time.NewTicker(spareEvery)
	defer t.Stop()
	lent, idle := false, 0
	last := g.slices.Load()
	for {
		select {
		case <-ctx.Done():
			if lent {
				runtime.SetDefaultGOMAXPROCS()
			}
			return
		case <-t.C:
		}
		n := g.slices.Load()
		busy := n-last >= g.full
		last = n
		switch {
		case busy && !lent:
			if runtime.GOMAXPROCS(0) != g.cpus {
				continue
			}
			runtime.GOMAXPROCS(g.cpus + 1)
			lent, idle = true, 0
		case busy:
			idle = 0
		case lent:
			if idle++; idle >= spareIdle {
				runtime.SetDefaultGOMAXPROCS()
				lent = false
			}
		}
	}
}
