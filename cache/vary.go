package cache

import (
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
)

// VaryFields returns the canonical field names listed by the Vary lines
// of a response header, sorted and deduplicated, and whether any member
// is "*" (RFC 9110 §12.5.5: the response varies on something outside the
// request, so it can never be selected for another request). Members that
// are not tokens are dropped. fields is nil when there is nothing to vary on.
func VaryFields(h http.Header) (fields []string, star bool) {
	for _, line := range h["Vary"] {
		for line != "" {
			var el string
			el, line, _ = strings.Cut(line, ",")
			el = strings.Trim(el, " \t")
			switch {
			case el == "*":
				star = true
			case isToken(el):
				fields = append(fields, textproto.CanonicalMIMEHeaderKey(el))
			}
		}
	}
	if len(fields) > 1 {
		slices.Sort(fields)
		fields = slices.Compact(fields)
	}
	return fields, star
}

// VaryKey encodes the values that req carries for fields (as returned by
// [VaryFields]) so that two requests select the same stored response
// exactly when their keys are equal (RFC 9111 §4.1).
//
// Normalisation: a field's lines are joined with ","; its list members
// are trimmed of OWS and empty members dropped, so "a, b" and "a,b" and
// two lines "a" and "b" are the same. Case is kept. Accept-Encoding is
// reduced to the set of codings among br, deflate, gzip (x-gzip) and
// zstd that it accepts with q > 0 ("*" accepting those it does not name),
// sorted and comma-joined, or "identity" when it accepts none of them: a
// cache only ever holds those encodings, so finer distinctions just split
// the cache.
//
// Encoding: per field, in order, "-" when the request lacks the field,
// otherwise the normalised value's length in decimal, ":", and the value.
// The length prefix makes the key unambiguous whatever the values hold,
// and an absent field differs from an empty one ("-" vs "0:"). Keys are
// only comparable between requests evaluated against the same fields.
func VaryKey(fields []string, req http.Header) string {
	if len(fields) == 0 {
		return ""
	}
	var stack [128]byte
	b := stack[:0]
	for _, f := range fields {
		lines, ok := req[f]
		if !ok {
			b = append(b, '-')
			continue
		}
		if f == "Accept-Encoding" {
			b = appendLengthPrefixed(b, acceptedCodings(lines))
			continue
		}
		n := normalisedListLen(lines)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ':')
		b = appendNormalisedList(b, lines)
	}
	return string(b)
}

// appendLengthPrefixed appends len(s) ":" s.
func appendLengthPrefixed(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// normalisedListLen is the length appendNormalisedList will append.
func normalisedListLen(lines []string) int {
	n, first := 0, true
	eachMember(lines, func(m string) {
		if !first {
			n++
		}
		n += len(m)
		first = false
	})
	return n
}

// appendNormalisedList appends the non-empty, OWS-trimmed members of
// lines joined by ",".
func appendNormalisedList(b []byte, lines []string) []byte {
	first := true
	eachMember(lines, func(m string) {
		if !first {
			b = append(b, ',')
		}
		b = append(b, m...)
		first = false
	})
	return b
}

// eachMember calls fn with each non-empty OWS-trimmed comma-separated
// member of lines, in order.
func eachMember(lines []string, fn func(string)) {
	for _, line := range lines {
		for line != "" {
			var m string
			m, line, _ = strings.Cut(line, ",")
			if m = strings.Trim(m, " \t"); m != "" {
				fn(m)
			}
		}
	}
}

// codingBits are the content codings VaryKey distinguishes, in the
// sorted order of their names.
const (
	codingBr = 1 << iota
	codingDeflate
	codingGzip
	codingZstd
	codingAll = codingBr | codingDeflate | codingGzip | codingZstd
)

// acceptedCodings reduces Accept-Encoding lines to the normalised form
// described at [VaryKey]. It returns constant strings only, so it never
// allocates.
func acceptedCodings(lines []string) string {
	var yes, no int
	star, starOK := false, false
	eachMember(lines, func(m string) {
		coding, params, _ := strings.Cut(m, ";")
		coding = strings.Trim(coding, " \t")
		ok := qPositive(params)
		var bit int
		switch {
		case strings.EqualFold(coding, "br"):
			bit = codingBr
		case strings.EqualFold(coding, "deflate"):
			bit = codingDeflate
		case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
			bit = codingGzip
		case strings.EqualFold(coding, "zstd"):
			bit = codingZstd
		case coding == "*":
			star, starOK = true, ok
			return
		default:
			return
		}
		if ok {
			yes |= bit
		} else {
			no |= bit
		}
	})
	set := yes &^ no // "gzip;q=0, gzip" is contradictory: refusal wins
	if star && starOK {
		set |= codingAll &^ no
	}
	return codingSetName(set)
}

// codingSetName names a subset of the coding bits, in sorted order.
func codingSetName(set int) string {
	switch set {
	case codingBr:
		return "br"
	case codingDeflate:
		return "deflate"
	case codingBr | codingDeflate:
		return "br,deflate"
	case codingGzip:
		return "gzip"
	case codingBr | codingGzip:
		return "br,gzip"
	case codingDeflate | codingGzip:
		return "deflate,gzip"
	case codingBr | codingDeflate | codingGzip:
		return "br,deflate,gzip"
	case codingZstd:
		return "zstd"
	case codingBr | codingZstd:
		return "br,zstd"
	case codingDeflate | codingZstd:
		return "deflate,zstd"
	case codingBr | codingDeflate | codingZstd:
		return "br,deflate,zstd"
	case codingGzip | codingZstd:
		return "gzip,zstd"
	case codingBr | codingGzip | codingZstd:
		return "br,gzip,zstd"
	case codingDeflate | codingGzip | codingZstd:
		return "deflate,gzip,zstd"
	case codingAll:
		return "br,deflate,gzip,zstd"
	}
	return "identity"
}

// qPositive reports whether the parameters of an Accept-Encoding member
// give a q value above zero. A missing q means 1; a q with no non-zero
// digit ("0", "0.000", or garbage) means 0.
func qPositive(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, val, ok := strings.Cut(strings.Trim(p, " \t"), "=")
		if !ok || !strings.EqualFold(strings.TrimRight(name, " \t"), "q") {
			continue
		}
		val = strings.Trim(val, " \t")
		for i := 0; i < len(val); i++ {
			if '1' <= val[i] && val[i] <= '9' {
				return true
			}
		}
		return false
	}
	return true
}
