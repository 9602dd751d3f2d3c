package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// windowChunks is how many chunks a stream keeps in memory, the one being
// filled included, once it does not keep the whole body: readers near the
// head read from memory, those further behind from disk.
const windowChunks = 4

// defaultJoinGrace is how long a body stored nowhere keeps its start for the
// clients handed it just before it stopped being joinable: a client gets
// the stream from a lookup or a coalesced fill, and only registers as a
// reader when it writes the body, after its response head.
const defaultJoinGrace = 250 * time.Millisecond

// Errors a stream ends with.
var (
	errIdle       = errors.New("cache: upstream sent nothing for the fill timeout")
	errStalled    = errors.New("cache: no reader took the unstored body for the fill timeout")
	errFellBehind = errors.New("cache: reader fell behind an unstored body")
	errStopped    = errors.New("cache: store closed")
	errTooLarge   = errors.New("cache: body larger than the disk tier takes")
)

// stream is a fill whose body is stored as it arrives while every client
// of the key reads it (read while writing). One goroutine, the pump, reads
// upstream into chunks; each complete chunk is written to disk, if the
// disk tier takes the object. Memory holds the whole body only while it
// fits the memory tier; beyond that, the last windowChunks chunks, and a
// chunk leaves memory only once it is on disk or, for a body stored
// nowhere, once every reader is past it (the pump then waits for the
// slowest reader). Nothing is committed unless the body arrived whole.
type stream struct {
	s        *Store
	key      string // primary key, under which the stream is registered
	storeKey string // where it is stored: key or a Vary variant's key
	obj      *Object
	chunk    int64
	expect   int64 // announced length, or -1
	memMax   int64
	until    time.Time
	start    time.Time // the caller's now at the start
	began    time.Time // the wall clock at the start, to advance start
	body     io.ReadCloser
	dw       *diskWriter // nil when not written to disk; used by the pump only
	stored   bool        // a tier meant to store the body at the start
	// quit is the store's quit channel, or nil for a stream begun after
	// Close: no other client is handed it and Close does not wait for
	// its pump, so closing must not cut its own client's body short.
	quit chan struct{}

	invalidated atomic.Bool // Invalidate ran: commit nothing

	mu       sync.Mutex
	wake     chan struct{} // closed when size or done change, if waiting
	waiting  bool          // a reader waits on wake
	size     int64         // bytes received
	chunks   [][]byte      // chunks [first, first+len(chunks)); the last may be partial
	first    int64
	keepAll  bool      // every chunk since 0 is kept: a memory-tier candidate
	whole    []byte    // backing array of the chunks when keepAll and the length is known
	onDisk   int64     // chunks [0, onDisk) can be read from disk
	joinable bool      // a new reader can still read from offset 0
	lastJoin time.Time // when the stream was last handed to a client
	done     bool
	err      error
	readers  map[*streamReader]struct{}
	pumpWake chan struct{} // closed when a reader moves or leaves, if the pump waits
	onDone   []func()      // run once done
}

// streamReader is one reader's position, for the pump's backpressure.
type streamReader struct{ pos int64 }

// Stream stores a response whose body is still arriving from upstream,
// under the primary key and meta (as [Store.Put] would, Vary included),
// while serving it: it returns at once an Object whose body readers get
// the bytes as they come ([Object.WriteBody]), and whether a tier is
// storing it. meta.BodySize is the announced length, or -1.
//
// Until the body is complete, [Store.Lookup] and [Store.Fill] hand the
// same Object to the key's other clients: one upstream fetch whatever the
// size. The Store reads body to its end and closes it; the fetch's context
// must stay alive meanwhile ([Store.Fill] sees to that). A body that
// sends nothing for the fill timeout, ends short of its announced length
// or fails is not stored, and its readers get an error wrapping
// [ErrIncomplete] after the bytes that did arrive.
func (s *Store) Stream(key string, meta Meta, body io.ReadCloser, now time.Time) (*Object, bool) {
	st := &stream{
		s: s, key: key, storeKey: key,
		chunk:    int64(s.cfg.Disk.ChunkBytes),
		expect:   meta.BodySize,
		memMax:   int64(s.cfg.MaxObjectBytes),
		until:    meta.KeepUntil(),
		start:    now,
		began:    time.Now(),
		body:     body,
		wake:     make(chan struct{}),
		joinable: true,
		lastJoin: time.Now(), // the fill's own clients get it now
		readers:  make(map[*streamReader]struct{}),
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		// A fetch whose head came after Close (a node stopping): its
		// clients (the fill's leader and waiters) still get the body;
		// nothing is stored or waited for, and the stream is not
		// registered, so joinable only means its start is still there.
		st.obj = &Object{Meta: meta, src: st}
		go st.run()
		return st.obj, false
	}
	st.quit = s.quit
	storable := st.until.After(now)
	if storable && len(meta.VaryFields) > 0 {
		st.storeKey = variantKey(key, s.varyGeneration(key, meta.VaryFields, st.until, now), meta.VaryKey)
	}
	st.keepAll = storable && (st.expect < 0 || st.expect <= st.memMax)
	if st.keepAll && st.expect >= 0 {
		st.whole = make([]byte, st.expect)
	}
	if storable && s.disk != nil && st.expect <= int64(s.cfg.Disk.MaxObjectBytes) {
		st.dw, _ = s.disk.newWriter(st.storeKey, &meta, st.expect, now)
	}
	st.stored = st.keepAll || st.dw != nil
	st.obj = &Object{Meta: meta, src: st}
	s.register(st)
	go st.run()
	return st.obj, st.stored
}

// afterDone runs f once the stream has ended (at once if it has).
func (st *stream) afterDone(f func()) {
	st.mu.Lock()
	if !st.done {
		st.onDone = append(st.onDone, f)
		st.mu.Unlock()
		return
	}
	st.mu.Unlock()
	f()
}

// run is the pump's goroutine.
func (st *stream) run() {
	defer func() {
		st.s.streamsMu.Lock()
		_, counted := st.s.running[st]
		delete(st.s.running, st)
		st.s.streamsMu.Unlock()
		if counted {
			st.s.pumps.Done()
		}
	}()
	st.finish(st.pump())
}

// pump reads the body into chunks until it ends.
func (st *stream) pump() error {
	idle := st.s.cfg.FillTimeout.D()
	var timedOut atomic.Bool
	t := time.AfterFunc(idle, func() {
		timedOut.Store(true)
		st.body.Close()
	})
	defer t.Stop()
	for k := int64(0); st.expect < 0 || k*st.chunk < st.expect; k++ {
		buf := st.buffer(k)
		filled := 0
		var rerr error
		for filled < len(buf) && rerr == nil {
			var n int
			n, rerr = st.body.Read(buf[filled:])
			if n > 0 {
				t.Reset(idle)
				filled += n
				st.publish(k, buf[:filled], n)
			}
		}
		if filled > 0 {
			// Waiting for slow readers (or the disk) is not upstream's
			// silence: the idle timer pauses meanwhile.
			running := t.Stop()
			if err := st.complete(k, buf[:filled]); err != nil {
				return err
			}
			if running {
				t.Reset(idle)
			}
		}
		switch {
		case rerr == io.EOF:
			return nil
		case rerr != nil && timedOut.Load():
			return errIdle
		case rerr != nil:
			select {
			case <-st.quit:
				return errStopped
			default:
			}
			return rerr
		}
	}
	return nil
}

// buffer returns the buffer chunk k is read into.
func (st *stream) buffer(k int64) []byte {
	off := k * st.chunk
	n := st.chunk
	if st.expect >= 0 {
		n = min(n, st.expect-off)
	}
	if st.whole != nil {
		return st.whole[off : off+n : off+n]
	}
	return make([]byte, n)
}

// publish makes n more bytes of chunk k (now data) visible to readers.
func (st *stream) publish(k int64, data []byte, n int) {
	st.mu.Lock()
	if i := k - st.first; i == int64(len(st.chunks)) {
		st.chunks = append(st.chunks, data)
	} else {
		st.chunks[i] = data
	}
	st.size += int64(n)
	st.wakeReadersLocked()
	st.mu.Unlock()
}

func (st *stream) wakeReadersLocked() {
	if st.waiting {
		close(st.wake)
		st.wake = make(chan struct{})
		st.waiting = false
	}
}

// complete handles chunk k, now full (or the last): it goes to disk, and
// chunks beyond the window leave memory.
func (st *stream) complete(k int64, data []byte) error {
	if st.dw != nil && st.dw.err == nil {
		if k*st.chunk+int64(len(data)) > int64(st.s.cfg.Disk.MaxObjectBytes) {
			st.dw.err = errTooLarge // unannounced length: stop here, delete at the end
		} else if st.dw.writeChunk(data) == nil {
			st.mu.Lock()
			st.onDisk = k + 1
			st.mu.Unlock()
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.keepAll && st.size > st.memMax {
		st.keepAll = false // longer than announced nothing, and too long for memory
	}
	if st.keepAll {
		return nil
	}
	for len(st.chunks) > windowChunks {
		if st.first >= st.onDisk {
			// Stored nowhere: the chunk goes once every reader is past it.
			// New clients share the fetch while its start is still here,
			// but for no longer than the join grace once the start holds
			// the pump back: clients that keep coming would otherwise
			// hold it forever, each starting at 0. Then it stops sharing,
			// and the start goes only once those already handed the
			// stream have had the join grace to become readers.
			pos := (st.first + 1) * st.chunk
			if st.joinable {
				if err := st.waitReadersLocked(pos, time.Now().Add(st.s.joinGrace)); err != nil {
					return err
				}
				st.joinable = false
				st.s.unregister(st)
				st.waitJoinersLocked()
			}
			if err := st.waitReadersLocked(pos, time.Time{}); err != nil {
				return err
			}
		}
		st.chunks[0] = nil
		st.chunks = st.chunks[1:]
		st.first++
	}
	return nil
}

// waitJoinersLocked waits, with st.mu held, until the store's join grace
// has passed since the stream was last handed to a client, or the store
// closes.
func (st *stream) waitJoinersLocked() {
	d := time.Until(st.lastJoin.Add(st.s.joinGrace))
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	st.mu.Unlock()
	defer st.mu.Lock()
	select {
	case <-timer.C:
	case <-st.quit:
	}
}

// waitReadersLocked waits, with st.mu held, until there is a reader and
// every reader is at pos or beyond, or until until if it is not zero. It
// gives up with an error when no reader moves for the fill timeout or the
// store closes.
func (st *stream) waitReadersLocked(pos int64, until time.Time) error {
	timer := time.NewTimer(st.s.cfg.FillTimeout.D())
	defer timer.Stop()
	var deadline <-chan time.Time
	if !until.IsZero() {
		d := time.NewTimer(time.Until(until))
		defer d.Stop()
		deadline = d.C
	}
	for len(st.readers) == 0 || st.minReaderLocked() < pos {
		ch := make(chan struct{})
		st.pumpWake = ch
		st.mu.Unlock()
		select {
		case <-ch:
			st.mu.Lock()
			timer.Reset(st.s.cfg.FillTimeout.D())
		case <-deadline:
			st.mu.Lock()
			return nil
		case <-timer.C:
			st.mu.Lock()
			return errStalled
		case <-st.quit:
			st.mu.Lock()
			return errStopped
		}
	}
	return nil
}

func (st *stream) minReaderLocked() int64 {
	m := int64(-1)
	for r := range st.readers {
		if m < 0 || r.pos < m {
			m = r.pos
		}
	}
	return m
}

func (st *stream) wakePumpLocked() {
	if st.pumpWake != nil {
		close(st.pumpWake)
		st.pumpWake = nil
	}
}

// finish ends the stream: it commits a complete body, or throws away an
// incomplete one, then wakes every reader.
func (st *stream) finish(err error) {
	st.body.Close()
	if err == nil && st.expect >= 0 && st.size != st.expect {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && !st.invalidated.Load() {
		st.commit()
	} else if st.dw != nil {
		st.dw.abort()
	}
	st.s.unregister(st)
	st.mu.Lock()
	st.done = true
	if err != nil {
		st.err = fmt.Errorf("%w: after %d bytes: %w", ErrIncomplete, st.size, err)
	}
	st.wakeReadersLocked()
	after := st.onDone
	st.onDone = nil
	st.mu.Unlock()
	for _, f := range after {
		f()
	}
}

// commit stores the complete body: the meta and marker on disk, and the
// body in memory if it fits there, else its meta alone.
func (st *stream) commit() {
	now := st.start.Add(time.Since(st.began))
	meta := st.obj.Meta
	meta.BodySize = st.size
	if len(meta.Header["Content-Length"]) == 0 && meta.Status >= 200 &&
		meta.Status != http.StatusNoContent && meta.Status != http.StatusNotModified {
		meta.Header = maps.Clone(meta.Header)
		if meta.Header == nil {
			meta.Header = make(http.Header, 1)
		}
		meta.Header["Content-Length"] = []string{strconv.FormatInt(st.size, 10)}
	}
	var loc *diskLoc
	if st.dw != nil {
		loc, _ = st.dw.commit(&meta, st.until, now)
	}
	st.mu.Lock()
	keep, chunks := st.keepAll, st.chunks
	st.mu.Unlock()
	var obj *Object
	switch {
	case keep:
		body := st.whole
		if body == nil {
			body = make([]byte, 0, st.size)
			for _, c := range chunks {
				body = append(body, c...)
			}
		}
		obj = &Object{Meta: meta, Body: body, loc: loc}
	case loc != nil:
		obj = &Object{Meta: meta, src: loc, loc: loc}
	default:
		return
	}
	st.s.putMemory(st.storeKey, obj, st.until, now)
}

// bodySize is the announced length, or once complete the length.
func (st *stream) bodySize() int64 {
	if st.expect >= 0 {
		return st.expect
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done && st.err == nil {
		return st.size
	}
	return -1
}

// writeBody writes bytes [off, end) to w as they arrive (end < 0: up to
// the end of the body).
func (st *stream) writeBody(ctx context.Context, w io.Writer, off, end int64, flush func()) (int64, error) {
	r := &streamReader{pos: off}
	st.mu.Lock()
	st.readers[r] = struct{}{}
	st.wakePumpLocked()
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.readers, r)
		st.wakePumpLocked()
		st.mu.Unlock()
	}()
	var written int64
	var dbuf *[]byte
	defer func() {
		if dbuf != nil {
			st.dw.d.chunkBufs.Put(dbuf)
		}
	}()
	for end < 0 || off < end {
		p, diskChunk, wait, err := st.next(r, off)
		switch {
		case err == io.EOF:
			return written, nil
		case err != nil:
			return written, err
		case wait != nil:
			if flush != nil {
				flush()
			}
			select {
			case <-wait:
			case <-ctx.Done():
				return written, ctx.Err()
			}
			continue
		case diskChunk >= 0:
			if dbuf == nil {
				dbuf = st.dw.d.chunkBuf(st.chunk)
			}
			chunk, err := st.dw.d.readChunk(st.dw.d.db, st.dw.gen, uint32(diskChunk), (*dbuf)[:0])
			if err != nil {
				return written, fmt.Errorf("%w: %w", ErrIncomplete, err)
			}
			*dbuf = chunk[:0]
			i := off - diskChunk*st.chunk
			if i >= int64(len(chunk)) {
				return written, fmt.Errorf("%w: chunk %d short on disk", ErrIncomplete, diskChunk)
			}
			p = chunk[i:]
		}
		if end >= 0 && int64(len(p)) > end-off {
			p = p[:end-off]
		}
		n, err := w.Write(p)
		written += int64(n)
		off += int64(n)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// next returns what a reader at off reads next: bytes in memory, the
// index of a chunk to read from disk, a channel to wait on, io.EOF at the
// end of a complete body, or an error.
func (st *stream) next(r *streamReader, off int64) (p []byte, diskChunk int64, wait <-chan struct{}, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if r.pos != off {
		r.pos = off
		st.wakePumpLocked()
	}
	if off < st.size {
		k := off / st.chunk
		if i := k - st.first; i >= 0 && i < int64(len(st.chunks)) {
			if c := st.chunks[i]; off-k*st.chunk < int64(len(c)) {
				return c[off-k*st.chunk:], -1, nil, nil
			}
		}
		if k < st.onDisk {
			return nil, k, nil, nil
		}
		return nil, -1, nil, fmt.Errorf("%w: %w", ErrIncomplete, errFellBehind)
	}
	if st.done {
		if st.err != nil {
			return nil, -1, nil, st.err
		}
		return nil, -1, nil, io.EOF
	}
	st.waiting = true
	return nil, -1, st.wake, nil
}

// join reports whether a new reader may be handed the stream, and if so
// notes that one is.
func (st *stream) join() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.joinable || st.done {
		return false
	}
	st.lastJoin = time.Now()
	return true
}

// register makes st the fill in progress for its key, and counts its
// pump.
func (s *Store) register(st *stream) {
	s.streamsMu.Lock()
	s.streams[st.key] = st
	s.running[st] = struct{}{}
	s.pumps.Add(1)
	s.streamsMu.Unlock()
}

// unregister removes st from the fills in progress, if it is still
// registered.
func (s *Store) unregister(st *stream) {
	s.streamsMu.Lock()
	if s.streams[st.key] == st {
		delete(s.streams, st.key)
	}
	s.streamsMu.Unlock()
}

// streamFor returns the joinable fill in progress for key, or nil.
func (s *Store) streamFor(key string) *stream {
	s.streamsMu.Lock()
	st := s.streams[key]
	s.streamsMu.Unlock()
	if st == nil || !st.join() {
		return nil
	}
	return st
}
