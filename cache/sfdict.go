package cache

import "unicode/utf8"

// sfType is the type of a Structured Field value (RFC 9651 §3).
type sfType uint8

// The Structured Field types a dictionary member's value can have.
const (
	sfBoolean sfType = iota + 1
	sfInteger
	sfDecimal
	sfString
	sfToken
	sfByteSequence
	sfDate
	sfDisplayString
	sfInnerList
)

// sfMember is one member of a Structured Field Dictionary. Parameters
// are checked for syntax and dropped: no cache directive defines any.
type sfMember struct {
	key string
	typ sfType
	// num is the value of an Integer or a Date, and 1 or 0 for a Boolean.
	num int64
	// text is a String's content between the quotes, escapes still in
	// place when escaped is set; a Token's text; for the other types,
	// the raw text of the bare item.
	text    string
	escaped bool
}

// sfDictParser reads a Structured Field Dictionary (RFC 9651 §4.2.2)
// one member per next() call, without allocating. The input is the
// field's value, its lines already combined with ", " (§4.2). After next
// returns false, err tells whether the whole value was a valid
// dictionary; members already returned must then be discarded.
type sfDictParser struct {
	s       string
	i       int
	started bool
	m       sfMember // the member next() just read
	err     bool
}

// next reads the next member into p.m and reports whether there was one.
func (p *sfDictParser) next() bool {
	if p.err {
		return false
	}
	if !p.started {
		p.started = true
		p.skipSP()
	} else {
		p.skipOWS()
		if p.i == len(p.s) {
			return false
		}
		if p.s[p.i] != ',' {
			return p.fail()
		}
		p.i++
		p.skipOWS()
		if p.i == len(p.s) {
			return p.fail() // a trailing comma
		}
	}
	if p.i == len(p.s) {
		return false
	}
	key, ok := p.key()
	if !ok {
		return p.fail()
	}
	p.m = sfMember{key: key}
	if p.i < len(p.s) && p.s[p.i] == '=' {
		p.i++
		if p.i < len(p.s) && p.s[p.i] == '(' {
			p.m.typ = sfInnerList
			ok = p.innerList()
		} else {
			ok = p.bareItem(&p.m) && p.params()
		}
	} else {
		p.m.typ, p.m.num = sfBoolean, 1
		ok = p.params()
	}
	if !ok {
		return p.fail()
	}
	return true
}

func (p *sfDictParser) fail() bool {
	p.err = true
	return false
}

func (p *sfDictParser) skipSP() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfDictParser) skipOWS() {
	for p.i < len(p.s) && isOWS(p.s[p.i]) {
		p.i++
	}
}

// key reads a key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfDictParser) key() (string, bool) {
	s, start := p.s, p.i
	if p.i >= len(s) || !(isLCAlpha(s[p.i]) || s[p.i] == '*') {
		return "", false
	}
	for p.i++; p.i < len(s); p.i++ {
		c := s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
	}
	return s[start:p.i], true
}

// params reads and drops parameters: *( ";" *SP key [ "=" bare-item ] ).
func (p *sfDictParser) params() bool {
	for p.i < len(p.s) && p.s[p.i] == ';' {
		p.i++
		p.skipSP()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			var v sfMember
			if !p.bareItem(&v) {
				return false
			}
		}
	}
	return true
}

// innerList reads "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters.
func (p *sfDictParser) innerList() bool {
	p.i++ // (
	for {
		p.skipSP()
		if p.i >= len(p.s) {
			return false
		}
		if p.s[p.i] == ')' {
			p.i++
			return p.params()
		}
		var v sfMember
		if !p.bareItem(&v) || !p.params() {
			return false
		}
		if p.i >= len(p.s) || p.s[p.i] != ' ' && p.s[p.i] != ')' {
			return false
		}
	}
}

// bareItem reads one bare item into m (type, num, text).
func (p *sfDictParser) bareItem(m *sfMember) bool {
	if p.i >= len(p.s) {
		return false
	}
	start := p.i
	ok := false
	switch c := p.s[p.i]; {
	case c == '-' || isDigit(c):
		m.typ, m.num, ok = p.number()
	case c == '"':
		m.typ = sfString
		return p.str(m)
	case c == '*' || isAlpha(c):
		m.typ, ok = sfToken, true
		p.i++
		for p.i < len(p.s) && (isTchar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
	case c == ':':
		m.typ, ok = sfByteSequence, p.byteSequence()
	case c == '?':
		m.typ = sfBoolean
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			m.num, ok = int64(p.s[p.i+1]-'0'), true
			p.i += 2
		}
	case c == '@':
		p.i++
		var t sfType
		t, m.num, ok = p.number()
		m.typ, ok = sfDate, ok && t == sfInteger
	case c == '%':
		m.typ, ok = sfDisplayString, p.displayString()
	}
	m.text = p.s[start:p.i]
	return ok
}

// number reads an Integer (at most 15 digits) or a Decimal (at most 12
// integer and 3 fraction digits), RFC 9651 §4.2.4.
func (p *sfDictParser) number() (sfType, int64, bool) {
	s := p.s
	neg := false
	if p.i < len(s) && s[p.i] == '-' {
		neg = true
		p.i++
	}
	if p.i >= len(s) || !isDigit(s[p.i]) {
		return 0, 0, false
	}
	var n int64
	digits, dot := 0, -1
	for ; p.i < len(s); p.i++ {
		c := s[p.i]
		if isDigit(c) {
			digits++
			if dot < 0 {
				n = n*10 + int64(c-'0')
			}
		} else if c == '.' && dot < 0 {
			if digits > 12 {
				return 0, 0, false
			}
			dot = digits
		} else {
			break
		}
		if digits > 15 { // an Integer's limit; a Decimal's 16 characters with the dot
			return 0, 0, false
		}
	}
	if neg {
		n = -n
	}
	if dot < 0 {
		return sfInteger, n, true
	}
	frac := digits - dot
	return sfDecimal, 0, frac >= 1 && frac <= 3
}

// str reads a String: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE,
// printable ASCII only.
func (p *sfDictParser) str(m *sfMember) bool {
	s := p.s
	p.i++ // opening quote
	start := p.i
	for ; p.i < len(s); p.i++ {
		switch c := s[p.i]; {
		case c == '\\':
			p.i++
			if p.i >= len(s) || s[p.i] != '"' && s[p.i] != '\\' {
				return false
			}
			m.escaped = true
		case c == '"':
			m.text = s[start:p.i]
			p.i++
			return true
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

// byteSequence reads ":" base64 ":". The content is checked to be
// base64, padded or not (§4.2.7 asks parsers to accept both), without
// decoding it.
func (p *sfDictParser) byteSequence() bool {
	s := p.s
	p.i++ // opening colon
	start, pad := p.i, 0
	for ; p.i < len(s); p.i++ {
		switch c := s[p.i]; {
		case c == ':':
			n := p.i - start
			p.i++
			return (n-pad)%4 != 1 && pad <= 2 && (pad == 0 || n%4 == 0)
		case c == '=':
			pad++
		case pad > 0: // data after padding
			return false
		case isAlpha(c) || isDigit(c) || c == '+' || c == '/':
		default:
			return false
		}
	}
	return false
}

// displayString reads %"..." (RFC 9651 §4.2.10): printable ASCII and
// lowercase %xx escapes that together form valid UTF-8.
func (p *sfDictParser) displayString() bool {
	s := p.s
	p.i++ // %
	if p.i >= len(s) || s[p.i] != '"' {
		return false
	}
	var seq [utf8.UTFMax]byte
	have, want := 0, 0 // bytes of the pending multi-byte sequence
	for p.i++; p.i < len(s); p.i++ {
		c := s[p.i]
		switch {
		case c < 0x20 || c > 0x7e:
			return false
		case c == '"':
			p.i++
			return want == 0
		case c == '%':
			if p.i+2 >= len(s) {
				return false
			}
			hi, ok1 := lowerHex(s[p.i+1])
			lo, ok2 := lowerHex(s[p.i+2])
			if !ok1 || !ok2 {
				return false
			}
			p.i += 2
			b := hi<<4 | lo
			if want == 0 {
				switch {
				case b < 0x80:
					continue
				case b&0xe0 == 0xc0:
					want = 2
				case b&0xf0 == 0xe0:
					want = 3
				case b&0xf8 == 0xf0:
					want = 4
				default:
					return false
				}
				have = 0
			}
			seq[have] = b
			if have++; have == want {
				if !utf8.Valid(seq[:have]) {
					return false
				}
				want = 0
			}
		default:
			if want != 0 { // an unfinished multi-byte sequence
				return false
			}
		}
	}
	return false
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case isDigit(c):
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlpha(c byte) bool   { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
