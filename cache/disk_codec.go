package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// The disk tier's keys (see DESIGN.md). Every key starts with a one-byte
// prefix naming its kind; the order of the prefixes keeps each kind in one
// contiguous range, so start-up reads the markers alone.
const (
	prefixChunk  = 'c' // c gen(8) index(4) → one body chunk
	prefixMarker = 'k' // k hash(16)        → commit marker, also the index record
	prefixMeta   = 'm' // m gen(8)          → the object's metadata
	prefixIntent = 'w' // w gen(8)          → a write in progress
)

// Versions of the disk records: the first byte of every value. Each is
// frozen once released: to change a layout, add a version, keep decoding
// the old ones, and keep their golden test in disk_codec_test.go.
const (
	markerVersion1  = 1
	metaRecVersion1 = 1
	chunkVersion1   = 1
	intentVersion1  = 1
)

// Kinds of marker.
const (
	markerObject = 1 // a stored response
	markerVary   = 2 // the Vary fields of a URL; variants have their own markers
)

// recordHeader is the size of a record's version byte and checksum.
const recordHeader = 5

// errCorruptRecord is wrapped by every decode error of a disk record.
var errCorruptRecord = errors.New("cache: corrupt disk record")

// castagnoli is the CRC-32C table, hardware-accelerated on amd64 and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// keyHash names a storage key on disk: the first 16 bytes of its SHA-256,
// so crafted URLs cannot collide; the full key is kept in the meta record
// and checked on every lookup anyway.
type keyHash [16]byte

func hashKey(key string) keyHash {
	var buf [512]byte
	sum := sha256.Sum256(append(buf[:0], key...))
	return keyHash(sum[:16])
}

func markerKey(h keyHash) []byte {
	k := make([]byte, 0, 17)
	return append(append(k, prefixMarker), h[:]...)
}

func metaKey(gen uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 9), prefixMeta), gen)
}

func intentKey(gen uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 9), prefixIntent), gen)
}

// chunkKey appends the key of chunk i of object gen to dst.
func chunkKey(dst []byte, gen uint64, i uint32) []byte {
	dst = append(dst, prefixChunk)
	dst = binary.BigEndian.AppendUint64(dst, gen)
	return binary.BigEndian.AppendUint32(dst, i)
}

// keyGen returns the generation in a meta, intent or chunk key.
func keyGen(k []byte) (uint64, bool) {
	if len(k) < 9 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:9]), true
}

// frame appends a record: version, CRC-32C of the payload (little endian),
// payload. seal fills in the checksum once the payload is appended.
func frameStart(dst []byte, version byte) []byte {
	return append(dst, version, 0, 0, 0, 0)
}

// seal computes the checksum of the record that starts at rec[0].
func seal(rec []byte) []byte {
	binary.LittleEndian.PutUint32(rec[1:5], crc32.Checksum(rec[recordHeader:], castagnoli))
	return rec
}

// openRecord checks a record's version and checksum and returns its payload.
func openRecord(what string, rec []byte, version byte) ([]byte, error) {
	if len(rec) < recordHeader {
		return nil, fmt.Errorf("cache: decode %s: %d bytes: %w", what, len(rec), errCorruptRecord)
	}
	if rec[0] != version {
		return nil, fmt.Errorf("cache: decode %s: unknown version %d: %w", what, rec[0], errCorruptRecord)
	}
	if got, want := crc32.Checksum(rec[recordHeader:], castagnoli), binary.LittleEndian.Uint32(rec[1:5]); got != want {
		return nil, fmt.Errorf("cache: decode %s: checksum %08x, want %08x: %w", what, got, want, errCorruptRecord)
	}
	return rec[recordHeader:], nil
}

// marker is the decoded commit marker of a key: an object or a Vary marker.
type marker struct {
	kind  byte
	gen   uint64 // object: its generation; Vary: the generation in variant keys
	until time.Time
	// Objects only.
	bodySize   int64
	chunkBytes int64
	size       int64 // bytes the object accounts for on disk, keys included
	metaBytes  int64 // bytes of the meta record, key included
	stored     time.Time
	// Vary markers only.
	fields []string
}

// appendMarker appends the version 1 marker record: kind, generation
// (uvarint), until (varint Unix nanoseconds); then for an object body size,
// chunk size, accounted size, meta record size (uvarints) and stored time
// (varint Unix nanoseconds); for a Vary marker the field count and names.
func appendMarker(dst []byte, m *marker) []byte {
	start := len(dst)
	dst = frameStart(dst, markerVersion1)
	dst = append(dst, m.kind)
	dst = binary.AppendUvarint(dst, m.gen)
	dst = binary.AppendVarint(dst, unixNanos(m.until))
	switch m.kind {
	case markerObject:
		dst = binary.AppendUvarint(dst, uint64(m.bodySize))
		dst = binary.AppendUvarint(dst, uint64(m.chunkBytes))
		dst = binary.AppendUvarint(dst, uint64(m.size))
		dst = binary.AppendUvarint(dst, uint64(m.metaBytes))
		dst = binary.AppendVarint(dst, unixNanos(m.stored))
	case markerVary:
		dst = binary.AppendUvarint(dst, uint64(len(m.fields)))
		for _, f := range m.fields {
			dst = appendString(dst, f)
		}
	}
	seal(dst[start:])
	return dst
}

func decodeMarker(rec []byte) (marker, error) {
	p, err := openRecord("marker", rec, markerVersion1)
	if err != nil {
		return marker{}, err
	}
	r := metaReader{s: string(p)}
	var m marker
	m.kind = r.byte()
	m.gen = r.uvarint()
	m.until = r.time()
	switch m.kind {
	case markerObject:
		m.bodySize = int64(r.uvarint())
		m.chunkBytes = int64(r.uvarint())
		m.size = int64(r.uvarint())
		m.metaBytes = int64(r.uvarint())
		m.stored = r.time()
		if r.err == nil && (m.bodySize < 0 || m.chunkBytes <= 0 || m.size < m.bodySize+m.metaBytes) {
			r.fail("object sizes")
		}
	case markerVary:
		if n := r.count(); n > 0 {
			m.fields = make([]string, n)
			for i := range m.fields {
				m.fields[i] = r.string()
			}
		}
	default:
		r.fail("kind")
	}
	if r.err == nil && r.i != len(r.s) {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return marker{}, fmt.Errorf("cache: decode marker: %w: %w", r.err, errCorruptRecord)
	}
	return m, nil
}

// metaRecord is the decoded meta record of an object.
type metaRecord struct {
	key string // the full storage key
	// tags and purgeGen are reserved for purging by tag and by
	// generation; written empty for now.
	tags     []string
	purgeGen uint64
	meta     Meta
}

// appendMetaRecord appends the version 1 meta record: the storage key,
// the tag count and tags (strings), the purge generation (uvarint), then
// the Meta in its own versioned encoding ([Meta.AppendBinary]) to the end.
func appendMetaRecord(dst []byte, mr *metaRecord) []byte {
	start := len(dst)
	dst = frameStart(dst, metaRecVersion1)
	dst = appendString(dst, mr.key)
	dst = binary.AppendUvarint(dst, uint64(len(mr.tags)))
	for _, t := range mr.tags {
		dst = appendString(dst, t)
	}
	dst = binary.AppendUvarint(dst, mr.purgeGen)
	dst = mr.meta.AppendBinary(dst)
	seal(dst[start:])
	return dst
}

func decodeMetaRecord(rec []byte) (metaRecord, error) {
	p, err := openRecord("meta record", rec, metaRecVersion1)
	if err != nil {
		return metaRecord{}, err
	}
	r := metaReader{s: string(p)}
	var mr metaRecord
	mr.key = r.string()
	if n := r.count(); n > 0 {
		mr.tags = make([]string, n)
		for i := range mr.tags {
			mr.tags[i] = r.string()
		}
	}
	mr.purgeGen = r.uvarint()
	if r.err != nil {
		return metaRecord{}, fmt.Errorf("cache: decode meta record: %w: %w", r.err, errCorruptRecord)
	}
	mr.meta, err = DecodeMeta(p[r.i:])
	if err != nil {
		return metaRecord{}, fmt.Errorf("cache: decode meta record: %w: %w", err, errCorruptRecord)
	}
	return mr, nil
}

// appendIntent appends the version 1 intent record: the time the write
// started (varint Unix nanoseconds).
func appendIntent(dst []byte, started time.Time) []byte {
	start := len(dst)
	dst = frameStart(dst, intentVersion1)
	dst = binary.AppendVarint(dst, unixNanos(started))
	seal(dst[start:])
	return dst
}
