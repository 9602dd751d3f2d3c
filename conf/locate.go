package conf

import (
	"strconv"
	"strings"
)

// lineIndex maps key paths ("routes[2].cache.default_ttl") to the 1-based
// line where they are written. BurntSushi/toml exposes no position per key
// (its own positions drop array indices), so the source is scanned again by
// indexLines.
type lineIndex map[string]int

// line returns the line of k, or of its nearest ancestor written in the
// file (a key filled in by a default points at its table), or 0.
func (ix lineIndex) line(k string) int {
	for k != "" {
		if l, ok := ix[k]; ok {
			return l
		}
		k = parentKey(k)
	}
	return 0
}

// maxDepth bounds the nesting of a config: the components of any key path
// ("routes[0].cache.key.headers[1]" has 6). popcache's schema needs 6;
// BurntSushi/toml takes time quadratic in the depth of a dotted key, so
// deeper input is refused before it is decoded.
const maxDepth = 32

// indexLines scans TOML source and records the line of every table header,
// array-of-tables element, key (each prefix of a dotted key included),
// array element and inline-table key. If the source nests deeper than
// maxDepth it stops there and returns that line as tooDeep (else 0).
//
// It is a locator, not a parser: it checks nothing else and runs on any
// text. On malformed text it still terminates and never panics, recording
// what it can.
func indexLines(src string) (lines lineIndex, tooDeep int) {
	s := &lineScanner{src: src, line: 1, lines: lineIndex{}, arrays: map[string]int{}}
	if strings.HasPrefix(src, "\ufeff") {
		s.pos = len("\ufeff")
	}
	for {
		s.skipBlank()
		if s.eof() || s.tooDeep != 0 {
			return s.lines, s.tooDeep
		}
		start := s.pos
		if s.peek() == '[' {
			s.header()
		} else {
			s.keyValue(s.table, s.tableDepth)
		}
		s.skipToLineEnd()
		if s.pos == start {
			s.advance()
		}
	}
}

// lineScanner is the state of one indexLines run.
type lineScanner struct {
	src   string
	pos   int // byte offset of the next unread byte
	line  int // line of src[pos]
	lines lineIndex
	// arrays counts the elements seen so far of each array of tables, by
	// resolved path ("origins[1].servers").
	arrays map[string]int
	// table is the resolved path of the current [table] or [[array]]
	// element; "" at the top level. tableDepth counts its components.
	table      string
	tableDepth int
	// tooDeep is the line where the nesting first exceeded maxDepth, or 0.
	tooDeep int
}

// deep reports whether depth exceeds maxDepth, noting the line if so.
func (s *lineScanner) deep(depth, line int) bool {
	if depth > maxDepth && s.tooDeep == 0 {
		s.tooDeep = line
	}
	return s.tooDeep != 0
}

func (s *lineScanner) eof() bool { return s.pos >= len(s.src) }

// peek returns the next byte, or 0 at the end.
func (s *lineScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

func (s *lineScanner) advance() {
	if s.eof() {
		return
	}
	if s.src[s.pos] == '\n' {
		s.line++
	}
	s.pos++
}

// record notes that k is written at line, unless it was seen before.
func (s *lineScanner) record(k string, line int) {
	if _, ok := s.lines[k]; !ok {
		s.lines[k] = line
	}
}

// skipSpace skips blanks within a line.
func (s *lineScanner) skipSpace() {
	for c := s.peek(); c == ' ' || c == '\t'; c = s.peek() {
		s.advance()
	}
}

// skipBlank skips blanks, newlines and comments.
func (s *lineScanner) skipBlank() {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.advance()
		case '#':
			s.skipToLineEnd()
		default:
			return
		}
	}
}

// skipToLineEnd skips to the next newline, leaving it unread.
func (s *lineScanner) skipToLineEnd() {
	for !s.eof() && s.peek() != '\n' {
		s.advance()
	}
}

// header reads "[a.b]" or "[[a.b]]" and makes it the current table.
// Names that are arrays of tables resolve to their latest element, so
// "[origins.health]" after the second "[[origins]]" is "origins[1].health".
func (s *lineScanner) header() {
	line := s.line
	s.advance() // [
	isArray := s.peek() == '['
	if isArray {
		s.advance()
	}
	parts := s.keyParts()
	if len(parts) == 0 || s.deep(len(parts), line) {
		return
	}
	path, depth := "", 0
	for i, p := range parts {
		path, depth = child(path, p), depth+1
		if isArray && i == len(parts)-1 {
			break
		}
		if n, ok := s.arrays[path]; ok {
			path, depth = index(path, n-1), depth+1
		}
	}
	if isArray {
		n := s.arrays[path]
		s.arrays[path] = n + 1
		s.record(path, line)
		path, depth = index(path, n), depth+1
	}
	if s.deep(depth, line) {
		return
	}
	s.record(path, line)
	s.table, s.tableDepth = path, depth
}

// keyValue reads "a.b = value" within the table at path table, which has
// depth components.
func (s *lineScanner) keyValue(table string, depth int) {
	line := s.line
	parts := s.keyParts()
	if len(parts) == 0 || s.deep(depth+len(parts), line) {
		return
	}
	s.skipSpace()
	if s.peek() != '=' {
		return
	}
	s.advance()
	path := table
	for _, p := range parts {
		path = child(path, p)
		s.record(path, line)
	}
	s.skipSpace()
	s.value(path, depth+len(parts))
}

// keyParts reads a possibly dotted key made of bare and quoted names.
func (s *lineScanner) keyParts() []string {
	var parts []string
	for {
		s.skipSpace()
		switch c := s.peek(); {
		case c == '"':
			parts = append(parts, s.basicString())
		case c == '\'':
			parts = append(parts, s.literalString())
		case isBareKeyChar(c):
			start := s.pos
			for isBareKeyChar(s.peek()) {
				s.advance()
			}
			parts = append(parts, s.src[start:s.pos])
		default:
			return parts
		}
		s.skipSpace()
		if s.peek() != '.' {
			return parts
		}
		s.advance()
	}
}

// value skips one value, recording the elements and keys inside arrays and
// inline tables under path, which has depth components.
func (s *lineScanner) value(path string, depth int) {
	rest := s.src[s.pos:]
	switch {
	case strings.HasPrefix(rest, `"""`):
		s.multiLineString(`"""`)
	case strings.HasPrefix(rest, `'''`):
		s.multiLineString(`'''`)
	case strings.HasPrefix(rest, `"`):
		s.basicString()
	case strings.HasPrefix(rest, `'`):
		s.literalString()
	case strings.HasPrefix(rest, `[`):
		s.array(path, depth)
	case strings.HasPrefix(rest, `{`):
		s.inlineTable(path, depth)
	default: // number, bool, date-time: up to a delimiter
		for !s.eof() && !strings.ContainsRune(",]}\n#", rune(s.peek())) {
			s.advance()
		}
	}
}

// array reads "[v, v, ...]", recording path[i] at each element's line.
func (s *lineScanner) array(path string, depth int) {
	if s.deep(depth+1, s.line) {
		return
	}
	s.advance() // [
	for i := 0; ; i++ {
		s.skipBlank()
		if s.eof() || s.tooDeep != 0 {
			return
		}
		if s.peek() == ']' {
			s.advance()
			return
		}
		start := s.pos
		elem := index(path, i)
		s.record(elem, s.line)
		s.value(elem, depth+1)
		s.skipBlank()
		if s.peek() == ',' {
			s.advance()
		}
		if s.pos == start {
			s.advance()
		}
	}
}

// inlineTable reads "{k = v, ...}", recording path.k at each key's line.
func (s *lineScanner) inlineTable(path string, depth int) {
	s.advance() // {
	for {
		s.skipBlank()
		if s.eof() || s.tooDeep != 0 {
			return
		}
		if s.peek() == '}' {
			s.advance()
			return
		}
		start := s.pos
		s.keyValue(path, depth)
		s.skipBlank()
		if s.peek() == ',' {
			s.advance()
		}
		if s.pos == start {
			s.advance()
		}
	}
}

// basicString reads a one-line "..." string and returns its value.
func (s *lineScanner) basicString() string {
	s.advance() // "
	start := s.pos
	for !s.eof() && s.peek() != '"' && s.peek() != '\n' {
		if s.peek() == '\\' {
			s.advance()
		}
		s.advance()
	}
	raw := s.src[start:min(s.pos, len(s.src))]
	if s.peek() == '"' {
		s.advance()
	}
	if v, err := strconv.Unquote(`"` + raw + `"`); err == nil {
		return v
	}
	return raw
}

// literalString reads a one-line '...' string and returns its value.
func (s *lineScanner) literalString() string {
	s.advance() // '
	start := s.pos
	for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
		s.advance()
	}
	raw := s.src[start:s.pos]
	if s.peek() == '\'' {
		s.advance()
	}
	return raw
}

// multiLineString skips a """...""" or ”'...”' string. Up to two quotes
// right before the closing delimiter belong to the string.
func (s *lineScanner) multiLineString(delim string) {
	for range 3 {
		s.advance()
	}
	for !s.eof() {
		if strings.HasPrefix(s.src[s.pos:], delim) {
			for range 3 {
				s.advance()
			}
			for extra := 0; extra < 2 && s.peek() == delim[0]; extra++ {
				s.advance()
			}
			return
		}
		if delim[0] == '"' && s.peek() == '\\' {
			s.advance()
		}
		s.advance()
	}
}
