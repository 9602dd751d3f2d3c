package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// metaVersion1 is the first byte of the version 1 encoding of a Meta.
//
// NB: the version 1 layout is frozen; golden bytes in codec_test.go pin
// it and must keep decoding forever. To change the layout, add version 2
// (a new encoder, a decoder branch, a new golden test) and keep decoding 1.
const metaVersion1 = 1

// ErrCorruptMeta is wrapped by every [DecodeMeta] error: the bytes are
// truncated, garbage, or of an unknown version. The disk tier treats such
// an entry as a miss.
var ErrCorruptMeta = errors.New("corrupt meta")

// Flag bits of the version 1 encoding.
const (
	flagHeuristic = 1 << iota
	flagMustRevalidate
	flagNoCache
	flagsKnown = flagHeuristic | flagMustRevalidate | flagNoCache
)

// AppendBinary appends the version 1 encoding of m to dst, for the disk
// tier. The layout, after the version byte, in this order: status
// (uvarint); request and response times (varint Unix nanoseconds, 0 for
// the zero time; so only instants between the years 1678 and 2262 are
// representable); corrected initial age, lifetime, stale-while-revalidate
// and stale-if-error (varint nanoseconds); a flags byte (1 Heuristic, 2
// MustRevalidate, 4 NoCache); ETag and Last-Modified (strings); body size
// (varint); Vary field count and names (uvarint, strings); Vary key
// (string); then Header and Targeted, each a name count followed by,
// per name in sorted order, the name, a value count and the values.
// Strings are a uvarint length and the bytes. The encoding is
// deterministic: equal Metas encode to equal bytes.
func (m *Meta) AppendBinary(dst []byte) []byte {
	dst = append(dst, metaVersion1)
	dst = binary.AppendUvarint(dst, uint64(m.Status))
	dst = binary.AppendVarint(dst, unixNanos(m.RequestTime))
	dst = binary.AppendVarint(dst, unixNanos(m.ResponseTime))
	for _, d := range [...]time.Duration{m.CorrectedInitialAge, m.Lifetime, m.StaleWhileRevalidate, m.StaleIfError} {
		dst = binary.AppendVarint(dst, int64(d))
	}
	var flags byte
	if m.Heuristic {
		flags |= flagHeuristic
	}
	if m.MustRevalidate {
		flags |= flagMustRevalidate
	}
	if m.NoCache {
		flags |= flagNoCache
	}
	dst = append(dst, flags)
	dst = appendString(dst, m.ETag)
	dst = appendString(dst, m.LastModified)
	dst = binary.AppendVarint(dst, m.BodySize)
	dst = binary.AppendUvarint(dst, uint64(len(m.VaryFields)))
	for _, f := range m.VaryFields {
		dst = appendString(dst, f)
	}
	dst = appendString(dst, m.VaryKey)
	dst = appendHeader(dst, m.Header)
	dst = appendHeader(dst, m.Targeted)
	return dst
}

func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendHeader(dst []byte, h http.Header) []byte {
	var stack [32]string
	names := stack[:0]
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, k := range names {
		dst = appendString(dst, k)
		vs := h[k]
		dst = binary.AppendUvarint(dst, uint64(len(vs)))
		for _, v := range vs {
			dst = appendString(dst, v)
		}
	}
	return dst
}

// DecodeMeta decodes bytes written by [Meta.AppendBinary]. Every error
// wraps [ErrCorruptMeta]; no input makes it panic. The strings of the
// result share one copy of b, which the caller may reuse afterwards.
// Times decode in UTC; empty headers and Vary lists decode as nil.
func DecodeMeta(b []byte) (Meta, error) {
	if len(b) == 0 {
		return Meta{}, fmt.Errorf("cache: decode meta: empty: %w", ErrCorruptMeta)
	}
	if b[0] != metaVersion1 {
		return Meta{}, fmt.Errorf("cache: decode meta: unknown version %d: %w", b[0], ErrCorruptMeta)
	}
	r := metaReader{s: string(b), i: 1}
	var m Meta
	status := r.uvarint()
	if status > 999 {
		r.fail("status")
	}
	m.Status = int(status)
	m.RequestTime = r.time()
	m.ResponseTime = r.time()
	m.CorrectedInitialAge = time.Duration(r.varint())
	m.Lifetime = time.Duration(r.varint())
	m.StaleWhileRevalidate = time.Duration(r.varint())
	m.StaleIfError = time.Duration(r.varint())
	flags := r.byte()
	if flags&^flagsKnown != 0 {
		r.fail("flags")
	}
	m.Heuristic = flags&flagHeuristic != 0
	m.MustRevalidate = flags&flagMustRevalidate != 0
	m.NoCache = flags&flagNoCache != 0
	m.ETag = r.string()
	m.LastModified = r.string()
	m.BodySize = r.varint()
	if n := r.count(); n > 0 {
		m.VaryFields = make([]string, n)
		for i := range m.VaryFields {
			m.VaryFields[i] = r.string()
		}
	}
	m.VaryKey = r.string()
	m.Header = r.header()
	m.Targeted = r.header()
	if r.err == nil && r.i != len(r.s) {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return Meta{}, r.err
	}
	return m, nil
}

// metaReader reads the version 1 encoding. After the first error every
// read returns zero values, and err keeps that first error.
type metaReader struct {
	s   string
	i   int
	err error
}

func (r *metaReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("cache: decode meta: bad %s at offset %d: %w", what, r.i, ErrCorruptMeta)
	}
	r.i = len(r.s)
}

func (r *metaReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint([]byte(r.s[r.i:min(len(r.s), r.i+binary.MaxVarintLen64)]))
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.i += n
	return v
}

func (r *metaReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint([]byte(r.s[r.i:min(len(r.s), r.i+binary.MaxVarintLen64)]))
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.i += n
	return v
}

func (r *metaReader) byte() byte {
	if r.err != nil || r.i >= len(r.s) {
		r.fail("byte")
		return 0
	}
	r.i++
	return r.s[r.i-1]
}

func (r *metaReader) time() time.Time {
	n := r.varint()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// count reads an element count, refusing counts that could not fit in
// the remaining bytes (every element takes at least one byte), so garbage
// cannot make the decoder allocate much.
func (r *metaReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.s)-r.i) {
		r.fail("count")
		return 0
	}
	return int(n)
}

func (r *metaReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.s)-r.i) {
		r.fail("string length")
		return ""
	}
	s := r.s[r.i : r.i+int(n)]
	r.i += int(n)
	return s
}

// header reads a name count and, per name, the name, a value count and
// the values. Names must be strictly increasing, as AppendBinary writes
// them.
func (r *metaReader) header() http.Header {
	n := r.count()
	if n == 0 {
		return nil
	}
	h := make(http.Header, n)
	prev := ""
	for i := 0; i < n && r.err == nil; i++ {
		name := r.string()
		if i > 0 && name <= prev {
			r.fail("header order")
			return nil
		}
		prev = name
		vs := make([]string, r.count())
		for j := range vs {
			vs[j] = r.string()
		}
		h[name] = vs
	}
	return h
}
