package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

func TestMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	cases := []struct {
		name   string
		env    string
		cap    conf.Size
		wantGo int64
	}{
		{"derived from the memory tier's cap", "", 2 * conf.GiB, 2*(1<<30)*5/4 + 512<<20},
		{"small cap", "", 64 * conf.MiB, 64*(1<<20)*5/4 + 512<<20},
		{"GOMEMLIMIT wins", "3GiB", 2 * conf.GiB, -1},
	}
	if got, want := memoryLimit(conf.GiB, conf.GiB), int64(2*(1<<30)*5/4+512<<20); got != want {
		t.Errorf("two nodes of 1GiB: limit %d, want %d", got, want)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tc.env)
			before := debug.SetMemoryLimit(-1)
			got := setMemoryLimit(tc.cap)
			if tc.wantGo == -1 {
				if got != before || debug.SetMemoryLimit(-1) != before {
					t.Errorf("with GOMEMLIMIT set, the limit changed to %d", got)
				}
				return
			}
			if got != tc.wantGo || debug.SetMemoryLimit(-1) != tc.wantGo {
				t.Errorf("limit %d (runtime %d), want %d", got, debug.SetMemoryLimit(-1), tc.wantGo)
			}
		})
	}
}

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name        string
		live, floor uint64
		want        int
	}{
		{"nothing live yet", 0, 256 * mib, 100},
		{"small heap: Go's default, never more", 10 * mib, 256 * mib, 100},
		{"heap at the floor", 256 * mib, 256 * mib, 100},
		{"floor over a quarter", 512 * mib, 256 * mib, 50},
		{"a quarter over the floor", 2048 * mib, 256 * mib, cacheGCPercent},
		{"huge heap", 64 << 30, 256 * mib, cacheGCPercent},
		{"no floor", 10 * mib, 0, cacheGCPercent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gcPercentFor(tt.live, tt.floor); got != tt.want {
				t.Errorf("gcPercentFor(%d, %d) = %d, want %d", tt.live, tt.floor, got, tt.want)
			}
		})
	}
}

// gcPercent reads GOGC as the runtime has it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestGCTuner(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tests := []struct {
		name, env string
		runtime   int    // what the runtime had before, as GOGC would have set it
		floor     uint64 // tuner floor
		start     int    // percentage in force at start
		tuned     int    // after a collection
	}{
		// A test binary's heap is a few MiB: a floor of 1 TiB is far over
		// it, a floor of 0 far under.
		{"tuned up for a small heap", "", 100, 1 << 40, cacheGCPercent, 100},
		{"a quarter without a floor", "", 100, 0, cacheGCPercent, cacheGCPercent},
		{"GOGC wins", "200", 200, 1 << 40, 200, 200},
		{"GOGC=off wins", "off", -1, 1 << 40, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOGC", tt.env)
			debug.SetGCPercent(tt.runtime)
			got, stop := startGCTuner(tt.floor)
			defer stop()
			if got != tt.start || gcPercent() != tt.start {
				t.Fatalf("start: startGCTuner() = %d, runtime %d, want %d", got, gcPercent(), tt.start)
			}
			// The tuner runs in a cleanup after a collection: collect a few
			// times, and until it has set the value (bounded), then check.
			for i := 0; i < 200 && (i < 3 || gcPercent() != tt.tuned); i++ {
				runtime.GC()
				time.Sleep(5 * time.Millisecond)
			}
			if p := gcPercent(); p != tt.tuned {
				t.Errorf("after collections GOGC is %d, want %d", p, tt.tuned)
			}
		})
	}
	t.Run("stopped", func(t *testing.T) {
		t.Setenv("GOGC", "")
		_, stop := startGCTuner(1 << 40)
		stop()
		debug.SetGCPercent(77)
		for range 3 {
			runtime.GC()
			time.Sleep(5 * time.Millisecond)
		}
		if p := gcPercent(); p != 77 {
			t.Errorf("a stopped tuner set GOGC to %d", p)
		}
	})
}
