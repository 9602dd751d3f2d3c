package cache

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// ErrIncomplete is wrapped by [Object.WriteBody] when the body cannot be
// completed: its fill failed half-way, or its stored copy went away or
// failed its checksum. The response already started must be cut short
// (aborted), never ended as if complete.
var ErrIncomplete = errors.New("cache: body incomplete")

// Object is one stored response: its Meta and its body. An Object is
// immutable once stored or shared; a 304 freshening stores a new Object
// made with [Object.WithMeta], which shares the body.
//
// The body is in memory (Body), or on disk, or still arriving from
// upstream (a fill streamed to every reader as it comes). Write it with
// [Object.WriteBody], which handles all three; Body alone is only the
// whole body when [Object.InMemory] is true.
type Object struct {
	Meta Meta
	// Body is the complete body when InMemory is true; nil otherwise.
	Body []byte

	// Memo lets the server keep header lines it derives from the object
	// for one whole second of its Age, so that hits in that second
	// allocate none; Heads keeps what it derives once for the object's
	// whole life (see [Heads]). The cache never reads them.
	Memo  atomic.Pointer[ServeMemo]
	Heads atomic.Pointer[Heads]

	src bodySource // nil when Body is the whole body
	loc *diskLoc   // where the body is on disk, if it is
}

// ServeMemo is what a server derived from an Object for the hits of one
// second of its age. Its slices are shared by those hits and never
// modified.
type ServeMemo struct {
	// AgeSeconds is the Age, in whole seconds, the lines are for.
	AgeSeconds int64
	// Age and CacheStatus are the header lines of a plain hit.
	Age, CacheStatus []string
	// H2 are the same two fields as the HTTP/2 server writes them, name
	// and value pairs ("age", "cache-status"); a value HTTP/2 cannot
	// carry is left out.
	H2 []string
}

// Heads is what a server derived once from an Object in memory for the
// plain hits its fast paths answer: the response heads but for the two
// fields that change with every second of age, Age and Cache-Status,
// which each hit writes into them. It is shared and never modified.
type Heads struct {
	// H1 is the HTTP/1.1 head of a plain hit, and H1NotModified that of
	// the 304 answering a client's matching conditional.
	H1, H1NotModified H1Head
	// StatusPrefix is what comes before the server's own entry in the
	// Cache-Status line: the upstream entries, each followed by ", ".
	StatusPrefix []byte
	// H2 are the header fields of a plain hit as the HTTP/2 server
	// writes them (name and value pairs, lower-case, sorted), without
	// Content-Length, Date, Age and Cache-Status; nil when the response
	// must go through a handler. H2Length is its Content-Length, and
	// H2NotModified the fields of the 304: H2 without Content-Type.
	H2, H2NotModified []string
	H2Length          string
}

// H1Head is an HTTP/1.1 response head, from the status line to the last
// field, without the empty line that ends it and without the Age and
// Cache-Status lines: they go at AgeAt and StatusAt (AgeAt <= StatusAt),
// where their names sort.
//
// The head of a 200 also says how to make the 206 that answers a Range
// from it: its Content-Length line is Head[LengthAt:LengthEnd], and a
// Content-Range line goes at RangeAt (StatusAt <= LengthAt < LengthEnd
// <= RangeAt). RangeAt is 0 in other heads, and in one whose stored
// header has a Content-Range of its own.
type H1Head struct {
	Head                         []byte
	AgeAt, StatusAt              int
	LengthAt, LengthEnd, RangeAt int
}

// bodySource is a body that is not (wholly) in memory.
type bodySource interface {
	// bodySize is the body's length, or -1 while it is not known.
	bodySize() int64
	// writeBody writes body bytes [off, end) to w (end < 0: to the end),
	// waiting for bytes still to arrive and calling flush, if not nil,
	// before each wait.
	writeBody(ctx context.Context, w io.Writer, off, end int64, flush func()) (int64, error)
}

// InMemory reports whether Body holds the whole body.
func (o *Object) InMemory() bool { return o.src == nil }

// Pages returns the memory file holding the body when the memory tier
// keeps it in one, else nil; Body is nil then.
func (o *Object) Pages() *Pages {
	p, _ := o.src.(*Pages)
	return p
}

// Size returns the body's length in bytes, or -1 while a body of
// unannounced length is still arriving.
func (o *Object) Size() int64 {
	if o.src == nil {
		return int64(len(o.Body))
	}
	return o.src.bodySize()
}

// WithMeta returns an Object with meta and o's body (in memory, on disk,
// or arriving), for storing a response freshened by a 304: Put then
// rewrites the meta alone.
func (o *Object) WithMeta(meta Meta) *Object {
	return &Object{Meta: meta, Body: o.Body, src: o.src, loc: o.loc}
}

// WriteBody writes n body bytes from offset off to w (n < 0: to the end)
// and returns how many it wrote. A body still arriving is written as it
// comes: WriteBody waits for the bytes, calling flush (if not nil) before
// each wait so that the client gets what is there, until ctx is done. An
// error wrapping [ErrIncomplete] means the body cannot be completed; any
// other is w's or ctx's.
func (o *Object) WriteBody(ctx context.Context, w io.Writer, off, n int64, flush func()) (int64, error) {
	if o.src == nil {
		end := int64(len(o.Body))
		if n >= 0 {
			end = min(end, off+n)
		}
		if off >= end {
			return 0, nil
		}
		m, err := w.Write(o.Body[off:end])
		return int64(m), err
	}
	end := int64(-1)
	if n >= 0 {
		end = off + n
	}
	if size := o.src.bodySize(); size >= 0 && (end < 0 || end > size) {
		end = size
	}
	if end >= 0 && off >= end {
		return 0, nil
	}
	return o.src.writeBody(ctx, w, off, end, flush)
}

// touch records a hit for the disk tier's eviction.
func (o *Object) touch() {
	if l := o.loc; l != nil {
		l.entry.touch()
	}
}

// live reports whether the object can still be served: its body is in
// memory (in the heap or a memory file) or arriving, or its disk copy is
// still indexed.
func (o *Object) live() bool {
	return o.src == nil || o.loc == nil || o.Pages() != nil || !o.loc.entry.dead.Load()
}

// entryKind tells apart what the memory tier keeps under a key.
type entryKind uint8

const (
	kindObject     entryKind = iota // a response
	kindVaryMarker                  // the Vary fields of a URL; variants live under derived keys
	kindPass                        // hit-for-miss: the URL was uncacheable recently
)

// entry is the value the memory tier keeps under a key.
type entry struct {
	kind   entryKind
	obj    *Object  // kindObject
	fields []string // kindVaryMarker: canonical Vary field names
	gen    uint64   // kindVaryMarker: generation mixed into variant keys
	until  time.Time
}

// Per-entry overheads of the memory tier, in bytes, measured with a
// typical header (TestEntryCostCoversHeap, TestHeadsWithinReserve).
const (
	// entryOverhead is what an entry takes beside its body and header
	// strings: the Object and its Meta, the header map, the entry, and
	// the memory tier's own structures for it.
	entryOverhead = 640
	// headsOverhead is the fixed part of the [Heads] a server may make
	// for an object (the struct and its slice headers) and of the
	// per-second [ServeMemo] of its hits.
	headsOverhead = 450
	// markerCost is what a Vary marker or a hit-for-miss entry takes.
	markerCost = 256
)

// headerCost is what a stored header counts: its strings, and a slice
// or string header for each.
func headerCost(h map[string][]string) int64 {
	var n int64
	for k, vs := range h {
		n += int64(len(k)) + 16
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}

// HeadsReserve is what the memory tier counts, for an object with header
// h, towards the [Heads] a server may make for it at its first fast hit:
// two HTTP/1.1 heads and two HTTP/2 field lists, each about as large as
// the header itself. It is counted when the object is stored, because
// heads can come any time after and must fit under the cap too.
func HeadsReserve(h map[string][]string) int64 {
	return 2*headerCost(h) + headsOverhead
}

// cost is what an entry counts against the memory cap, in bytes: the body
// if it is in memory, the header strings, a fixed overhead for the
// structures around them, and for a body in memory the reserve for the
// heads of its hits.
func (e *entry) cost() int64 {
	if e.obj == nil {
		return markerCost
	}
	h := e.obj.Meta.Header
	n := int64(len(e.obj.Body)) + entryOverhead + headerCost(h)
	p := e.obj.Pages()
	if p != nil {
		n += p.Len()
	}
	if e.obj.InMemory() || p != nil { // only hits on bodies in memory get heads
		n += HeadsReserve(h)
	}
	return n
}
