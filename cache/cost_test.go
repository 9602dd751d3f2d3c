package cache

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/popcache/popcache/internal/testproc"
)

// TestEntryCostCoversHeap stores objects as a fill stores them (a
// compact header of the fields a typical origin sends, a body of exactly
// its size) and checks that what they count against the memory cap, but
// the reserve for their heads (checked in edge, TestHeadsWithinReserve),
// is close to the heap they really take, measured: the cap is what an
// operator sizes a node by, and the memory limit derived from it (see
// cmd/popcache) leaves only a quarter for what it does not count.
func TestEntryCostCoversHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	if !testproc.Alone(t) {
		return
	}
	tests := []struct {
		name string
		body int
	}{
		{"1 KiB bodies", 1 << 10},
		{"64-byte bodies", 64},
		{"16 KiB bodies", 16 << 10},
	}
	const n = 4000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := purgeStore(t, "")
			hdr := http.Header{
				"Cache-Control":  {"public, max-age=3600"},
				"Content-Type":   {"application/javascript; charset=utf-8"},
				"Content-Length": {fmt.Sprint(tt.body)},
				"Date":           {"Fri, 27 Nov 2026 15:00:00 GMT"},
				"Etag":           {`"5f3a9c0e-400"`},
				"Last-Modified":  {"Thu, 26 Nov 2026 10:00:00 GMT"},
				"Vary":           {"Accept-Encoding"},
				"Via":            {"1.1 popcache"},
			}
			objs := make([]*Object, n)
			keys := make([]string, n)
			for i := range objs {
				keys[i] = fmt.Sprintf("https://static.example.test/assets/app-%06d.js", i)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := range objs {
				o := purgeObj(nil)
				o.Meta.Header = hdr.Clone()
				o.Body = make([]byte, tt.body)
				o.Meta.BodySize = int64(tt.body)
				objs[i] = o
				if !s.Put(keys[i], o, purgeT0.Add(time.Second)) {
					t.Fatalf("object %d not stored", i)
				}
			}
			s.mem.Wait()
			counted := s.mem.MaxCost() - s.mem.RemainingCost() - n*HeadsReserve(hdr)
			objs = nil // the tier alone keeps them now
			runtime.GC()
			runtime.ReadMemStats(&after)
			real := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			if got := s.mem.Metrics.KeysAdded(); got != n {
				t.Fatalf("%d entries admitted, want %d: the measure would be off", got, n)
			}
			ratio := float64(counted) / float64(real)
			t.Logf("per entry: %d bytes counted, %d on the heap (%.2f)", counted/n, real/n, ratio)
			if ratio < 0.9 || ratio > 1.25 {
				t.Errorf("entries count %.2f of the heap they take (%d against %d bytes each): want 0.9..1.25",
					ratio, counted/n, real/n)
			}
			runtime.KeepAlive(keys)
		})
	}
}
