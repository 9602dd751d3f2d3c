package cache

import "time"

// Object is one stored response: its Meta and its complete body. An Object
// is immutable once stored; a 304 freshening stores a new Object that shares
// the old body.
type Object struct {
	Meta Meta
	Body []byte
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

// cost is what an entry counts against the memory cap, in bytes: the body,
// the header strings and a fixed overhead for the structures around them.
func (e *entry) cost() int64 {
	const overhead = 256
	if e.obj == nil {
		return overhead
	}
	n := int64(len(e.obj.Body)) + overhead
	for k, vs := range e.obj.Meta.Header {
		n += int64(len(k)) + 16
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}
