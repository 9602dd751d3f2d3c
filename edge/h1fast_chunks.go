package edge

import (
	"errors"

	"golang.org/x/net/http/httpguts"
)

// The chunked body check: net/http's chunked reader is lenient where RFC
// 9112 §7.1 is not. It accepts a bare ";" or an invalid token as a chunk
// extension, whitespace after the chunk size, control characters in an
// extension, and a bare LF ending a line, and it waits forever for a
// trailer section ended by a bare LF. The body is re-framed before it
// goes upstream, so the origin never sees those bytes; but a proxy in
// front of us may frame the same bytes another way, and each of these is
// a known request-smuggling lever. nginx and Varnish refuse them, and so
// do we: every chunked body net/http reads from a connection the fast
// path handed over passes a chunkChecker (run by the connection's
// streamTracker, h1fast_track.go), which fails the read that brings a
// malformed byte, so the request ends in a 400 (see trackerRefused) and
// the connection is closed (ServeHTTP closes after any chunked request).

// errBadChunk is the read error of a malformed chunked body.
var errBadChunk = errors.New("edge: malformed chunked request body")

// maxChunkSizeDigits bounds a chunk size: 16 hex digits fill 64 bits.
const maxChunkSizeDigits = 16

// chunkState is where a chunkChecker is in the body's grammar.
type chunkState uint8

const (
	chSize         chunkState = iota // chunk-size: 1*HEXDIG
	chSizeWS                         // BWS after the size: only ";" may follow
	chExtName0                       // BWS, then the first tchar of chunk-ext-name
	chExtName                        // chunk-ext-name
	chExtNameWS                      // BWS after a name: "=" or ";"
	chExtVal0                        // BWS, then a token or a quoted-string
	chExtTok                         // chunk-ext-val as a token
	chExtQuoted                      // inside a quoted-string
	chExtQuotedEsc                   // after a backslash in it
	chExtValEnd                      // after a closing quote
	chExtValWS                       // BWS after a value: only ";" may follow
	chLF                             // CR seen at the end of a chunk line
	chData                           // chunk-data
	chDataCR                         // CRLF after chunk-data
	chDataLF                         //
	chTrailer0                       // the start of a trailer line, or the final CRLF
	chTrailerName                    // field-name
	chTrailerValue                   // field-value to CR
	chTrailerLF                      // CR seen at the end of a trailer line
	chEndLF                          // CR seen on the final empty line
	chDone                           // the body is whole; what follows is not checked
	chBad                            // a malformed byte was seen
)

// chunkChecker follows a chunked body byte by byte (chunk data in bulk)
// and reports the first byte RFC 9112 §7.1 does not allow.
type chunkChecker struct {
	st     chunkState
	digits int    // hex digits of the current size
	size   uint64 // the current chunk's size, then what is left of its data
}

// feed checks the next bytes of the body, and reports how many of them
// belong to it: all, or those up to its end (what follows is not
// checked).
func (k *chunkChecker) feed(b []byte) (int, error) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch k.st {
		case chDone:
			return i, nil
		case chData:
			n := uint64(len(b) - i)
			if n > k.size {
				n = k.size
			}
			k.size -= n
			i += int(n) - 1
			if k.size == 0 {
				k.st = chDataCR
			}
			continue
		case chSize:
			switch {
			case hexVal(c) >= 0:
				k.digits++
				if k.digits > maxChunkSizeDigits {
					return i, k.bad()
				}
				k.size = k.size<<4 | uint64(hexVal(c))
			case k.digits == 0:
				return i, k.bad()
			case c == ';':
				k.st = chExtName0
			case c == ' ' || c == '\t':
				k.st = chSizeWS
			case c == '\r':
				k.st = chLF
			default:
				return i, k.bad()
			}
		case chSizeWS, chExtValWS:
			switch c {
			case ' ', '\t':
			case ';':
				k.st = chExtName0
			default:
				return i, k.bad()
			}
		case chExtName0:
			switch {
			case c == ' ' || c == '\t':
			case isTchar(c):
				k.st = chExtName
			default:
				return i, k.bad()
			}
		case chExtName:
			switch {
			case isTchar(c):
			case c == '=':
				k.st = chExtVal0
			case c == ';':
				k.st = chExtName0
			case c == ' ' || c == '\t':
				k.st = chExtNameWS
			case c == '\r':
				k.st = chLF
			default:
				return i, k.bad()
			}
		case chExtNameWS:
			switch c {
			case ' ', '\t':
			case '=':
				k.st = chExtVal0
			case ';':
				k.st = chExtName0
			default:
				return i, k.bad()
			}
		case chExtVal0:
			switch {
			case c == ' ' || c == '\t':
			case c == '"':
				k.st = chExtQuoted
			case isTchar(c):
				k.st = chExtTok
			default:
				return i, k.bad()
			}
		case chExtTok:
			switch {
			case isTchar(c):
			case c == ';':
				k.st = chExtName0
			case c == ' ' || c == '\t':
				k.st = chExtValWS
			case c == '\r':
				k.st = chLF
			default:
				return i, k.bad()
			}
		case chExtQuoted:
			switch {
			case c == '"':
				k.st = chExtValEnd
			case c == '\\':
				k.st = chExtQuotedEsc
			case c == '\t' || (c >= ' ' && c != 0x7f):
			default:
				return i, k.bad()
			}
		case chExtQuotedEsc:
			if c != '\t' && (c < ' ' || c == 0x7f) {
				return i, k.bad()
			}
			k.st = chExtQuoted
		case chExtValEnd:
			switch c {
			case ';':
				k.st = chExtName0
			case ' ', '\t':
				k.st = chExtValWS
			case '\r':
				k.st = chLF
			default:
				return i, k.bad()
			}
		case chLF:
			if c != '\n' {
				return i, k.bad()
			}
			if k.size == 0 {
				k.st = chTrailer0 // the last chunk
			} else {
				k.st = chData
			}
		case chDataCR:
			if c != '\r' {
				return i, k.bad()
			}
			k.st = chDataLF
		case chDataLF:
			if c != '\n' {
				return i, k.bad()
			}
			k.st, k.digits = chSize, 0
		case chTrailer0:
			switch {
			case c == '\r':
				k.st = chEndLF
			case isTchar(c):
				k.st = chTrailerName
			default: // obs-fold, a bare LF, anything else
				return i, k.bad()
			}
		case chTrailerName:
			switch {
			case isTchar(c):
			case c == ':':
				k.st = chTrailerValue
			default:
				return i, k.bad()
			}
		case chTrailerValue:
			switch {
			case c == '\r':
				k.st = chTrailerLF
			case c == '\t' || (c >= ' ' && c != 0x7f):
			default:
				return i, k.bad()
			}
		case chTrailerLF:
			if c != '\n' {
				return i, k.bad()
			}
			k.st = chTrailer0
		case chEndLF:
			if c != '\n' {
				return i, k.bad()
			}
			k.st = chDone
		case chBad:
			return i, errBadChunk
		}
	}
	if k.st == chBad {
		return len(b), errBadChunk
	}
	return len(b), nil
}

// bad marks the body malformed for good.
func (k *chunkChecker) bad() error {
	k.st = chBad
	return errBadChunk
}

// hexVal is the value of a hex digit, or -1.
func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// isTchar reports whether c may be in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool { return httpguts.IsTokenRune(rune(c)) }
