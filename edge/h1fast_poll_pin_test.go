//go:build linux

package edge

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestNewSpareProc: a spare P comes only with pinned, slicing loops,
// not over the operator's GOMAXPROCS.
func TestNewSpareProc(t *testing.T) {
	cpus := len(allowedCPUs())
	if cpus == 0 || cpus != runtime.GOMAXPROCS(0) {
		t.Skip("GOMAXPROCS is not the CPUs this process may run on: the loops are never pinned here")
	}
	yes, no := true, false
	slice, noSlice := conf.Duration(200*time.Microsecond), conf.Duration(0)
	tests := []struct {
		name  string
		env   string
		loops int
		pin   *bool
		slice *conf.Duration
		want  bool
	}{
		{"defaults", "", 0, &yes, &slice, true},
		{"GOMAXPROCS set", strconv.Itoa(cpus), 0, &yes, &slice, false},
		{"pinning off", "", 0, &no, &slice, false},
		{"pinning unset", "", 0, nil, &slice, false},
		{"loops off", "", -1, &yes, &slice, false},
		{"loops counted", "", cpus, &yes, &slice, false},
		{"never yield", "", 0, &yes, &noSlice, false},
		{"slice unset", "", 0, &yes, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tt.env)
			g := NewSpareProc(&conf.Server{EventLoops: tt.loops, EventLoopPin: tt.pin, EventLoopSlice: tt.slice})
			if (g != nil) != tt.want {
				t.Fatalf("NewSpareProc = %v, want one: %v", g, tt.want)
			}
			if g != nil && g.cpus != cpus {
				t.Errorf("puts back GOMAXPROCS %d, want the CPUs, %d", g.cpus, cpus)
			}
			if got := runtime.GOMAXPROCS(0); got != cpus {
				t.Errorf("GOMAXPROCS = %d before Run, want %d", got, cpus)
			}
		})
	}
}

// TestSpareProcLendsWhileSaturated: the P is lent at the first look after
// the loops served mostly full slices, kept while they do, taken back
// spareIdle looks after they stop, and given back when Run ends.
func TestSpareProcLendsWhileSaturated(t *testing.T) {
	cpus := len(allowedCPUs())
	if cpus == 0 || cpus != runtime.GOMAXPROCS(0) {
		t.Skip("GOMAXPROCS is not the CPUs this process may run on: the loops are never pinned here")
	}
	t.Setenv("GOMAXPROCS", "")
	yes := true
	slice := conf.Duration(200 * time.Microsecond)
	g := NewSpareProc(&conf.Server{EventLoopPin: &yes, EventLoopSlice: &slice})
	if g == nil {
		t.Fatal("no spare P with the defaults")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	defer func() { cancel(); <-done; runtime.GOMAXPROCS(cpus) }()
	procs := func(want int, within time.Duration) bool {
		for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if runtime.GOMAXPROCS(0) == want {
				return true
			}
		}
		return false
	}

	// A few slices are not saturation.
	for range g.full / 4 {
		g.sliced()
	}
	if procs(cpus+1, 2*spareEvery) {
		t.Fatal("a P lent for a quarter of the slices of saturated loops")
	}
	// Saturated loops: the P is lent, and kept while they stay so.
	stop := make(chan struct{})
	feeding := make(chan struct{})
	go func() {
		defer close(feeding)
		for {
			select {
			case <-stop:
				return
			case <-time.After(spareEvery / 10):
				for range g.full / 5 {
					g.sliced()
				}
			}
		}
	}()
	if !procs(cpus+1, 4*spareEvery) {
		t.Fatalf("GOMAXPROCS %d with the loops saturated, want %d", runtime.GOMAXPROCS(0), cpus+1)
	}
	time.Sleep((spareIdle + 1) * spareEvery)
	if got := runtime.GOMAXPROCS(0); got != cpus+1 {
		t.Errorf("GOMAXPROCS %d while the loops stay saturated, want %d", got, cpus+1)
	}
	close(stop)
	<-feeding
	if !procs(cpus, (spareIdle+3)*spareEvery) {
		t.Fatalf("GOMAXPROCS %d after the loops stopped, want %d", runtime.GOMAXPROCS(0), cpus)
	}
	// Lent again, then Run ends: the P goes back.
	for range g.full * 2 {
		g.sliced()
	}
	if !procs(cpus+1, 3*spareEvery) {
		t.Fatalf("GOMAXPROCS %d, want %d", runtime.GOMAXPROCS(0), cpus+1)
	}
	cancel()
	<-done
	if got := runtime.GOMAXPROCS(0); got != cpus {
		t.Errorf("GOMAXPROCS %d after Run, want %d", got, cpus)
	}
}
