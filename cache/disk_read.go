package cache

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// reader is what chunks are read through: the database or a snapshot.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

// diskLoc is where an object's body is on disk. It is the body source of
// an Object whose body is not in memory, and tells Put that an Object
// shares a stored body (a 304 then rewrites the meta alone).
type diskLoc struct {
	d          *disk
	entry      *diskEntry // for CLOCK; may have left the index since
	gen        uint64
	size       int64
	chunkBytes int64
}

// readMeta reads and checks the meta record of object gen stored under key.
func (d *disk) readMeta(gen uint64, key string) (metaRecord, error) {
	var mr metaRecord
	err := d.get(d.db, metaKey(gen), func(v []byte) error {
		var err error
		mr, err = decodeMetaRecord(v)
		return err
	})
	if err == nil && mr.key != key {
		err = fmt.Errorf("cache: disk meta of %q holds key %q: %w", key, mr.key, errCorruptRecord)
	}
	return mr, err
}

// get reads key through r (the database or a snapshot) and passes the
// value to fn, which must not keep it.
func (d *disk) get(r reader, key []byte, fn func(v []byte) error) error {
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed {
		return errDiskClosed
	}
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return errGone
	}
	if err != nil {
		return fmt.Errorf("cache: disk read: %w", err)
	}
	defer closer.Close()
	d.stats.bytesRead.Add(uint64(len(v)))
	return fn(v)
}

// readChunk appends the data of chunk i of object gen to dst, checksum
// verified.
func (d *disk) readChunk(r reader, gen uint64, i uint32, dst []byte) ([]byte, error) {
	var kb [13]byte
	err := d.get(r, chunkKey(kb[:0], gen, i), func(v []byte) error {
		p, err := openRecord("chunk", v, chunkVersion1)
		if err != nil {
			return err
		}
		dst = append(dst, p...)
		return nil
	})
	return dst, err
}

// readBody reads a whole body of size bytes into memory.
func (d *disk) readBody(loc *diskLoc) ([]byte, error) {
	body := make([]byte, 0, loc.size)
	snap := d.snapshot(loc.size > loc.chunkBytes)
	defer d.release(snap)
	r := d.reader(snap)
	for i := uint32(0); int64(len(body)) < loc.size; i++ {
		before := len(body)
		var err error
		if body, err = d.readChunk(r, loc.gen, i, body); err != nil {
			return nil, err
		}
		if n := int64(len(body) - before); n != min(loc.chunkBytes, loc.size-int64(before)) {
			return nil, fmt.Errorf("cache: disk chunk %d of %d is %d bytes: %w", i, loc.gen, n, errCorruptRecord)
		}
	}
	return body, nil
}

// snapshot returns a snapshot when want is true and the tier is open, so
// that a body read in several steps sees one version of the object even
// if it is evicted or replaced meanwhile.
func (d *disk) snapshot(want bool) *pebble.Snapshot {
	if !want {
		return nil
	}
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed {
		return nil
	}
	s := d.db.NewSnapshot()
	d.snapMu.Lock()
	d.snaps[s] = struct{}{}
	d.snapMu.Unlock()
	return s
}

func (d *disk) reader(s *pebble.Snapshot) reader {
	if s == nil {
		return d.db
	}
	return s
}

// release closes a snapshot unless close already did.
func (d *disk) release(s *pebble.Snapshot) {
	if s == nil {
		return
	}
	d.snapMu.Lock()
	_, open := d.snaps[s]
	delete(d.snaps, s)
	d.snapMu.Unlock()
	if open {
		s.Close()
	}
}

// readFailed handles a failed read of an object: a checksum failure or
// garbage is counted, logged and the object dropped so the next request
// refetches it; an object that went away meanwhile is just a miss.
func (d *disk) readFailed(e *diskEntry, err error) {
	if !errors.Is(err, errCorruptRecord) {
		return
	}
	d.stats.checksumFailures.Add(1)
	d.log.Warn("disk tier: dropping corrupt object", "generation", e.gen, "err", err)
	d.drop(e)
}

func (l *diskLoc) bodySize() int64 { return l.size }

// writeBody writes bytes [off, end) of the body to w, a chunk at a time
// through a pooled buffer: the Pebble value is copied out and checked
// before the client write, so a slow client never pins Pebble memory.
func (l *diskLoc) writeBody(ctx context.Context, w io.Writer, off, end int64, _ func()) (int64, error) {
	d := l.d
	snap := d.snapshot(end-off > l.chunkBytes-off%l.chunkBytes)
	defer d.release(snap)
	r := d.reader(snap)
	bp := d.chunkBuf(l.chunkBytes)
	defer d.chunkBufs.Put(bp)
	var written int64
	for off < end {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		i := off / l.chunkBytes
		chunk, err := d.readChunk(r, l.gen, uint32(i), (*bp)[:0])
		if err != nil {
			d.readFailed(l.entry, err)
			return written, fmt.Errorf("%w: %w", ErrIncomplete, err)
		}
		*bp = chunk[:0]
		start := off - i*l.chunkBytes
		stop := min(int64(len(chunk)), end-i*l.chunkBytes)
		if start >= stop {
			err := fmt.Errorf("cache: disk chunk %d of %d is short: %w", i, l.gen, errCorruptRecord)
			d.readFailed(l.entry, err)
			return written, fmt.Errorf("%w: %w", ErrIncomplete, err)
		}
		n, err := w.Write(chunk[start:stop])
		written += int64(n)
		off += int64(n)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// chunkBuf returns a pooled buffer of at least n bytes.
func (d *disk) chunkBuf(n int64) *[]byte {
	bp := d.chunkBufs.Get().(*[]byte)
	if int64(cap(*bp)) < n {
		b := make([]byte, n)
		bp = &b
	}
	return bp
}
