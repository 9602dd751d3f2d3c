package conf

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem found in a config: a syntax error, an unknown key, a
// value of the wrong type or unit, or a failed validation rule.
type Error struct {
	// Source is where the config came from: a file path, "<embedded>" or
	// "<flags>".
	Source string
	// Line is the 1-based line of Key in Source, or 0 when unknown (the key
	// is absent from the file, or the config was not read from text).
	Line int
	// Key is the key path, like "routes[2].origin" or
	// "origins[0].servers[1].url", a flag name like "--origin", or "" for a
	// syntax error with no key.
	Key string
	// Msg says what is wrong, with the offending value.
	Msg string
}

// Error formats e as "source:line: key: message", leaving out the parts
// that are unknown ("line 3: key: message" without a source).
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Source != "" && e.Line > 0:
		b.WriteString(e.Source + ":" + strconv.Itoa(e.Line) + ": ")
	case e.Source != "":
		b.WriteString(e.Source + ": ")
	case e.Line > 0:
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config, in line order. Load, Parse,
// QuickStart and Validate return it (as an error) whenever they fail on the
// config's content; use errors.As to get at the individual problems.
type Errors []*Error

// Error formats one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// err returns es as an error, or nil when it is empty (never a typed nil).
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// sortByLine orders es by line, errors without a line last, keeping the
// order of discovery otherwise.
func (es Errors) sortByLine() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = int(^uint(0) >> 1)
		}
		if lb == 0 {
			lb = int(^uint(0) >> 1)
		}
		return cmp.Compare(la, lb)
	})
}
