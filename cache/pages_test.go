//go:build linux

package cache

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/popcache/popcache/conf"
)

// pagesConfig is diskConfig with bodies from min bytes in memory files.
func pagesConfig(dir string, min conf.Size) conf.Cache {
	cfg := diskConfig(dir)
	cfg.SendfileMinBytes = &min
	return cfg
}

// TestPagesHoldLargeBodies stores bodies either side of
// sendfile_min_bytes and checks where the memory tier keeps each, that
// every way of reading one gives its bytes, and that a memory file can
// be neither written nor resized.
func TestPagesHoldLargeBodies(t *testing.T) {
	tests := []struct {
		name  string
		min   conf.Size
		size  int
		paged bool
	}{
		{"small body", 32 << 10, 1 << 10, false},
		{"just under the minimum", 32 << 10, 32<<10 - 1, false},
		{"at the minimum", 32 << 10, 32 << 10, true},
		{"100 KiB", 32 << 10, 100 << 10, true},
		{"1 MiB, the largest in memory", 32 << 10, 1 << 20, true},
		{"off", 0, 100 << 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, reg := testStore(t, pagesConfig("", tt.min))
			now := time.Now()
			want := body(tt.size, 3)
			if !s.Put("k", &Object{Meta: testMeta(now, int64(tt.size), time.Hour), Body: want}, now) {
				t.Fatal("not stored")
			}
			obj := s.PeekMemory("k", nil, now)
			if obj == nil {
				t.Fatal("PeekMemory found nothing")
			}
			p := obj.Pages()
			if (p != nil) != tt.paged {
				t.Fatalf("in a memory file: %v, want %v", p != nil, tt.paged)
			}
			if files := metric(t, reg, "popcache_memory_files"); files != map[bool]float64{true: 1, false: 0}[tt.paged] {
				t.Errorf("popcache_memory_files = %v", files)
			}
			if got, err := readAll(t, obj); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("WriteBody: %d bytes, %v; want %d", len(got), err, len(want))
			}
			if obj.Size() != int64(tt.size) {
				t.Errorf("Size() = %d, want %d", obj.Size(), tt.size)
			}
			var part bytes.Buffer
			if n, err := obj.WriteBody(context.Background(), &part, 7, 1000, nil); err != nil || n != 1000 || !bytes.Equal(part.Bytes(), want[7:1007]) {
				t.Errorf("WriteBody of bytes 7-1006: %d, %v", n, err)
			}
			if p == nil {
				return
			}
			if !bytes.Equal(p.Bytes(), want) {
				t.Fatal("the mapping differs from the body")
			}
			got := make([]byte, tt.size)
			if n, err := unix.Pread(p.FD(), got, 0); n != tt.size || err != nil || !bytes.Equal(got, want) {
				t.Fatalf("pread of the memory file: %d, %v", n, err)
			}
			if _, err := unix.Pwrite(p.FD(), []byte("x"), 0); !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EBADF) {
				t.Errorf("a write to the memory file: %v, want EPERM (sealed)", err)
			}
			if err := unix.Ftruncate(p.FD(), 1); !errors.Is(err, unix.EPERM) {
				t.Errorf("shrinking the memory file: %v, want EPERM (sealed)", err)
			}
		})
	}
}

// TestPagesThroughTheTiers follows a body in a memory file through a
// 304's freshening (same file), a restart (promoted from disk into a new
// one), and the descriptor limit (past it, bodies stay in the heap).
func TestPagesThroughTheTiers(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	want := body(200<<10, 9)
	s, _ := testStore(t, pagesConfig(dir, 32<<10))
	if !s.Put("k", &Object{Meta: testMeta(now, int64(len(want)), time.Hour), Body: want}, now) {
		t.Fatal("not stored")
	}
	obj, _ := s.Lookup("k", nil, now)
	p := obj.Pages()
	if p == nil {
		t.Fatal("not in a memory file")
	}
	later := now.Add(time.Second)
	meta := obj.Meta
	meta.ResponseTime = later
	if !s.Put("k", obj.WithMeta(meta), later) {
		t.Fatal("freshened object not stored")
	}
	fresh, _ := s.Lookup("k", nil, later)
	if fresh.Pages() != p || !fresh.Meta.ResponseTime.Equal(later) {
		t.Fatalf("freshened: pages %p (want %p), response time %v", fresh.Pages(), p, fresh.Meta.ResponseTime)
	}
	s.Close()

	s2, _ := testStore(t, pagesConfig(dir, 32<<10))
	back, _ := s2.Lookup("k", nil, later)
	if back == nil {
		t.Fatal("lost across the restart")
	}
	if got, err := readAll(t, back); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after the restart: %d bytes, %v", len(got), err)
	}
	s2.mem.Wait() // the promotion is asynchronous
	if mem := s2.PeekMemory("k", nil, later); mem == nil || mem.Pages() == nil {
		t.Fatal("promoted from disk, but not into a memory file")
	}

	s3, _ := testStore(t, pagesConfig("", 32<<10))
	s3.pages.limit = 1
	for i, k := range []string{"a", "b"} {
		if !s3.Put(k, &Object{Meta: testMeta(now, int64(len(want)), time.Hour), Body: want}, now) {
			t.Fatalf("%s not stored", k)
		}
		got := s3.PeekMemory(k, nil, now)
		if paged := got.Pages() != nil; paged != (i == 0) {
			t.Errorf("%s in a memory file: %v, with a limit of one file", k, paged)
		}
		if b, err := readAll(t, got); err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s: %d bytes, %v", k, len(b), err)
		}
	}
}

// TestPagesClosedWhenCollected drops a memory file's object from the
// store and checks that the file is closed once nothing holds it.
func TestPagesClosedWhenCollected(t *testing.T) {
	s, reg := testStore(t, pagesConfig("", 32<<10))
	now := time.Now()
	for _, k := range []string{"a", "b", "c"} {
		s.Put(k, &Object{Meta: testMeta(now, 64<<10, time.Hour), Body: body(64<<10, 1)}, now)
	}
	if got := metric(t, reg, "popcache_memory_files"); got != 3 {
		t.Fatalf("popcache_memory_files = %v, want 3", got)
	}
	for _, k := range []string{"a", "b", "c"} {
		s.Invalidate(k)
	}
	s.mem.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, reg, "popcache_memory_files") != 0 || metric(t, reg, "popcache_memory_file_bytes") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the objects went: %v files, %v bytes still open", metric(t, reg, "popcache_memory_files"), metric(t, reg, "popcache_memory_file_bytes"))
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
