//go:build linux

package edge

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/popcache/popcache/conf"
)

// pinnedThreads counts the threads of this process that may run on one
// CPU only, by CPU.
func pinnedThreads(t *testing.T) map[int]int {
	t.Helper()
	paths, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended meanwhile
		}
		for line := range strings.Lines(string(b)) {
			v, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
			if !ok {
				continue
			}
			if cpu, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				out[cpu]++
			}
		}
	}
	return out
}

// samePinned reports whether got counts want's pinned threads plus add
// on each CPU of add.
func samePinned(got, want map[int]int, add []int) bool {
	w := map[int]int{}
	for cpu, n := range want {
		w[cpu] = n
	}
	for _, cpu := range add {
		w[cpu]++
	}
	for cpu, n := range w {
		if got[cpu] != n {
			return false
		}
	}
	for cpu, n := range got {
		if w[cpu] != n {
			return false
		}
	}
	return true
}

// TestEventLoopsPinnedOnePerCPU: with the defaults, each loop's thread
// is pinned to a CPU of its own while the loops run, and the threads end
// with them, with GOMAXPROCS at the CPUs and with the spare P the binary
// adds (SpareProc); event_loop_pin = false pins none.
func TestEventLoopsPinnedOnePerCPU(t *testing.T) {
	cpus := loopCPUs(true, runtime.GOMAXPROCS(0))
	switch {
	case cpus == nil:
		t.Skip("this process may run on more CPUs than GOMAXPROCS: the loops are not pinned here")
	case len(cpus) < 2:
		t.Skip("one CPU: every thread may run on that CPU only, pinned or not")
	}
	before := pinnedThreads(t)
	clk := newClock()
	o := httptest.NewServer(fastOrigin(clk, &counter{}))
	defer o.Close()

	pinnedWhileRunning := func(t *testing.T) {
		n, stop := launch(t, catchAllConfig(t, o, ""), o, clk)
		if !waitFor(func() bool { return samePinned(pinnedThreads(t), before, cpus) }) {
			t.Fatalf("pinned threads by CPU: %v, want %v plus one on each of %v", pinnedThreads(t), before, cpus)
		}
		// The pinned loops serve: a connection's second hit is theirs.
		for range 2 {
			if resp, _ := n.get("/obj/pin"); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		if !waitFor(func() bool { return waitingConns(t, n) == 1 }) {
			t.Fatalf("%v connections in the event loops, want 1", waitingConns(t, n))
		}
		settle(t, n)
		stop()
		if !waitFor(func() bool { return samePinned(pinnedThreads(t), before, nil) }) {
			t.Fatalf("after shutdown, pinned threads by CPU: %v, want %v", pinnedThreads(t), before)
		}
	}
	t.Run("gomaxprocs=cpus", pinnedWhileRunning)
	t.Run("spare P", func(t *testing.T) {
		was := runtime.GOMAXPROCS(0)
		t.Cleanup(func() { runtime.GOMAXPROCS(was) })
		runtime.GOMAXPROCS(len(cpus) + 1)
		pinnedWhileRunning(t)
	})

	off, stop := launch(t, catchAllConfig(t, o, "[server]\nevent_loop_pin = false\n"), o, clk)
	defer stop()
	for range 2 {
		if resp, _ := off.get("/obj/unpinned"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if !waitFor(func() bool { return waitingConns(t, off) == 1 }) {
		t.Fatalf("%v connections in the event loops, want 1", waitingConns(t, off))
	}
	if got := pinnedThreads(t); !samePinned(got, before, nil) {
		t.Errorf("event_loop_pin = false: pinned threads by CPU %v, want %v", got, before)
	}
	settle(t, off)
}

// TestSpareProc: the binary's extra P comes only with pinned loops, not
// over the operator's GOMAXPROCS, and only once.
func TestSpareProc(t *testing.T) {
	cpus := len(allowedCPUs())
	if cpus == 0 || cpus != runtime.GOMAXPROCS(0) {
		t.Skip("GOMAXPROCS is not the CPUs this process may run on: the loops are never pinned here")
	}
	yes, no := true, false
	tests := []struct {
		name  string
		env   string
		loops int
		pin   *bool
		want  int
	}{
		{"defaults", "", 0, &yes, cpus + 1},
		{"GOMAXPROCS set", strconv.Itoa(cpus), 0, &yes, cpus},
		{"pinning off", "", 0, &no, cpus},
		{"pinning unset", "", 0, nil, cpus},
		{"loops off", "", -1, &yes, cpus},
		{"loops counted", "", cpus, &yes, cpus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tt.env)
			t.Cleanup(func() { runtime.GOMAXPROCS(cpus) })
			s := &conf.Server{EventLoops: tt.loops, EventLoopPin: tt.pin}
			if got := SpareProc(s); got != tt.want {
				t.Errorf("SpareProc = %d, want %d", got, tt.want)
			}
			if got := runtime.GOMAXPROCS(0); got != tt.want {
				t.Errorf("GOMAXPROCS = %d, want %d", got, tt.want)
			}
			// A second call (a second node in the process) adds nothing.
			if got := SpareProc(s); got != tt.want {
				t.Errorf("second SpareProc = %d, want %d", got, tt.want)
			}
			if got := defaultLoops(); got != cpus {
				t.Errorf("default loops with GOMAXPROCS %d: %d, want one per CPU, %d", tt.want, got, cpus)
			}
		})
	}
}
