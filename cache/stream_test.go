package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// progressWriter collects what a reader got and closes reached once it
// holds at least target bytes.
type progressWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	target  int
	reached chan struct{}
}

func newProgressWriter(target int) *progressWriter {
	return &progressWriter{target: target, reached: make(chan struct{})}
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	before := w.buf.Len()
	w.buf.Write(p)
	if before < w.target && w.buf.Len() >= w.target {
		close(w.reached)
	}
	return len(p), nil
}

func (w *progressWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes())
}

// waitFor waits for ch or fails the test after a generous deadline.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestStreamReadWhileWriting streams a body in two halves to readers that
// joined at the start: they get the first half before the second is
// sent, then all of it, and a reader that joins after the end gets it all
// too (from disk when it left memory). Then the object is stored.
func TestStreamReadWhileWriting(t *testing.T) {
	cases := []struct {
		name     string
		size     int
		announce bool
		disk     bool
		inMemory bool // stored whole in memory at the end
		stored   bool
	}{
		{"announced, fits memory", 300 << 10, true, true, true, true},
		{"announced, disk only", 3 << 20, true, true, false, true},
		{"unannounced, fits memory", 300 << 10, false, true, true, true},
		{"unannounced, spills to disk", 3 << 20, false, true, false, true},
		{"unannounced, no disk, fits memory", 300 << 10, false, false, true, true},
		{"unannounced, no disk, too large: stored nowhere", 3 << 20, false, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := diskConfig(t.TempDir())
			if !tc.disk {
				cfg.Disk.Dir = ""
			}
			s, _ := testStore(t, cfg)
			now := time.Now()
			want := body(tc.size, 9)
			size := int64(-1)
			if tc.announce {
				size = int64(tc.size)
			}
			pr, pw := io.Pipe()
			obj, stored := s.Stream("k", testMeta(now, size, time.Hour), pr, now)
			if stored != (tc.stored || tc.disk || tc.size <= 1<<20 || !tc.announce) {
				t.Errorf("stored = %v at the start", stored)
			}
			half := tc.size / 2
			const readers = 3
			ws := make([]*progressWriter, readers)
			errs := make([]error, readers)
			var wg sync.WaitGroup
			for i := range ws {
				ws[i] = newProgressWriter(half)
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = obj.WriteBody(context.Background(), ws[i], 0, -1, nil)
				}()
			}
			go pw.Write(want[:half])
			for i := range ws {
				waitFor(t, ws[i].reached, "the first half")
			}
			st := obj.src.(*stream)
			// Readers of an announced length are done once they have it,
			// maybe before the stream commits: what is stored is checked
			// after its end.
			ended := make(chan struct{})
			st.afterDone(func() { close(ended) })
			go func() {
				pw.Write(want[half:])
				pw.Close()
			}()
			wg.Wait()
			waitFor(t, ended, "the stream's end")
			for i := range ws {
				if errs[i] != nil || !bytes.Equal(ws[i].bytes(), want) {
					t.Fatalf("reader %d: %d bytes, err %v; want %d", i, len(ws[i].bytes()), errs[i], tc.size)
				}
			}
			if !tc.inMemory {
				st.mu.Lock()
				n := len(st.chunks)
				st.mu.Unlock()
				if n > windowChunks {
					t.Errorf("%d chunks left in memory, want at most %d", n, windowChunks)
				}
			}
			if tc.stored {
				late, err := readAll(t, obj)
				if err != nil || !bytes.Equal(late, want) {
					t.Errorf("late reader: %d bytes, err %v", len(late), err)
				}
			}
			got, out := s.Lookup("k", nil, now)
			if (out == Found) != tc.stored {
				t.Fatalf("after the stream: outcome %v, want stored %v", out, tc.stored)
			}
			if !tc.stored {
				return
			}
			if got.InMemory() != tc.inMemory || got.Size() != int64(tc.size) {
				t.Errorf("stored InMemory %v size %d", got.InMemory(), got.Size())
			}
			if got.Meta.Header.Get("Content-Length") == "" {
				t.Error("stored object has no Content-Length")
			}
			if b, err := readAll(t, got); err != nil || !bytes.Equal(b, want) {
				t.Errorf("stored body: %d bytes, err %v", len(b), err)
			}
		})
	}
}

// TestStreamFailure cuts a body short: readers get the bytes that came
// and an error wrapping ErrIncomplete, nothing is stored, and nothing is
// left on disk or reserved.
func TestStreamFailure(t *testing.T) {
	cases := []struct {
		name     string
		announce bool
		end      func(pw *io.PipeWriter)
	}{
		{"upstream error", true, func(pw *io.PipeWriter) { pw.CloseWithError(errors.New("connection reset")) }},
		{"shorter than announced", true, func(pw *io.PipeWriter) { pw.Close() }},
		{"unannounced, upstream error", false, func(pw *io.PipeWriter) { pw.CloseWithError(errors.New("reset")) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, reg := testStore(t, diskConfig(dir))
			now := time.Now()
			const size = 2 << 20
			announced := int64(-1)
			if tc.announce {
				announced = size
			}
			pr, pw := io.Pipe()
			obj, _ := s.Stream("k", testMeta(now, announced, time.Hour), pr, now)
			w := newProgressWriter(size / 2)
			done := make(chan error, 1)
			go func() {
				_, err := obj.WriteBody(context.Background(), w, 0, -1, nil)
				done <- err
			}()
			pw.Write(body(size/2, 1))
			waitFor(t, w.reached, "half the body")
			tc.end(pw)
			err := <-done
			if !errors.Is(err, ErrIncomplete) {
				t.Fatalf("reader error %v, want ErrIncomplete", err)
			}
			if got := len(w.bytes()); got != size/2 {
				t.Errorf("reader got %d bytes, want the %d that came", got, size/2)
			}
			if _, out := s.Lookup("k", nil, now); out != URIMiss {
				t.Errorf("lookup after a failed stream: %v", out)
			}
			if r := metric(t, reg, "popcache_disk_reserved_bytes"); r != 0 {
				t.Errorf("reserved bytes left: %v", r)
			}
			s.Close()
			db := rawDB(t, dir)
			defer db.Close()
			for _, p := range []byte{prefixChunk, prefixIntent, prefixMarker, prefixMeta} {
				if n := countPrefix(t, db, p); n != 0 {
					t.Errorf("%c keys left: %d", p, n)
				}
			}
		})
	}
}

// TestStreamCoalescing makes many clients miss on a key whose body
// streams: one fetch, and every client reads the same object while it
// fills, whether it joined the fetch or found the fill afterwards.
func TestStreamCoalescing(t *testing.T) {
	s, _ := testStore(t, diskConfig(t.TempDir()))
	now := time.Now()
	want := body(1<<20+5, 4)
	var fetches atomic.Int32
	pr, pw := io.Pipe()
	fetch := func(ctx context.Context) (*Fill, error) {
		fetches.Add(1)
		obj, stored := s.Stream("k", testMeta(now, int64(len(want)), time.Hour), pr, now)
		return &Fill{Object: obj, Stored: stored, UpstreamStatus: 200}, nil
	}
	f, role, err := s.Fill(context.Background(), "k", fetch)
	if err != nil || role != Leader {
		t.Fatalf("first Fill: %v %v", role, err)
	}
	go pw.Write(want[:1000])
	var joined, wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		joined.Add(1)
		go func() {
			defer wg.Done()
			var obj *Object
			defer func() {
				if obj == nil {
					joined.Done()
				}
			}()
			if i%2 == 0 {
				g, role, err := s.Fill(context.Background(), "k", fetch)
				if err != nil || role != Collapsed {
					t.Errorf("Fill during the stream: %v %v", role, err)
					return
				}
				obj = g.Object
			} else {
				var out Outcome
				if obj, out = s.Lookup("k", nil, now); out != Found {
					t.Errorf("Lookup during the stream: %v", out)
					return
				}
			}
			joined.Done()
			if obj != f.Object {
				t.Error("a client got another object than the fill's")
			}
			if b, err := readAll(t, obj); err != nil || !bytes.Equal(b, want) {
				t.Errorf("client body: %d bytes, %v", len(b), err)
			}
		}()
	}
	joined.Wait() // every client has its object before the body ends
	go func() {
		pw.Write(want[1000:])
		pw.Close()
	}()
	defer wg.Wait()
	if b, err := readAll(t, f.Object); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("leader body: %d bytes, %v", len(b), err)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
}

// TestStreamJoinerKeepsTheStart hands a body stored nowhere (no disk tier,
// too long for memory) to a client that starts reading only after a fast
// reader has gone far ahead: the body's start waits for it, where it used
// to leave memory and cut the late client's response after its head.
func TestStreamJoinerKeepsTheStart(t *testing.T) {
	cfg := diskConfig("")
	cfg.Disk.Dir = ""
	s, _ := testStore(t, cfg)
	s.joinGrace = 2 * time.Second // far longer than the late start below
	now := time.Now()
	want := body(3<<20, 5)
	pr, pw := io.Pipe()
	obj, stored := s.Stream("k", testMeta(now, -1, time.Hour), pr, now)
	if !stored {
		t.Fatal("an unannounced length is a memory candidate at the start")
	}
	fast := newProgressWriter(2 << 20)
	fastErr := make(chan error, 1)
	go func() {
		_, err := obj.WriteBody(context.Background(), fast, 0, -1, nil)
		fastErr <- err
	}()
	late, out := s.Lookup("k", nil, now)
	if out != Found || late != obj {
		t.Fatalf("Lookup during the stream: %v", out)
	}
	go func() {
		pw.Write(want)
		pw.Close()
	}()
	// Before the fix the fast reader got here with the start long gone.
	select {
	case <-fast.reached:
		t.Fatal("the fast reader passed 2 MiB while a joiner had not started")
	case <-time.After(200 * time.Millisecond):
	}
	b, err := readAll(t, late)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("late joiner: %d bytes, err %v; want %d", len(b), err, len(want))
	}
	if err := <-fastErr; err != nil || !bytes.Equal(fast.bytes(), want) {
		t.Fatalf("fast reader: %d bytes, err %v", len(fast.bytes()), err)
	}
}

// TestStreamStopsSharingAHeldStart: new clients that keep coming, each
// slow to take its first chunk, must not hold a body stored nowhere at its
// start for ever; the stream stops being shared, and every client already
// handed it still gets the whole body.
func TestStreamStopsSharingAHeldStart(t *testing.T) {
	cfg := diskConfig("")
	cfg.Disk.Dir = ""
	s, _ := testStore(t, cfg)
	s.joinGrace = 500 * time.Millisecond
	now := time.Now()
	want := body(2<<20, 9)
	pr, pw := io.Pipe()
	obj, _ := s.Stream("k", testMeta(now, int64(len(want)), time.Hour), pr, now)
	first := &heldWriter{}
	firstErr := make(chan error, 1)
	go func() {
		_, err := obj.WriteBody(context.Background(), first, 0, -1, nil)
		firstErr <- err
	}()
	go func() {
		time.Sleep(200 * time.Millisecond) // clients are already there
		pw.Write(want)
		pw.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	stop := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case err := <-firstErr:
			if err != nil || !bytes.Equal(first.bytes(), want) {
				t.Fatalf("first client: %d bytes, %v", len(first.bytes()), err)
			}
			done = true
		case <-stop:
			t.Fatalf("the first client was held at %d bytes for 10 s while new clients kept coming", len(first.bytes()))
		case <-tick.C:
			if late, out := s.Lookup("k", nil, now); out == Found {
				wg.Go(func() {
					w := &heldWriter{hold: sleepFirst(1, 60*time.Millisecond)}
					if _, err := late.WriteBody(context.Background(), w, 0, -1, nil); err != nil || !bytes.Equal(w.bytes(), want) {
						t.Errorf("a client handed the stream: %d bytes, %v", len(w.bytes()), err)
					}
				})
			}
		}
	}
}

// heldWriter collects what a reader got; hold, if set, runs before each
// write, to slow or block the reader.
type heldWriter struct {
	hold func()
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (w *heldWriter) Write(p []byte) (int, error) {
	if w.hold != nil {
		w.hold()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *heldWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes())
}

// sleepFirst is a hold that sleeps d before each of the first n writes.
func sleepFirst(n int, d time.Duration) func() {
	var left atomic.Int32
	left.Store(int32(n))
	return func() {
		if left.Add(-1) >= 0 {
			time.Sleep(d)
		}
	}
}

// TestStreamSlowReadersAreNotUpstreamSilence holds a body stored nowhere
// back with readers that keep moving but take longer than the fill timeout
// to let its first chunk go: upstream is not read meanwhile, and that must
// not count as upstream sending nothing (the stream used to end with
// errIdle, cutting every reader).
func TestStreamSlowReadersAreNotUpstreamSilence(t *testing.T) {
	cfg := diskConfig("")
	cfg.Disk.Dir = ""
	cfg.FillTimeout = conf.Duration(2 * time.Second)
	s, _ := testStore(t, cfg)
	s.joinGrace = 0
	now := time.Now()
	want := body(1<<20+100<<10, 6) // announced, over the memory limit: a window from the start
	pr, pw := io.Pipe()
	obj, stored := s.Stream("k", testMeta(now, int64(len(want)), time.Hour), pr, now)
	if stored {
		t.Fatal("stored, with no disk tier and a body over the memory limit")
	}
	// The slowest reader passes chunk 0 after 3 s; the other moves every
	// 400 ms through the chunks in memory meanwhile.
	readers := []*heldWriter{{hold: sleepFirst(1, 3*time.Second)}, {hold: sleepFirst(5, 400*time.Millisecond)}}
	errs := make([]error, len(readers))
	var wg sync.WaitGroup
	for i, w := range readers {
		wg.Go(func() {
			_, errs[i] = obj.WriteBody(context.Background(), w, 0, -1, nil)
		})
	}
	go func() {
		pw.Write(want)
		pw.Close()
	}()
	wg.Wait()
	for i, w := range readers {
		if errs[i] != nil || !bytes.Equal(w.bytes(), want) {
			t.Errorf("reader %d: %d bytes, err %v; want %d", i, len(w.bytes()), errs[i], len(want))
		}
	}
}

// TestStreamInvalidated keeps a fill from being stored when its key is
// invalidated meanwhile (an unsafe request went through, RFC 9111 §4.4).
func TestStreamInvalidated(t *testing.T) {
	s, _ := testStore(t, diskConfig(t.TempDir()))
	now := time.Now()
	pr, pw := io.Pipe()
	obj, _ := s.Stream("k", testMeta(now, 10, time.Hour), pr, now)
	pw.Write([]byte("01234"))
	s.Invalidate("k")
	pw.Write([]byte("56789"))
	pw.Close()
	if b, err := readAll(t, obj); err != nil || string(b) != "0123456789" {
		t.Fatalf("reader: %q, %v", b, err)
	}
	if _, out := s.Lookup("k", nil, now); out != URIMiss {
		t.Errorf("an invalidated fill was stored: %v", out)
	}
}

// TestStreamClose closes the store under a stream: readers are cut short
// and Close returns.
func TestStreamClose(t *testing.T) {
	s, _ := testStore(t, diskConfig(t.TempDir()))
	now := time.Now()
	pr, pw := io.Pipe()
	defer pw.Close()
	obj, _ := s.Stream("k", testMeta(now, 1<<20, time.Hour), pr, now)
	go pw.Write(body(1000, 1))
	w := newProgressWriter(1000)
	done := make(chan error, 1)
	go func() {
		_, err := obj.WriteBody(context.Background(), w, 0, -1, nil)
		done <- err
	}()
	waitFor(t, w.reached, "the first bytes")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrIncomplete) {
		t.Errorf("reader: %v, want ErrIncomplete", err)
	}
}

// TestStreamRange reads a range of a body still arriving: the reader
// waits until the range is there.
func TestStreamRange(t *testing.T) {
	s, _ := testStore(t, diskConfig(t.TempDir()))
	now := time.Now()
	want := body(3<<20, 2)
	pr, pw := io.Pipe()
	obj, _ := s.Stream("k", testMeta(now, int64(len(want)), time.Hour), pr, now)
	var got bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := obj.WriteBody(context.Background(), &got, 2<<20, 1000, nil)
		done <- err
	}()
	go func() {
		pw.Write(want)
		pw.Close()
	}()
	if err := <-done; err != nil || !bytes.Equal(got.Bytes(), want[2<<20:2<<20+1000]) {
		t.Fatalf("range: %d bytes, %v", got.Len(), err)
	}
}

// TestStreamAfterClose: a fill whose head arrives after the store closed
// (a node stopping) still streams its body to its reader, stores nothing,
// and neither touches the closed disk tier nor upsets Close's count of
// pumps.
func TestStreamAfterClose(t *testing.T) {
	s, _ := testStore(t, diskConfig(t.TempDir()))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.joinGrace = time.Second // far longer than the second reader's late start
	now := time.Now()
	want := body(1<<20, 3) // past the window: chunks leave memory as it is read
	obj, stored := s.Stream("k", testMeta(now, int64(len(want)), time.Hour), io.NopCloser(bytes.NewReader(want)), now)
	if stored {
		t.Error("stored after Close")
	}
	// Two readers, as a fill's leader and a waiter handed the same Object;
	// the waiter starts late.
	got := make([]bytes.Buffer, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			if i == 1 {
				time.Sleep(100 * time.Millisecond)
			}
			_, errs[i] = obj.WriteBody(context.Background(), &got[i], 0, -1, nil)
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || !bytes.Equal(got[i].Bytes(), want) {
			t.Errorf("reader %d: %d bytes, %v; want %d", i, got[i].Len(), errs[i], len(want))
		}
	}
}

// TestStreamStaysJoinableWhileItsStartIsHeld: a body stored nowhere whose
// first chunk a slow client still holds is shared with new clients (one
// upstream fetch), even though its window is full.
func TestStreamStaysJoinableWhileItsStartIsHeld(t *testing.T) {
	cfg := diskConfig("")
	cfg.Disk.Dir = ""
	s, _ := testStore(t, cfg)
	s.joinGrace = 2 * time.Second // the share lasts this long once the start is held, and the late client has it to start
	now := time.Now()
	want := body(2<<20, 8) // announced, over the memory limit: a window from the start
	pr, pw := io.Pipe()
	obj, _ := s.Stream("k", testMeta(now, int64(len(want)), time.Hour), pr, now)
	release := make(chan struct{})
	slow := &heldWriter{hold: func() { <-release }}
	slowErr := make(chan error, 1)
	go func() {
		_, err := obj.WriteBody(context.Background(), slow, 0, -1, nil)
		slowErr <- err
	}()
	go func() {
		pw.Write(want)
		pw.Close()
	}()
	st := obj.src.(*stream)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st.mu.Lock()
		full := len(st.chunks) > windowChunks
		st.mu.Unlock()
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the window never filled")
		}
		time.Sleep(time.Millisecond)
	}
	late, out := s.Lookup("k", nil, now)
	if out != Found || late != obj {
		t.Fatalf("Lookup with the start still held: %v, want the stream", out)
	}
	close(release)
	if b, err := readAll(t, late); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("late client: %d bytes, %v", len(b), err)
	}
	if err := <-slowErr; err != nil || !bytes.Equal(slow.bytes(), want) {
		t.Fatalf("slow client: %d bytes, %v", len(slow.bytes()), err)
	}
}
