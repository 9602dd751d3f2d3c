package main

import (
	"runtime/debug"
	"testing"

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

func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tests := []struct {
		name, env string
		runtime   int // what the runtime had before, as GOGC would have set it
		want      int
	}{
		{"default for a cache", "", 100, cacheGCPercent},
		{"GOGC wins", "200", 200, 200},
		{"GOGC=off wins", "off", -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOGC", tt.env)
			debug.SetGCPercent(tt.runtime)
			if got := setGCPercent(); got != tt.want {
				t.Errorf("setGCPercent() = %d, want %d", got, tt.want)
			}
			if got := debug.SetGCPercent(tt.want); got != tt.want {
				t.Errorf("runtime GOGC %d, want %d", got, tt.want)
			}
		})
	}
}
