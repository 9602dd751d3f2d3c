package conf

import (
	"encoding"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// checkSchema walks a generically decoded TOML tree against the Config type
// and reports, all at once and with indexed key paths, what a typed decode
// would stop at one by one or let through:
//   - unknown keys, including keys that differ from a known one only in
//     case (BurntSushi/toml would quietly match those case-insensitively);
//   - values of the wrong type;
//   - sizes and durations that do not parse (bad unit, negative, overflow);
//   - numbers set explicitly to 0 where 0 would be replaced by a non-zero
//     default: "read_timeout = "0s"" must not silently become 60s.
//
// It reads no values into a Config; Parse decodes once this passes.
func checkSchema(source string, tree map[string]any, lines lineIndex) Errors {
	tmpl := &Config{
		Origins: []Origin{{Servers: []Upstream{{}}}},
		Routes:  []Route{{}},
	}
	tmpl.EnsureDefaults()
	w := &schemaWalker{source: source, lines: lines}
	w.walk("", tree, reflect.TypeFor[Config](), reflect.ValueOf(tmpl).Elem(), false)
	return w.errs
}

// schemaWalker collects the problems checkSchema finds.
type schemaWalker struct {
	source string
	lines  lineIndex
	errs   Errors
}

func (w *schemaWalker) fail(k, format string, args ...any) {
	w.errs = append(w.errs, &Error{Source: w.source, Line: w.lines.line(k), Key: k, Msg: fmt.Sprintf(format, args...)})
}

// walk checks the value v at key path k against type t. def is the same
// position in a config with every default applied (invalid where there is
// none); when checkZero is set, an explicit 0 is refused if def is not 0.
func (w *schemaWalker) walk(k string, v any, t reflect.Type, def reflect.Value, checkZero bool) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
		if def.IsValid() {
			def = def.Elem() // invalid if the pointer is nil
		}
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		w.text(k, v, t, def, checkZero)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.table(k, v, t, def)
	case reflect.Slice:
		items, ok := v.([]any)
		if tables, isTables := v.([]map[string]any); isTables {
			items, ok = make([]any, len(tables)), true
			for i, m := range tables {
				items[i] = m
			}
		}
		if !ok {
			w.fail(k, "must be an array, not %s", describe(v))
			return
		}
		var elemDef reflect.Value
		if def.IsValid() && def.Len() > 0 {
			elemDef = def.Index(0)
		}
		for i, item := range items {
			w.walk(index(k, i), item, t.Elem(), elemDef, false)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			w.fail(k, "must be a string, not %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			w.fail(k, "must be true or false, not %s", describe(v))
		}
	case reflect.Int, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			w.fail(k, "must be an integer, not %s", describe(v))
			return
		}
		if n == 0 && checkZero {
			w.zero(k, def)
		}
	case reflect.Float64:
		switch v.(type) {
		case float64, int64:
		default:
			w.fail(k, "must be a number, not %s", describe(v))
		}
	default:
		// A schema type this walker does not know: a programming error
		// that the typed decode would report too.
		w.fail(k, "cannot be set (unsupported type %s)", t)
	}
}

// table checks a TOML table against struct type t.
func (w *schemaWalker) table(k string, v any, t reflect.Type, def reflect.Value) {
	m, ok := v.(map[string]any)
	if !ok {
		w.fail(k, "must be a table, not %s", describe(v))
		return
	}
	fields := tomlFields(t)
	for _, name := range slices.Sorted(maps.Keys(m)) {
		i, ok := fields[name]
		if !ok {
			w.fail(child(k, name), "unknown key%s", suggest(name, slices.Collect(maps.Keys(fields))))
			continue
		}
		f := t.Field(i)
		var fdef reflect.Value
		if def.IsValid() {
			fdef = def.Field(i)
		}
		w.walk(child(k, name), m[name], f.Type, fdef, f.Type.Kind() != reflect.Pointer)
	}
}

// text checks a Size or Duration (any encoding.TextUnmarshaler) the way
// BurntSushi/toml will decode it: integers, floats and booleans are
// formatted as text first.
func (w *schemaWalker) text(k string, v any, t reflect.Type, def reflect.Value, checkZero bool) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int64:
		s = fmt.Sprintf("%d", v)
	case float64:
		s = fmt.Sprintf("%f", v)
	case bool:
		s = fmt.Sprintf("%v", v)
	default:
		w.fail(k, "must be a string, not %s", describe(v))
		return
	}
	p := reflect.New(t)
	if err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
		w.fail(k, "%v", err)
		return
	}
	if checkZero && p.Elem().IsZero() {
		w.zero(k, def)
	}
}

// zero reports an explicit 0 where the default is not 0.
func (w *schemaWalker) zero(k string, def reflect.Value) {
	if def.IsValid() && !def.IsZero() {
		w.fail(k, "must not be 0 (leave the key out to get the default, %v)", def.Interface())
	}
}

// tomlFields maps the TOML names of struct type t to field indices.
func tomlFields(t reflect.Type) map[string]int {
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fields[name] = i
	}
	return fields
}

// describe names a decoded TOML value for an error message.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case int64:
		return fmt.Sprintf("the integer %d", v)
	case float64:
		return fmt.Sprintf("the float %v", v)
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date-time"
	}
	return fmt.Sprintf("a %T", v)
}

// suggest returns ` (did you mean "x"?)` for the known name closest to an
// unknown one, if any is close: same letters in another case, or at most
// two edits away.
func suggest(name string, known []string) string {
	slices.Sort(known) // deterministic among equally close names
	best, bestDist := "", 3
	for _, k := range known {
		d := editDistance(strings.ToLower(name), k)
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
