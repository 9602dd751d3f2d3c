package edge

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/popcache/popcache/cache"
)

// rangeKind is what a Range header field asks of a representation.
type rangeKind uint8

const (
	// rangeIgnored: serve the whole representation (200). Used for other
	// units, invalid syntax, a failed If-Range, unknown lengths, and for
	// several ranges: popcache does not send multipart/byteranges, which
	// RFC 9110 §14.2 allows (a server MAY ignore Range).
	rangeIgnored rangeKind = iota
	// rangeSatisfiable: serve one part (206).
	rangeSatisfiable
	// rangeUnsatisfiable: no byte of the range exists (416).
	rangeUnsatisfiable
)

// parseRange reads the value of a Range field (RFC 9110 §14.1.2) for a
// representation of size bytes. A satisfiable range is returned as its
// first byte and length; last positions past the end are clipped.
func parseRange(v string, size int64) (kind rangeKind, off, n int64) {
	v = strings.TrimSpace(v)
	const unit = "bytes="
	if len(v) < len(unit) || !strings.EqualFold(v[:len(unit)], unit) { // units are case-insensitive (§14.1)
		return rangeIgnored, 0, 0
	}
	spec := v[len(unit):]
	if strings.Contains(spec, ",") {
		return rangeIgnored, 0, 0
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return rangeIgnored, 0, 0
	}
	if first == "" { // suffix: the last n bytes
		k, ok := parseDigits(last)
		if !ok {
			return rangeIgnored, 0, 0
		}
		if k == 0 || size == 0 {
			return rangeUnsatisfiable, 0, 0
		}
		k = min(k, size)
		return rangeSatisfiable, size - k, k
	}
	f, ok := parseDigits(first)
	if !ok {
		return rangeIgnored, 0, 0
	}
	end := size - 1
	if last != "" {
		l, ok := parseDigits(last)
		if !ok || l < f {
			return rangeIgnored, 0, 0
		}
		end = min(end, l)
	}
	if f >= size {
		return rangeUnsatisfiable, 0, 0
	}
	return rangeSatisfiable, f, end - f + 1
}

// parseDigits parses a non-empty run of ASCII digits; values too large
// for int64 saturate, which is as good as infinite here.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-9)/10 {
			n = 1<<63 - 1
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// ifRangeMatches reports whether an If-Range value lets the Range apply
// to m (RFC 9110 §13.1.5): an entity tag must match m's strongly; a date
// must equal m's Last-Modified, itself a strong validator (at least a
// second older than m's Date).
func ifRangeMatches(v string, m *cache.Meta) bool {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		return m.ETag != "" && !strings.HasPrefix(m.ETag, "W/") && v == m.ETag
	}
	t, ok := cache.ParseHTTPDate(v, m.ResponseTime)
	if !ok || m.LastModified == "" {
		return false
	}
	lm, ok := cache.ParseHTTPDate(m.LastModified, m.ResponseTime)
	if !ok || !lm.Equal(t) {
		return false
	}
	date, ok := cache.ParseHTTPDate(firstValue(m.Header, "Date"), m.ResponseTime)
	return ok && date.Sub(lm) >= time.Second
}

func firstValue(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// applyRange answers a Range field on a 200 object: it returns the status
// and the part of the body to send (n < 0: all of it), with the header
// adjusted (see [rangeOf]).
func applyRange(h http.Header, req http.Header, obj *cache.Object) (code int, off, n int64) {
	code, off, n = rangeOf(req, obj)
	switch code {
	case http.StatusPartialContent:
		h["Content-Range"] = []string{contentRange(off, n, obj.Size())}
		h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
	case http.StatusRequestedRangeNotSatisfiable:
		h["Content-Range"] = []string{"bytes */" + strconv.FormatInt(obj.Size(), 10)}
		h["Content-Length"] = []string{"0"}
	}
	return code, off, n
}

// rangeOf is what the Range field of req asks of a 200 object: the
// status to answer, 200 (the Range ignored), 206 or 416, and for a 206 the
// part of the body to send (n < 0: all of it). A body of unknown length
// (still arriving unannounced), or one whose origin refused ranges, is
// sent whole.
func rangeOf(req http.Header, obj *cache.Object) (code int, off, n int64) {
	size := obj.Size()
	if size < 0 || rangesRefused(&obj.Meta) {
		return http.StatusOK, 0, -1
	}
	if ir := req["If-Range"]; len(ir) > 0 && !ifRangeMatches(ir[0], &obj.Meta) {
		return http.StatusOK, 0, -1
	}
	rv := req["Range"]
	if len(rv) != 1 { // several field lines make one list (RFC 9110 §5.3): several ranges, or invalid
		return http.StatusOK, 0, -1
	}
	switch kind, off, n := parseRange(rv[0], size); kind {
	case rangeSatisfiable:
		return http.StatusPartialContent, off, n
	case rangeUnsatisfiable:
		return http.StatusRequestedRangeNotSatisfiable, 0, 0
	}
	return http.StatusOK, 0, -1
}

// rangesRefused reports whether the stored response says Accept-Ranges:
// none (RFC 9110 §14.3). The cache then answers a Range with the whole
// representation, as nginx does without proxy_force_ranges, rather than
// send a 206 that contradicts the field it forwards.
func rangesRefused(m *cache.Meta) bool {
	for _, v := range m.Header["Accept-Ranges"] {
		if strings.EqualFold(strings.TrimSpace(v), "none") {
			return true
		}
	}
	return false
}

// contentRange is the Content-Range value of the n bytes at off of a
// representation of size bytes, made in one allocation.
func contentRange(off, n, size int64) string {
	var buf [72]byte // "bytes ", three int64s and their separators
	return string(appendContentRange(buf[:0], off, n, size))
}

// appendContentRange appends the Content-Range value of the n bytes at off
// of a representation of size bytes.
func appendContentRange(dst []byte, off, n, size int64) []byte {
	dst = append(dst, "bytes "...)
	dst = strconv.AppendInt(dst, off, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, off+n-1, 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, size, 10)
}
