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

// spareCPUs is the GOMAXPROCS a SpareProc puts back for s's loops, the
// CPUs: nonzero only when the loops will be pinned one per CPU, with
// GOMAXPROCS at the CPUs and not set by the environment.
func spareCPUs(s *conf.Server) int {
	procs := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || s.EventLoops != 0 || s.EventLoopPin == nil || !*s.EventLoopPin {
		return 0
	}
	if len(allowedCPUs()) != procs {
		return 0 // under a CPU quota
	}
	return procs
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
