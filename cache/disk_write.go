package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Sizes of the fixed parts of stored records, for accounting.
const (
	chunkKeyBytes  = 13
	markerKeyBytes = 17
	metaKeyBytes   = 9
	// markerOverhead is what an object's marker is accounted for: its key
	// and a generous bound on its value.
	markerOverhead = markerKeyBytes + 64
	// intentBytes bounds an intent record with its key.
	intentBytes = metaKeyBytes + recordHeader + 10
	// expireBatch caps the objects deleted by one batch in the background.
	expireBatch = 512
)

// errAborted is the error of a disk writer aborted without a failure.
var errAborted = errors.New("cache: disk write aborted")

// commit applies b unless the tier is closed.
func (d *disk) commit(b *pebble.Batch) error {
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed {
		return errDiskClosed
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("cache: disk commit: %w", err)
	}
	d.stats.bytesWrit.Add(uint64(b.Len()))
	return nil
}

// setChunk adds chunk i of object gen to b and returns the bytes it
// accounts for. The record is built in the batch itself: no copy of p
// besides the one into the batch.
func setChunk(b *pebble.Batch, gen uint64, i uint32, p []byte) int64 {
	op := b.SetDeferred(chunkKeyBytes, recordHeader+len(p))
	chunkKey(op.Key[:0], gen, i)
	op.Value[0] = chunkVersion1
	binary.LittleEndian.PutUint32(op.Value[1:5], crc32.Checksum(p, castagnoli))
	copy(op.Value[recordHeader:], p)
	op.Finish()
	return int64(chunkKeyBytes + recordHeader + len(p))
}

// chunkBytesFor is what a body of size bytes in chunks of chunk bytes
// accounts for.
func chunkBytesFor(size, chunk int64) int64 {
	n := (size + chunk - 1) / chunk
	return size + n*(chunkKeyBytes+recordHeader)
}

// put stores a whole object in memory in one batch: chunks, meta, and the
// marker last. It replaces what key held before.
func (d *disk) put(key string, meta *Meta, body []byte, until, now time.Time) (*diskLoc, error) {
	if err := d.writable(); err != nil {
		d.writeFailed("put", err)
		return nil, err
	}
	gen := d.gens.Add(1)
	chunk := int64(d.cfg.ChunkBytes)
	b := d.db.NewBatch()
	defer b.Close()
	var size int64
	for i, off := uint32(0), int64(0); off < int64(len(body)); i, off = i+1, off+chunk {
		size += setChunk(b, gen, i, body[off:min(off+chunk, int64(len(body)))])
	}
	rec := appendMetaRecord(nil, &metaRecord{key: key, meta: *meta})
	b.Set(metaKey(gen), rec, nil)
	metaBytes := int64(metaKeyBytes + len(rec))
	size += metaBytes + markerOverhead
	m := marker{kind: markerObject, gen: gen, until: until, bodySize: int64(len(body)), chunkBytes: chunk,
		size: size, metaBytes: metaBytes, stored: now}

	d.wmu.Lock()
	defer d.wmu.Unlock()
	if err := d.reserveLocked(size); err != nil {
		d.writeFailed("put", err)
		return nil, err
	}
	defer d.idx.release(size)
	e, err := d.commitMarkerLocked(b, key, &m)
	if err != nil {
		d.writeFailed("put", err)
		return nil, err
	}
	return &diskLoc{d: d, entry: e, gen: gen, size: m.bodySize, chunkBytes: chunk}, nil
}

// commitMarkerLocked adds to b the deletion of what key held before and
// then its new marker, commits b and indexes the marker. d.wmu is held.
func (d *disk) commitMarkerLocked(b *pebble.Batch, key string, m *marker) (*diskEntry, error) {
	h := hashKey(key)
	old := d.idx.get(h)
	if old != nil {
		deleteEntry(b, old)
	}
	mk := markerKey(h)
	mv := appendMarker(nil, m)
	b.Set(mk, mv, nil)
	if err := d.commit(b); err != nil {
		return nil, err
	}
	e := entryFromMarker(h, m, int64(len(mk)+len(mv)))
	d.idx.put(e)
	d.synced()
	return e, nil
}

// deleteEntry adds the deletion of an indexed object or Vary marker to b.
func deleteEntry(b *pebble.Batch, e *diskEntry) {
	b.Delete(markerKey(e.h), nil)
	if e.kind == markerObject {
		b.Delete(metaKey(e.gen), nil)
		b.DeleteRange(chunkKey(nil, e.gen, 0), chunkKey(nil, e.gen+1, 0), nil)
	}
}

// reserveLocked reserves n bytes under the cap, evicting in CLOCK order
// if needed (a share of the cap more, so that eviction runs in batches).
// d.wmu is held.
func (d *disk) reserveLocked(n int64) error {
	limit := int64(d.cfg.MaxBytes)
	if n > limit {
		return errDiskFull
	}
	if d.idx.reserve(n, limit) {
		return nil
	}
	used, reserved, _ := d.idx.counts()
	victims := d.idx.victims(used + reserved + n - limit + limit/evictSlack)
	if len(victims) > 0 {
		if err := d.deleteLocked(victims); err != nil {
			d.log.Warn("disk tier: eviction failed", "err", err)
		}
		d.stats.evictions.Add(uint64(len(victims)))
	}
	if d.idx.reserve(n, limit) {
		return nil
	}
	return errDiskFull
}

// deleteLocked deletes entries already taken out of the index. d.wmu is
// held, so no new marker for their keys can slip in between.
func (d *disk) deleteLocked(es []*diskEntry) error {
	b := d.db.NewBatch()
	defer b.Close()
	for _, e := range es {
		deleteEntry(b, e)
	}
	return d.commit(b)
}

// drop deletes an indexed entry (a corrupt object), if still indexed.
func (d *disk) drop(e *diskEntry) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.idx.remove(e) {
		if err := d.deleteLocked([]*diskEntry{e}); err != nil {
			d.log.Warn("disk tier: delete failed", "err", err)
		}
	}
}

// invalidate deletes what is stored under key: an object, or a Vary
// marker (whose variants are then unreachable and age out).
func (d *disk) invalidate(key string) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if e := d.idx.get(hashKey(key)); e != nil && d.idx.remove(e) {
		if err := d.deleteLocked([]*diskEntry{e}); err != nil {
			d.log.Warn("disk tier: delete failed", "err", err)
		}
	}
}

// expire deletes every object past its expiry, a batch at a time so that
// fills are never held up long, and returns how many it deleted.
func (d *disk) expire(now time.Time) int {
	total := 0
	for {
		d.wmu.Lock()
		es := d.idx.expired(now.UnixNano(), expireBatch)
		if len(es) > 0 {
			if err := d.deleteLocked(es); err != nil {
				d.log.Warn("disk tier: expiry failed", "err", err)
			}
		}
		d.wmu.Unlock()
		total += len(es)
		d.stats.expired.Add(uint64(len(es)))
		if len(es) < expireBatch {
			return total
		}
	}
}

// putVary stores the Vary marker of key: variants live under keys derived
// from gen.
func (d *disk) putVary(key string, fields []string, gen uint64, until time.Time) error {
	if err := d.writable(); err != nil {
		d.writeFailed("vary", err)
		return err
	}
	m := marker{kind: markerVary, gen: gen, until: until, fields: fields}
	size := int64(markerKeyBytes + len(appendMarker(nil, &m)))
	b := d.db.NewBatch()
	defer b.Close()
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if err := d.reserveLocked(size); err != nil {
		d.writeFailed("vary", err)
		return err
	}
	defer d.idx.release(size)
	if _, err := d.commitMarkerLocked(b, key, &m); err != nil {
		d.writeFailed("vary", err)
		return err
	}
	return nil
}

// rewriteMeta replaces the meta of the object at loc (a 304 freshening
// it) and its marker's expiry; the body is not touched. It fails with
// errGone when key holds another object by now.
func (d *disk) rewriteMeta(loc *diskLoc, key string, meta *Meta, until, now time.Time) error {
	if err := d.writable(); err != nil {
		d.writeFailed("rewrite", err)
		return err
	}
	rec := appendMetaRecord(nil, &metaRecord{key: key, meta: *meta})
	b := d.db.NewBatch()
	defer b.Close()
	b.Set(metaKey(loc.gen), rec, nil)

	d.wmu.Lock()
	defer d.wmu.Unlock()
	e := d.idx.get(hashKey(key))
	if e == nil || e.kind != markerObject || e.gen != loc.gen {
		return errGone
	}
	metaBytes := int64(metaKeyBytes + len(rec))
	grow := max(0, metaBytes-e.metaBytes)
	if err := d.reserveLocked(grow); err != nil {
		d.writeFailed("rewrite", err)
		return err
	}
	defer d.idx.release(grow)
	m := marker{kind: markerObject, gen: e.gen, until: until, bodySize: e.bodySize, chunkBytes: e.chunkBytes,
		size: e.size - e.metaBytes + metaBytes, metaBytes: metaBytes, stored: now}
	b.Set(markerKey(e.h), appendMarker(nil, &m), nil)
	if err := d.commit(b); err != nil {
		d.writeFailed("rewrite", err)
		return err
	}
	d.idx.update(e, until.UnixNano(), m.size, metaBytes)
	d.synced()
	return nil
}

// diskWriter writes one streamed body chunk by chunk, then commits it.
// Until the commit, an intent record names the object so that start-up
// deletes its chunks if the process dies first. Not safe for concurrent
// use.
type diskWriter struct {
	d          *disk
	key        string
	gen        uint64
	chunkBytes int64
	started    time.Time
	reserved   int64  // bytes reserved under the cap
	size       int64  // bytes written so far, accounted
	chunks     uint32 // chunks written
	err        error  // the first failure; the writer is then dead
}

// newWriter starts writing an object for key; expect is the body size,
// or -1 when unknown (bytes are then reserved as they come).
func (d *disk) newWriter(key string, meta *Meta, expect int64, now time.Time) (*diskWriter, error) {
	if err := d.writable(); err != nil {
		d.writeFailed("stream", err)
		return nil, err
	}
	w := &diskWriter{d: d, key: key, gen: d.gens.Add(1), chunkBytes: int64(d.cfg.ChunkBytes), started: now}
	if expect >= 0 {
		n := chunkBytesFor(expect, w.chunkBytes) + intentBytes + metaKeyBytes +
			int64(len(appendMetaRecord(nil, &metaRecord{key: key, meta: *meta}))) + 64 + markerOverhead
		d.wmu.Lock()
		err := d.reserveLocked(n)
		d.wmu.Unlock()
		if err != nil {
			d.writeFailed("stream", err)
			return nil, err
		}
		w.reserved = n
	}
	return w, nil
}

// grow makes sure n more bytes are reserved.
func (w *diskWriter) grow(n int64) error {
	if w.size+n <= w.reserved {
		return nil
	}
	more := max(w.size+n-w.reserved, 4*w.chunkBytes)
	w.d.wmu.Lock()
	err := w.d.reserveLocked(more)
	w.d.wmu.Unlock()
	if err == nil {
		w.reserved += more
	}
	return err
}

// writeChunk writes the next chunk (full size but for the last).
func (w *diskWriter) writeChunk(p []byte) error {
	if w.err != nil {
		return w.err
	}
	d := w.d
	n := int64(chunkKeyBytes + recordHeader + len(p))
	if w.chunks == 0 {
		n += intentBytes
	}
	err := d.writable()
	if err == nil {
		err = w.grow(n)
	}
	if err == nil {
		b := d.db.NewBatch()
		if w.chunks == 0 {
			b.Set(intentKey(w.gen), appendIntent(nil, w.started), nil)
		}
		setChunk(b, w.gen, w.chunks, p)
		err = d.commit(b)
		b.Close()
	}
	if err != nil {
		// Chunks written so far stay readable until the stream ends and
		// commit or abort deletes them.
		w.err = err
		d.writeFailed("stream", err)
		return err
	}
	w.size += n
	w.chunks++
	return nil
}

// commit writes the meta and the marker, making the object visible, and
// returns where its body is.
func (w *diskWriter) commit(meta *Meta, until, now time.Time) (*diskLoc, error) {
	if w.err != nil {
		w.abort()
		return nil, w.err
	}
	d := w.d
	rec := appendMetaRecord(nil, &metaRecord{key: w.key, meta: *meta})
	b := d.db.NewBatch()
	defer b.Close()
	b.Set(metaKey(w.gen), rec, nil)
	if w.chunks > 0 {
		b.Delete(intentKey(w.gen), nil)
	}
	metaBytes := int64(metaKeyBytes + len(rec))
	bodySize := meta.BodySize
	size := chunkBytesFor(bodySize, w.chunkBytes) + metaBytes + markerOverhead
	m := marker{kind: markerObject, gen: w.gen, until: until, bodySize: bodySize, chunkBytes: w.chunkBytes,
		size: size, metaBytes: metaBytes, stored: now}

	d.wmu.Lock()
	defer d.wmu.Unlock()
	err := d.writable()
	if err == nil && size > w.reserved {
		if err = d.reserveLocked(size - w.reserved); err == nil {
			w.reserved = size
		}
	}
	var e *diskEntry
	if err == nil {
		e, err = d.commitMarkerLocked(b, w.key, &m)
	}
	if err != nil {
		w.err = err
		d.writeFailed("stream", err)
		w.abortLocked()
		return nil, err
	}
	d.idx.release(w.reserved)
	w.reserved = 0
	return &diskLoc{d: d, entry: e, gen: w.gen, size: bodySize, chunkBytes: w.chunkBytes}, nil
}

// abort deletes the chunks written so far and returns the reservation.
// What a failed delete leaves, start-up deletes (the intent is still
// there).
func (w *diskWriter) abort() {
	w.d.wmu.Lock()
	defer w.d.wmu.Unlock()
	w.abortLocked()
}

func (w *diskWriter) abortLocked() {
	if w.err == nil {
		w.err = errAborted
	}
	d := w.d
	if w.chunks > 0 {
		b := d.db.NewBatch()
		b.Delete(intentKey(w.gen), nil)
		b.DeleteRange(chunkKey(nil, w.gen, 0), chunkKey(nil, w.gen+1, 0), nil)
		if err := d.commit(b); err != nil && err != errDiskClosed {
			d.log.Warn("disk tier: deleting an aborted write failed", "err", err)
		}
		b.Close()
		w.chunks = 0
	}
	d.idx.release(w.reserved)
	w.reserved = 0
}
