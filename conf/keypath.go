package conf

import (
	"strconv"
	"strings"
)

// Key paths name a value in the config the way a reader would look for it:
// dotted names with array indices, "origins[0].servers[1].url". A name that
// is not a bare TOML key is quoted, as TOML would write it.

// keyOf builds a key path from names (string) and indices (int):
// keyOf("routes", 2, "origin") is "routes[2].origin".
func keyOf(parts ...any) string {
	k := ""
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			k = index(k, p)
		case string:
			k = child(k, p)
		}
	}
	return k
}

// child appends name to the path parent.
func child(parent, name string) string {
	if !isBareKey(name) {
		name = strconv.Quote(name)
	}
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// index appends an array index to the path parent.
func index(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// isBareKey reports whether s can be written unquoted as a TOML key.
func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareKeyChar(s[i]) {
			return false
		}
	}
	return true
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// parentKey returns the path one step up from k ("a.b[2]" → "a.b",
// "a.b" → "a", "a" → ""), honouring quoted names.
func parentKey(k string) string {
	cut := 0 // where the last component starts
	inQuote := false
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case inQuote && c == '\\':
			i++ // skip the escaped byte
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '.':
			cut = i
		case c == '[':
			cut = i
		}
	}
	return strings.TrimSuffix(k[:cut], ".")
}
