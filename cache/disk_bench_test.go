package cache

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkLookupTier compares a memory hit with a disk hit: the meta
// read and decoded, the body read, checked and promoted to memory.
func BenchmarkLookupTier(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		name := strconv.Itoa(size>>10) + "KiB"
		setup := func(b *testing.B) *Store {
			s, _ := testStore(b, diskConfig(b.TempDir()))
			now := time.Now()
			if !s.Put("k", &Object{Meta: testMeta(now, int64(size), time.Hour), Body: body(size, 1)}, now) {
				b.Fatal("Put refused")
			}
			return s
		}
		b.Run("memory/"+name, func(b *testing.B) {
			s := setup(b)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if _, out := s.Lookup("k", nil, now); out != Found {
					b.Fatal(out)
				}
			}
		})
		b.Run("disk/"+name, func(b *testing.B) {
			s := setup(b)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if _, out := s.lookupSlow("k", nil, now); out != Found {
					b.Fatal(out)
				}
			}
		})
	}
}

// BenchmarkOpen100k measures a start-up with 100,000 objects on disk: the
// time until the store serves, index loaded.
func BenchmarkOpen100k(b *testing.B) {
	const objects = 100_000
	dir := b.TempDir()
	cfg := diskConfig(dir)
	cfg.Disk.MaxBytes = 1 << 30
	s, _ := testStore(b, cfg)
	now := time.Now()
	meta := testMeta(now, 1000, time.Hour)
	payload := body(1000, 1)
	for i := range objects {
		if _, err := s.disk.put("http://bench/"+strconv.Itoa(i), &meta, payload, now.Add(time.Hour), now); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	b.ResetTimer()
	for b.Loop() {
		s, err := New(cfg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, n := s.disk.idx.counts(); n != objects {
			b.Fatalf("%d objects indexed, want %d", n, objects)
		}
		b.ReportMetric(float64(s.LoadTime().Milliseconds()), "load-ms")
		s.Close()
	}
}
