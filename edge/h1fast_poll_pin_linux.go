//go:build linux

package edge

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/popcache/popcache/conf"
)

// Pinning the event loops (server.event_loop_pin).
//
// A loop that yields (poller.slice) gives its core to whatever waits
// there. That helps only if what waits shares a core with a loop: left
// to the kernel, two client threads can share one core, each waiting a
// whole tick for the other, while the two loops share the other core.
// With one loop pinned to each core, whatever runs on a core runs beside
// one loop (bench/PROFILE.md, "The loops' threads").

// maxCPUs is how many CPUs unix.CPUSet can name.
const maxCPUs = 1024

// allowedCPUs lists the CPUs this process may run on, or nil when the
// kernel does not say.
func allowedCPUs() []int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return nil
	}
	var cpus []int
	for c := range maxCPUs {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// defaultLoops is how many loops event_loops = 0 means: one per CPU the
// process may run on, but no more than Go runs goroutines on at once
// (GOMAXPROCS, lower under a CPU quota).
func defaultLoops() int {
	n := runtime.GOMAXPROCS(0)
	if cpus := allowedCPUs(); len(cpus) > 0 {
		n = min(n, len(cpus))
	}
	return n
}

// loopCPUs returns the CPU each of n loops is pinned to, or nil when they
// are not pinned: pinning is off, the loops are not one per CPU, or Go
// may not run them all at once (GOMAXPROCS below n, as under a CPU
// quota, where the pinned loops of every process on the host would pile
// up on the same cores).
func loopCPUs(pin bool, n int) []int {
	if !pin || n <= 0 || n > runtime.GOMAXPROCS(0) {
		return nil
	}
	if cpus := allowedCPUs(); len(cpus) == n {
		return cpus
	}
	return nil
}

// SpareProc gives Go one P (GOMAXPROCS) more than the CPUs the process
// may run on when s's HTTP/1.1 event loops will be pinned one per CPU,
// unless the environment sets GOMAXPROCS; it returns GOMAXPROCS in
// force. A loop at saturation holds its P until its slice ends
// (server.event_loop_slice), so with as many Ps as loops every goroutine
// (misses, passes, TLS and HTTP/2 connections, the memory tier's policy)
// waits for a loop to yield: a pass took p50 5.5-9 ms at saturation
// against about 1 ms with the spare P (bench/PROFILE.md, "A spare P").
// The spare P's thread shares the cores with the loops, which yield to
// it. Only a binary may call it, once, before its servers start: it
// changes the whole process.
func SpareProc(s *conf.Server) int {
	procs := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || s.EventLoops != 0 || s.EventLoopPin == nil || !*s.EventLoopPin {
		return procs
	}
	if len(allowedCPUs()) != procs || loopCPUs(true, procs) == nil {
		return procs // under a CPU quota, or raised already
	}
	runtime.GOMAXPROCS(procs + 1)
	return procs + 1
}

// pinThread locks the calling goroutine to its thread and the thread to
// cpu, and returns what puts the thread's CPUs back. The goroutine never
// unlocks the thread: when it returns, the thread ends with it, or, if
// it is the main thread, which never ends, it is parked for good, with
// its CPUs put back by then.
func pinThread(cpu int) (unpin func(), err error) {
	runtime.LockOSThread()
	var was, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		return func() {}, err
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return func() {}, err
	}
	return func() { _ = unix.SchedSetaffinity(0, &was) }, nil
}
