package cache

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// Pages is a body the memory tier keeps outside the Go heap, in a memory
// file of its own (Linux memfd_create(2)), sealed against any change once
// written. A server writes it to a plain TCP socket with sendfile(2): the
// kernel hands the file's pages to the socket instead of copying the
// bytes, as nginx's sendfile does from its cache files. Because the file
// can never change, a page the kernel still holds after the call has
// returned (queued, or being retransmitted) always has the body's bytes,
// even once the object is evicted and the file closed.
//
// Everything else reads the body through [Object.WriteBody], which copies
// it out in chunks. The file is closed when the Pages becomes unreachable:
// hold the Pages, not only its descriptor, while using the descriptor.
type Pages struct {
	f    *os.File
	fd   int
	n    int64
	bufs *sync.Pool // of *pageChunk, the store's
}

// pageChunk is the buffer [Pages.writeBody] copies through.
type pageChunk [64 << 10]byte

// pageFiles is a store's account of the memory files it keeps.
type pageFiles struct {
	min   int64        // the smallest body kept in one; 0: none is
	limit int64        // the most files kept at once
	open  atomic.Int64 // files open now
	bytes atomic.Int64 // their bytes
	bufs  sync.Pool    // of *pageChunk
}

// FD returns the descriptor of the memory file holding the body, bytes
// [0, Len()), read-only in effect; valid while p is reachable.
func (p *Pages) FD() int { return p.fd }

// Len returns the body's length.
func (p *Pages) Len() int64 { return p.n }

// WriteRange writes bytes [off, end) of the body to w, copied out
// through a pooled buffer, for a writer sendfile cannot serve (TLS).
func (p *Pages) WriteRange(w io.Writer, off, end int64) (int64, error) {
	return p.writeBody(context.Background(), w, off, end, nil)
}

// bodySize is the body's length, as for every body source.
func (p *Pages) bodySize() int64 { return p.n }

// writeBody writes bytes [off, end) of the body to w (end < 0: to the
// end), copied through a buffer; flush is never needed, the body being
// complete.
func (p *Pages) writeBody(ctx context.Context, w io.Writer, off, end int64, _ func()) (int64, error) {
	if end < 0 || end > p.n {
		end = p.n
	}
	buf := p.bufs.Get().(*pageChunk)
	defer p.bufs.Put(buf)
	var written int64
	for off < end {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		k := int(min(end-off, int64(len(buf))))
		if m, err := p.f.ReadAt(buf[:k], off); m < k {
			return written, fmt.Errorf("%w: reading its memory file: %v", ErrIncomplete, err)
		}
		m, err := w.Write(buf[:k])
		written += int64(m)
		if err != nil {
			return written, err
		}
		off += int64(k)
	}
	return written, nil
}

// bytes returns a copy of the whole body.
func (p *Pages) bytes() ([]byte, error) {
	b := make([]byte, p.n)
	if m, err := p.f.ReadAt(b, 0); int64(m) < p.n {
		return nil, fmt.Errorf("cache: reading a memory file: %w", err)
	}
	return b, nil
}

// pagesFor returns body in a new memory file, or nil when it stays in the
// heap: too small, too many files open, or no memory file to be had.
func (pf *pageFiles) pagesFor(body []byte) *Pages {
	n := int64(len(body))
	if pf.min <= 0 || n < pf.min {
		return nil
	}
	if pf.open.Add(1) > pf.limit {
		pf.open.Add(-1)
		return nil
	}
	f, err := sealedFile(body)
	if err != nil {
		pf.open.Add(-1)
		return nil
	}
	pf.bytes.Add(n)
	p := &Pages{f: f, fd: int(f.Fd()), n: n, bufs: &pf.bufs}
	runtime.AddCleanup(p, func(f *os.File) {
		f.Close()
		pf.open.Add(-1)
		pf.bytes.Add(-n)
	}, f)
	return p
}
