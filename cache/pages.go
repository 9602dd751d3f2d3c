package cache

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
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
// The file is also mapped read-only into the process ([Pages.Bytes]), for
// readers that need the bytes in memory (TLS, HTTP/2, [Object.WriteBody]).
// The mapping is removed and the file closed when the Pages becomes
// unreachable: hold the Pages, not only its descriptor or a slice of its
// bytes, for as long as either is used. A slice used after that faults.
type Pages struct {
	f    *os.File
	fd   int    // f's, read once
	data []byte // the file, mapped
}

// pageRes is what a Pages' cleanup releases.
type pageRes struct {
	f    *os.File
	data []byte
}

// pageFiles is a store's account of the memory files it keeps.
type pageFiles struct {
	min   int64        // the smallest body kept in one; 0: none is
	limit int64        // the most files kept at once
	open  atomic.Int64 // files open now
	bytes atomic.Int64 // their bytes
}

// FD returns the descriptor of the memory file holding the body, bytes
// [0, Len()), read-only in effect; valid while p is reachable.
func (p *Pages) FD() int { return p.fd }

// Len returns the body's length.
func (p *Pages) Len() int64 { return int64(len(p.data)) }

// Bytes returns the body, mapped from its file: read-only (a write
// faults), and valid only while p is reachable (see [Pages]).
func (p *Pages) Bytes() []byte { return p.data }

// WriteRange writes bytes [off, end) of the body to w, for a writer
// sendfile cannot serve (TLS).
func (p *Pages) WriteRange(w io.Writer, off, end int64) (int64, error) {
	return p.writeBody(context.Background(), w, off, end, nil)
}

// bodySize is the body's length, as for every body source.
func (p *Pages) bodySize() int64 { return p.Len() }

// pageWrite is the most writeBody hands a writer at once, so that a
// cancelled context is seen between writes.
const pageWrite = 256 << 10

// writeBody writes bytes [off, end) of the body to w (end < 0: to the
// end) from the mapping; flush is never needed, the body being complete.
// w must not keep the slices it is given (io.Writer's rule): p is only
// held until writeBody returns.
func (p *Pages) writeBody(ctx context.Context, w io.Writer, off, end int64, _ func()) (int64, error) {
	defer runtime.KeepAlive(p)
	if end < 0 || end > p.Len() {
		end = p.Len()
	}
	var written int64
	for off < end {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		k := min(end-off, pageWrite)
		m, err := w.Write(p.data[off : off+k])
		written += int64(m)
		if err != nil {
			return written, err
		}
		off += k
	}
	return written, nil
}

// bytes returns a copy of the whole body.
func (p *Pages) bytes() []byte {
	b := bytes.Clone(p.data)
	runtime.KeepAlive(p)
	return b
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
	f, data, err := sealedFile(body)
	if err != nil {
		pf.open.Add(-1)
		return nil
	}
	pf.bytes.Add(n)
	p := &Pages{f: f, fd: int(f.Fd()), data: data}
	runtime.AddCleanup(p, func(r pageRes) {
		unmap(r.data)
		r.f.Close()
		pf.open.Add(-1)
		pf.bytes.Add(-n)
	}, pageRes{f, data})
	return p
}
