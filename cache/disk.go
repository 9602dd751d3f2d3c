package cache

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/popcache/popcache/conf"
)

// Errors of the disk tier. None reaches a client: a lookup that meets one
// is a miss, a write that meets one leaves the object uncached.
var (
	errDiskClosed = errors.New("cache: disk tier closed")
	errDiskFull   = errors.New("cache: disk tier full")
	errLowSpace   = errors.New("cache: disk tier: filesystem nearly full")
	errGone       = errors.New("cache: object left the disk tier")
)

// Pebble tuning. The tier's values are large (chunks), written once and
// read many times; bodies are usually compressed already.
const (
	// memTableBytes is Pebble's memtable size. Larger memtables flush
	// less often, and a chunk stream is one flush per this many bytes.
	memTableBytes = 32 << 20
	// blockCacheBytes is Pebble's block cache, outside the Go heap; recent
	// and hot chunks are read from it instead of the page cache.
	blockCacheBytes = 64 << 20
	// minFreeBytes is the free space under which the tier stops writing,
	// so that Pebble never meets a full filesystem (which it treats as
	// fatal): room for a memtable flush and a compaction's output.
	minFreeBytes = 256 << 20
	// spaceCheckEvery bounds how often the free space is looked up.
	spaceCheckEvery = time.Second
	// evictSlack is the share of the cap freed beyond what a write needs
	// when the tier is full, so that eviction runs in batches.
	evictSlack = 50
)

// disk is the Pebble tier: see DESIGN.md for the layout. It is safe for
// concurrent use. Lookups read Pebble and the in-memory index only; every
// batch that changes a marker is serialised by wmu, so a write stall in
// Pebble delays fills, never hits.
type disk struct {
	cfg   conf.Disk
	db    *pebble.DB
	log   *slog.Logger
	idx   *diskIndex
	gens  *atomic.Uint64 // shared with the Store: object and Vary generations
	stats diskStats
	load  time.Duration // start-up time: open and index load

	// closeMu is held shared around every use of db, and exclusively by
	// close, so nothing touches Pebble after it is closed.
	closeMu sync.RWMutex
	closed  bool // protected by closeMu

	snapMu sync.Mutex
	snaps  map[*pebble.Snapshot]struct{} // open snapshots; protected by snapMu

	// wmu serialises the batches that write or delete markers, together
	// with the index changes that mirror them.
	wmu sync.Mutex

	chunkBufs sync.Pool // *[]byte of cfg.ChunkBytes, for reading chunks

	// The WAL syncer: commits are NoSync, and kick asks a goroutine to
	// sync the WAL right after, so a commit reaches the disk within one
	// fsync without any fill waiting for it.
	kick       chan struct{} // buffered 1
	syncerDone chan struct{}

	// Free-space guard.
	freeSpace  func() (uint64, error) // nil: vfs.Default on cfg.Dir
	minFree    uint64
	lowSpace   atomic.Bool
	spaceCheck atomic.Int64 // Unix nanoseconds of the last check
	fullLogged atomic.Int64 // Unix nanoseconds of the last "tier full" log
}

// diskStats are the tier's counters, read by the metrics on scrape.
type diskStats struct {
	hits, misses         atomic.Uint64
	evictions, expired   atomic.Uint64
	writeErrors          atomic.Uint64
	checksumFailures     atomic.Uint64
	bytesRead, bytesWrit atomic.Uint64
	writeStalls          atomic.Uint64
}

// openDisk opens (creating if needed) the tier in cfg.Dir and loads its
// index. Objects whose write was cut short by a crash are deleted.
func openDisk(cfg conf.Disk, gens *atomic.Uint64, log *slog.Logger) (*disk, error) {
	start := time.Now()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: open disk tier %q: %w", cfg.Dir, err)
	}
	d := &disk{
		cfg:     cfg,
		log:     log,
		idx:     newDiskIndex(),
		gens:    gens,
		snaps:   make(map[*pebble.Snapshot]struct{}),
		minFree: minFreeBytes,
	}
	chunk := int(cfg.ChunkBytes)
	d.chunkBufs.New = func() any { b := make([]byte, chunk); return &b }
	opts := d.options()
	db, err := pebble.Open(cfg.Dir, opts)
	opts.Cache.Unref() // Open took its own reference
	if err != nil {
		return nil, fmt.Errorf("cache: open disk tier %q: %w", cfg.Dir, err)
	}
	d.db = db
	if err := d.loadIndex(); err != nil {
		db.Close()
		return nil, fmt.Errorf("cache: open disk tier %q: %w", cfg.Dir, err)
	}
	d.load = time.Since(start)
	d.kick = make(chan struct{}, 1)
	d.syncerDone = make(chan struct{})
	go d.syncer()
	return d, nil
}

// syncer syncs the WAL after commits, coalescing those that come while
// it syncs, until close closes kick.
func (d *disk) syncer() {
	defer close(d.syncerDone)
	for range d.kick {
		d.closeMu.RLock()
		if !d.closed {
			if err := d.db.LogData(nil, pebble.Sync); err != nil {
				d.stats.writeErrors.Add(1)
				d.log.Warn("disk tier: syncing the log failed", "err", err)
			}
		}
		d.closeMu.RUnlock()
	}
}

// synced asks for a WAL sync soon; it never waits.
func (d *disk) synced() {
	d.closeMu.RLock() // close closes kick with closeMu held
	defer d.closeMu.RUnlock()
	if d.closed {
		return
	}
	select {
	case d.kick <- struct{}{}:
	default: // a sync is already due: it will cover this commit
	}
}

// options are the Pebble options of the tier. Writes use NoSync, and a
// background sync follows every commit (see syncer): a crash loses at
// most the objects committed during the last fsync, and never tears one
// (batches are atomic in the WAL).
func (d *disk) options() *pebble.Options {
	o := &pebble.Options{
		MemTableSize:                memTableBytes,
		MemTableStopWritesThreshold: 4,
		// A range deletion reclaims space only once flushed; an evicted
		// large object should not wait for the memtable to fill.
		FlushDelayDeleteRange: 10 * time.Second,
		FormatMajorVersion:    pebble.FormatNewest,
		Logger:                pebbleLogger{d.log},
		EventListener: &pebble.EventListener{
			BackgroundError: func(err error) {
				d.stats.writeErrors.Add(1)
				d.log.Warn("disk tier: background error", "err", err)
			},
			WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
				d.stats.writeStalls.Add(1)
				d.log.Info("disk tier: writes stalled (hits go on)", "reason", info.Reason)
			},
		},
	}
	o.Cache = pebble.NewCache(blockCacheBytes) // the caller drops this reference after Open
	for i := range o.Levels {
		o.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	// Compactions run beside fills and hits; two at most on busy disks.
	o.CompactionConcurrencyRange = func() (int, int) { return 1, 2 }
	return o
}

// loadIndex reads every marker into the index and deletes the leftovers
// of writes a crash interrupted (intents without a commit). It reads
// markers only, a few dozen bytes per object: no meta, no chunk.
func (d *disk) loadIndex() error {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixMarker}, UpperBound: []byte{prefixMarker + 1}})
	if err != nil {
		return err
	}
	var maxGen uint64
	var corrupt [][]byte
	var entries []*diskEntry
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		k := it.Key()
		m, err := decodeMarker(v)
		if err != nil || len(k) != 17 {
			d.log.Warn("disk tier: dropping corrupt marker", "err", err)
			corrupt = append(corrupt, append([]byte(nil), k...))
			continue
		}
		entries = append(entries, entryFromMarker(keyHash(k[1:]), &m, int64(len(k)+len(v))))
		maxGen = max(maxGen, m.gen)
	}
	if err := it.Close(); err != nil {
		return err
	}
	d.idx.load(entries)
	// A generation must never repeat, or a new object could meet chunks
	// of an old one: continue after both the clock and the largest seen.
	for cur := d.gens.Load(); cur <= maxGen; cur = d.gens.Load() {
		d.gens.CompareAndSwap(cur, maxGen+1)
	}

	b := d.db.NewBatch()
	defer b.Close()
	for _, k := range corrupt {
		b.Delete(k, nil)
	}
	it, err = d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixIntent}, UpperBound: []byte{prefixIntent + 1}})
	if err != nil {
		return err
	}
	torn := 0
	for ok := it.First(); ok; ok = it.Next() {
		gen, ok := keyGen(it.Key())
		if !ok {
			continue
		}
		b.Delete(it.Key(), nil)
		b.Delete(metaKey(gen), nil)
		b.DeleteRange(chunkKey(nil, gen, 0), chunkKey(nil, gen+1, 0), nil)
		torn++
	}
	if err := it.Close(); err != nil {
		return err
	}
	if torn > 0 {
		d.log.Info("disk tier: deleted objects whose write was interrupted", "objects", torn)
	}
	if b.Empty() {
		return nil
	}
	return b.Commit(pebble.NoSync)
}

// entryFromMarker builds the index entry of a marker of size bytes.
func entryFromMarker(h keyHash, m *marker, markerBytes int64) *diskEntry {
	e := &diskEntry{h: h, kind: m.kind, gen: m.gen, until: m.until.UnixNano(), fields: m.fields}
	if m.kind == markerObject {
		e.bodySize, e.chunkBytes, e.size, e.metaBytes = m.bodySize, m.chunkBytes, m.size, m.metaBytes
	} else {
		e.size = markerBytes
	}
	return e
}

// close closes Pebble once every call in progress has returned. Open
// snapshots are released; their readers see errDiskClosed.
func (d *disk) close() error {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	close(d.kick)
	d.closeMu.Unlock()
	<-d.syncerDone // it syncs no more once closed is set
	d.closeMu.Lock()
	d.snapMu.Lock()
	for s := range d.snaps {
		s.Close()
	}
	clear(d.snaps)
	d.snapMu.Unlock()
	// Flushing the memtable now saves the next start-up replaying it from
	// the log (tens of MiB); a killed node replays it instead.
	if err := d.db.Flush(); err != nil {
		d.log.Warn("disk tier: flush at close failed", "err", err)
	}
	return d.db.Close()
}

// writable reports whether the tier may write, checking the free space
// at most once a second. A nearly full filesystem is logged once as it
// happens and once as it clears.
func (d *disk) writable() error {
	now := time.Now().UnixNano()
	if last := d.spaceCheck.Load(); now-last >= int64(spaceCheckEvery) && d.spaceCheck.CompareAndSwap(last, now) {
		free, err := d.free()
		low := err == nil && free < d.minFree
		if d.lowSpace.Swap(low) != low {
			if low {
				d.log.Warn("disk tier: filesystem nearly full, writes stopped", "dir", d.cfg.Dir, "free_bytes", free)
			} else {
				d.log.Info("disk tier: free space is back, writes resumed", "dir", d.cfg.Dir, "free_bytes", free)
			}
		}
	}
	if d.lowSpace.Load() {
		return errLowSpace
	}
	return nil
}

func (d *disk) free() (uint64, error) {
	if d.freeSpace != nil {
		return d.freeSpace()
	}
	u, err := vfs.Default.GetDiskUsage(d.cfg.Dir)
	return u.AvailBytes, err
}

// writeFailed counts and logs a failed write. A full tier is logged at
// most once a minute, a nearly full filesystem as it comes and goes.
func (d *disk) writeFailed(op string, err error) {
	d.stats.writeErrors.Add(1)
	switch {
	case errors.Is(err, errLowSpace):
	case errors.Is(err, errDiskFull):
		now := time.Now().UnixNano()
		if last := d.fullLogged.Load(); now-last >= int64(time.Minute) && d.fullLogged.CompareAndSwap(last, now) {
			d.log.Warn("disk tier full: eviction cannot make room, objects go unstored", "op", op, "max_bytes", int64(d.cfg.MaxBytes))
		}
	default:
		d.log.Warn("disk tier: write failed", "op", op, "err", err)
	}
}

// pebbleLogger sends Pebble's log to slog. Pebble calls Fatalf on errors
// it cannot recover from (a failed WAL or MANIFEST write): there is no
// safe way to continue, so it panics as Pebble expects.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Warn("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("pebble: fatal: " + msg)
	panic("pebble: " + msg)
}
