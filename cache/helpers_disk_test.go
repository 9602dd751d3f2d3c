package cache

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popcache/popcache/conf"
)

// diskConfig is a small two-tier config in dir: a 1 MiB memory object
// limit and 64 KiB chunks, so that tests cross every boundary cheaply.
func diskConfig(dir string) conf.Cache {
	return conf.Cache{
		MemoryMaxBytes: 64 << 20,
		MaxObjectBytes: 1 << 20,
		FillTimeout:    conf.Duration(10 * time.Second),
		HitForMissTTL:  conf.Duration(30 * time.Second),
		Disk: conf.Disk{
			Dir:            dir,
			MaxBytes:       256 << 20,
			MaxObjectBytes: 128 << 20,
			ChunkBytes:     64 << 10,
			ExpiryInterval: conf.Duration(time.Minute),
		},
	}
}

// testStore opens a Store for cfg with its own registry, closed at the
// end of the test (closing it earlier is fine).
func testStore(t testing.TB, cfg conf.Cache) (*Store, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(cfg, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, reg
}

// metric reads a counter or gauge of reg.
func metric(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// body returns n deterministic bytes that differ per seed.
func body(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed + byte(i>>16)
	}
	return b
}

// testMeta is the Meta of a fresh 200 stored at now for maxAge.
func testMeta(now time.Time, size int64, maxAge time.Duration) Meta {
	h := http.Header{
		"Content-Type":  {"application/octet-stream"},
		"Cache-Control": {"max-age=" + strconv.Itoa(int(maxAge/time.Second))},
	}
	if size >= 0 {
		h["Content-Length"] = []string{strconv.FormatInt(size, 10)}
	}
	return Meta{
		Status:       http.StatusOK,
		Header:       h,
		RequestTime:  now.Add(-10 * time.Millisecond),
		ResponseTime: now,
		Lifetime:     maxAge,
		ETag:         `"e"`,
		BodySize:     size,
	}
}

// readAll writes obj's whole body into memory.
func readAll(t testing.TB, obj *Object) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := obj.WriteBody(ctx, &buf, 0, -1, nil)
	return buf.Bytes(), err
}
