package cache

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// TestDiskRestart stores objects of every size class, closes the store,
// opens it again and finds each as a disk hit with its body and its age.
func TestDiskRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := diskConfig(dir)
	now := time.Now()
	cases := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"small", 1000},
		{"one chunk", 64 << 10},
		{"a chunk and a byte", 64<<10 + 1},
		{"memory limit", 1 << 20},
		{"disk only", 3<<20 + 17},
	}
	s, _ := testStore(t, cfg)
	for i, tc := range cases {
		obj := &Object{Meta: testMeta(now, int64(tc.size), time.Hour), Body: body(tc.size, byte(i))}
		if !s.Put("http://a/"+tc.name, obj, now) {
			t.Fatalf("%s: Put refused", tc.name)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	later := now.Add(90 * time.Second)
	s, reg := testStore(t, cfg)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, out := s.Lookup("http://a/"+tc.name, nil, later)
			if out != Found {
				t.Fatalf("after restart: outcome %v, want Found", out)
			}
			if got := obj.Meta.AgeHeader(later); got != "90" {
				t.Errorf("Age = %s, want 90", got)
			}
			if obj.InMemory() != (tc.size <= 1<<20) {
				t.Errorf("InMemory = %v for %d bytes", obj.InMemory(), tc.size)
			}
			got, err := readAll(t, obj)
			if err != nil || !bytes.Equal(got, body(tc.size, byte(i))) {
				t.Fatalf("body: %d bytes, err %v; want %d bytes", len(got), err, tc.size)
			}
		})
	}
	if hits := metric(t, reg, "popcache_disk_hits_total"); hits != float64(len(cases)) {
		t.Errorf("disk hits = %v, want %d", hits, len(cases))
	}
	// Promoted: the second lookups are memory hits.
	for _, tc := range cases {
		if _, out := s.Lookup("http://a/"+tc.name, nil, later); out != Found {
			t.Fatalf("%s: second lookup %v", tc.name, out)
		}
	}
	if hits := metric(t, reg, "popcache_disk_hits_total"); hits != float64(len(cases)) {
		t.Errorf("disk hits after promotion = %v, want still %d", hits, len(cases))
	}
}

// rawDB opens the tier's Pebble store directly (the Store must be closed).
func rawDB(t *testing.T, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(f string, a ...any) {
	panic(f)
}

// countPrefix counts the keys with prefix p.
func countPrefix(t *testing.T, db *pebble.DB, p byte) int {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{p}, UpperBound: []byte{p + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}

// TestDiskCorruption flips a byte in stored records: the object is never
// served, the failure is counted, and the object is dropped so that the
// next request refetches it.
func TestDiskCorruption(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		prefix byte
	}{
		{"chunk of an object read into memory", 200 << 10, prefixChunk},
		{"chunk of an object streamed from disk", 2 << 20, prefixChunk},
		{"meta record", 1000, prefixMeta},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := diskConfig(dir)
			now := time.Now()
			s, _ := testStore(t, cfg)
			s.Put("k", &Object{Meta: testMeta(now, int64(tc.size), time.Hour), Body: body(tc.size, 1)}, now)
			s.Close()

			db := rawDB(t, dir)
			it, _ := db.NewIter(&pebble.IterOptions{LowerBound: []byte{tc.prefix}, UpperBound: []byte{tc.prefix + 1}})
			it.Last() // the last chunk, or the meta
			k := append([]byte(nil), it.Key()...)
			v := append([]byte(nil), it.Value()...)
			it.Close()
			v[len(v)-1] ^= 0x40
			if err := db.Set(k, v, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s, reg := testStore(t, cfg)
			obj, out := s.Lookup("k", nil, now)
			if out == Found {
				// Too large for memory: the meta was fine, the chunk is
				// checked as it is streamed.
				if _, err := readAll(t, obj); !errors.Is(err, errCorruptRecord) {
					t.Fatalf("streaming a corrupt body: err %v, want a checksum error", err)
				}
			}
			if n := metric(t, reg, "popcache_disk_checksum_failures_total"); n != 1 {
				t.Errorf("checksum failures = %v, want 1", n)
			}
			s.mem.Del("k")
			s.mem.Wait()
			if _, out := s.Lookup("k", nil, now); out != URIMiss {
				t.Errorf("after the failure: %v, want the object dropped (URIMiss)", out)
			}
			if n := metric(t, reg, "popcache_disk_objects"); n != 0 {
				t.Errorf("objects = %v, want 0", n)
			}
		})
	}
}

// TestDiskTornWrite leaves a streamed write without its commit, as a crash
// does: after a restart nothing of it is served or left on disk.
func TestDiskTornWrite(t *testing.T) {
	dir := t.TempDir()
	cfg := diskConfig(dir)
	now := time.Now()
	s, _ := testStore(t, cfg)
	meta := testMeta(now, 300<<10, time.Hour)
	w, err := s.disk.newWriter("torn", &meta, 300<<10, now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.writeChunk(body(64<<10, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close() // no commit, no abort: what a crash leaves

	db := rawDB(t, dir)
	if n := countPrefix(t, db, prefixChunk); n != 3 {
		t.Fatalf("chunks before restart = %d, want 3", n)
	}
	db.Close()
	s, _ = testStore(t, cfg)
	if _, out := s.Lookup("torn", nil, now); out != URIMiss {
		t.Errorf("torn object: %v, want URIMiss", out)
	}
	s.Close()
	db = rawDB(t, dir)
	defer db.Close()
	for _, p := range []byte{prefixChunk, prefixIntent, prefixMarker, prefixMeta} {
		if n := countPrefix(t, db, p); n != 0 {
			t.Errorf("%c keys after restart = %d, want 0", p, n)
		}
	}
}

// TestDiskRevalidation freshens a stored object with a 304: the meta is
// rewritten, the body stays where it was.
func TestDiskRevalidation(t *testing.T) {
	dir := t.TempDir()
	cfg := diskConfig(dir)
	now := time.Now()
	s, _ := testStore(t, cfg)
	obj := &Object{Meta: testMeta(now, 2<<20, time.Minute), Body: body(2<<20, 3)}
	if !s.Put("k", obj, now) { // too large for memory: disk only
		t.Fatal("Put refused")
	}
	gen := obj.loc.gen
	later := now.Add(5 * time.Minute)
	stale, _ := s.Lookup("k", nil, later)
	if stale.Meta.IsFresh(later) {
		t.Fatal("not stale")
	}
	fresh := testMeta(later, 2<<20, time.Hour)
	fresh.Header["X-Revalidated"] = []string{"yes"}
	if !s.Put("k", stale.WithMeta(fresh), later) {
		t.Fatal("Put of the freshened object refused")
	}
	s.Close()

	s, _ = testStore(t, cfg)
	got, out := s.Lookup("k", nil, later)
	if out != Found || !got.Meta.IsFresh(later) || got.Meta.Header.Get("X-Revalidated") != "yes" {
		t.Fatalf("after restart: %v, fresh %v, header %v", out, out == Found && got.Meta.IsFresh(later), got.Meta.Header)
	}
	if got.loc.gen != gen {
		t.Errorf("generation %d, want %d: the body was rewritten", got.loc.gen, gen)
	}
	if b, err := readAll(t, got); err != nil || !bytes.Equal(b, body(2<<20, 3)) {
		t.Errorf("body after revalidation: %d bytes, %v", len(b), err)
	}
}

// TestDiskVary keeps Vary variants apart across a restart.
func TestDiskVary(t *testing.T) {
	dir := t.TempDir()
	cfg := diskConfig(dir)
	now := time.Now()
	s, _ := testStore(t, cfg)
	for _, lang := range []string{"en", "fr"} {
		m := testMeta(now, 2, time.Hour)
		m.VaryFields = []string{"Accept-Language"}
		m.VaryKey = VaryKey(m.VaryFields, http.Header{"Accept-Language": {lang}})
		if !s.Put("k", &Object{Meta: m, Body: []byte(lang)}, now) {
			t.Fatal("Put refused")
		}
	}
	s.Close()
	s, _ = testStore(t, cfg)
	tests := []struct {
		lang string
		want Outcome
		body string
	}{
		{"fr", Found, "fr"},
		{"en", Found, "en"},
		{"de", VaryMiss, ""},
	}
	for _, tc := range tests {
		obj, out := s.Lookup("k", http.Header{"Accept-Language": {tc.lang}}, now)
		if out != tc.want || (out == Found && string(obj.Body) != tc.body) {
			t.Errorf("%s: %v, want %v %q", tc.lang, out, tc.want, tc.body)
		}
	}
}

// TestDiskEviction fills the tier past its cap: it never holds more than
// the cap, and objects in use survive those that are not (CLOCK).
func TestDiskEviction(t *testing.T) {
	dir := t.TempDir()
	cfg := diskConfig(dir)
	cfg.Disk.MaxBytes = 4 << 20
	cfg.MemoryMaxBytes = 1 << 20 // memory hits still touch the disk entries
	now := time.Now()
	s, reg := testStore(t, cfg)
	const size = 100 << 10
	for i := range 100 {
		key := "k" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		s.Put(key, &Object{Meta: testMeta(now, size, time.Hour), Body: body(size, byte(i))}, now)
		if used := metric(t, reg, "popcache_disk_bytes"); used > 4<<20 {
			t.Fatalf("after %d objects: %v bytes on disk, over the 4 MiB cap", i+1, used)
		}
		// The first object is used all along.
		if i > 0 {
			if _, out := s.Lookup("kAa", nil, now); out != Found {
				t.Fatalf("after %d objects: the object in use was evicted", i+1)
			}
		}
	}
	if ev := metric(t, reg, "popcache_disk_evictions_total"); ev < 50 {
		t.Errorf("evictions = %v, want most of 100 objects of 100 KiB in 4 MiB", ev)
	}
	if _, out := s.Lookup("kBa", nil, now); out != URIMiss {
		t.Errorf("an early object never used again is still there")
	}
}

// TestDiskExpiry deletes expired objects in the background.
func TestDiskExpiry(t *testing.T) {
	dir := t.TempDir()
	cfg := diskConfig(dir)
	now := time.Now()
	s, reg := testStore(t, cfg)
	short := testMeta(now, 10, time.Second)
	short.ETag = "" // no validator: kept only while fresh
	s.Put("short", &Object{Meta: short, Body: body(10, 1)}, now)
	s.Put("long", &Object{Meta: testMeta(now, 10, time.Hour), Body: body(10, 2)}, now)
	if n := s.disk.expire(now.Add(2 * time.Second)); n != 1 {
		t.Fatalf("expired %d objects, want 1", n)
	}
	if n := metric(t, reg, "popcache_disk_objects"); n != 1 {
		t.Errorf("objects left = %v, want 1", n)
	}
	if n := metric(t, reg, "popcache_disk_expired_total"); n != 1 {
		t.Errorf("expired counter = %v", n)
	}
}

// TestDiskLowSpace stops writing when the filesystem is nearly full, and
// counts it; the memory tier still takes the object.
func TestDiskLowSpace(t *testing.T) {
	dir := t.TempDir()
	cfg := diskConfig(dir)
	now := time.Now()
	s, reg := testStore(t, cfg)
	s.disk.freeSpace = func() (uint64, error) { return 1 << 20, nil }
	s.disk.spaceCheck.Store(0)
	if !s.Put("k", &Object{Meta: testMeta(now, 10, time.Hour), Body: body(10, 1)}, now) {
		t.Fatal("memory tier refused too")
	}
	if n := metric(t, reg, "popcache_disk_write_errors_total"); n != 1 {
		t.Errorf("write errors = %v, want 1", n)
	}
	if n := metric(t, reg, "popcache_disk_objects"); n != 0 {
		t.Errorf("objects on disk = %v, want 0", n)
	}
}
