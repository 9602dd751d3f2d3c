package cache

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// sfMembers parses s as a Structured Field Dictionary and returns its
// members, or ok false.
func sfMembers(s string) (members []sfMember, ok bool) {
	p := sfDictParser{s: s}
	for p.next() {
		members = append(members, p.m)
	}
	return members, !p.err
}

func TestSFDictionary(t *testing.T) {
	boolean := func(key string) sfMember { return sfMember{key: key, typ: sfBoolean, num: 1} }
	integer := func(key, text string, n int64) sfMember {
		return sfMember{key: key, typ: sfInteger, num: n, text: text}
	}
	tests := []struct {
		name string
		in   string
		want []sfMember // nil with ok: the empty dictionary
		ok   bool
	}{
		{"empty", "", nil, true},
		{"only spaces", "   ", nil, true},
		{"a bare key is Boolean true", "no-store", []sfMember{boolean("no-store")}, true},
		{"an Integer", "max-age=60", []sfMember{integer("max-age", "60", 60)}, true},
		{"a negative Integer", "a=-5", []sfMember{integer("a", "-5", -5)}, true},
		{"15 digits is the Integer limit", "a=999999999999999", []sfMember{integer("a", "999999999999999", 999999999999999)}, true},
		{"16 digits is not an Integer", "a=9999999999999999", nil, false},
		{"a Decimal", "a=1.5", []sfMember{{key: "a", typ: sfDecimal, text: "1.5"}}, true},
		{"a Decimal with four fraction digits", "a=1.2345", nil, false},
		{"a Decimal ending in a dot", "a=1.", nil, false},
		{"a Decimal with 13 integer digits", "a=1234567890123.5", nil, false},
		{"a String", `private="Set-Cookie, X-A"`, []sfMember{{key: "private", typ: sfString, text: "Set-Cookie, X-A"}}, true},
		{"a String with escapes", `a="q\"b\\"`, []sfMember{{key: "a", typ: sfString, text: `q\"b\\`, escaped: true}}, true},
		{"a String with a bad escape", `a="\n"`, nil, false},
		{"an unterminated String", `a="abc`, nil, false},
		{"a String with a control character", "a=\"x\ty\"", nil, false},
		{"a String with a non-ASCII byte", "a=\"caf\xc3\xa9\"", nil, false},
		{"a Token", "a=foo/bar:baz", []sfMember{{key: "a", typ: sfToken, text: "foo/bar:baz"}}, true},
		{"a Token starting with *", "a=*x", []sfMember{{key: "a", typ: sfToken, text: "*x"}}, true},
		{"a Byte Sequence", "a=:aGVsbG8=:", []sfMember{{key: "a", typ: sfByteSequence, text: ":aGVsbG8=:"}}, true},
		{"an unpadded Byte Sequence", "a=:aGVsbG8:", []sfMember{{key: "a", typ: sfByteSequence, text: ":aGVsbG8:"}}, true},
		{"a Byte Sequence with a bad character", "a=:aGV*bG8=:", nil, false},
		{"a Byte Sequence with data after padding", "a=:aG=Vs:", nil, false},
		{"an unterminated Byte Sequence", "a=:aGVs", nil, false},
		{"Boolean false", "a=?0", []sfMember{{key: "a", typ: sfBoolean, text: "?0"}}, true},
		{"Boolean true", "a=?1", []sfMember{{key: "a", typ: sfBoolean, num: 1, text: "?1"}}, true},
		{"a bad Boolean", "a=?2", nil, false},
		{"a Date", "a=@1659578233", []sfMember{{key: "a", typ: sfDate, num: 1659578233, text: "@1659578233"}}, true},
		{"a Date must be an Integer", "a=@1.5", nil, false},
		{"a bare @", "a=@", nil, false},
		{"a Display String", `a=%"f%c3%bc%c3%bc"`, []sfMember{{key: "a", typ: sfDisplayString, text: `%"f%c3%bc%c3%bc"`}}, true},
		{"a Display String with invalid UTF-8", `a=%"f%c3"`, nil, false},
		{"a Display String with an overlong encoding", `a=%"%c0%af"`, nil, false},
		{"a Display String with upper-case hex", `a=%"f%C3%BC"`, nil, false},
		{"an Inner List", `a=(1 "x" tok);p=1`, []sfMember{{key: "a", typ: sfInnerList}}, true},
		{"an empty Inner List", "a=()", []sfMember{{key: "a", typ: sfInnerList}}, true},
		{"an Inner List without a separator", `a=(1"x")`, nil, false},
		{"an unterminated Inner List", "a=(1 2", nil, false},
		{"parameters are read and dropped", "max-age=60;foo=bar;baz, no-store;x",
			[]sfMember{integer("max-age", "60", 60), boolean("no-store")}, true},
		{"a space after a parameter's semicolon", "a=1; b=2", []sfMember{integer("a", "1", 1)}, true},
		{"a bad parameter key", "a=1;B=2", nil, false},
		{"OWS around commas", "a=1 ,\tb", []sfMember{integer("a", "1", 1), boolean("b")}, true},
		{"keys are lower case", "Max-Age=60", nil, false},
		{"a key starting with *", "*a=1", []sfMember{integer("*a", "1", 1)}, true},
		{"a key starting with a digit", "1a=1", nil, false},
		{"a space before =", "max-age =100", nil, false},
		{"a space after =", "max-age= 100", nil, false},
		{"a trailing comma", "a=1,", nil, false},
		{"an empty member", "a=1,,b=2", nil, false},
		{"a leading comma", ",a=1", nil, false},
		{"a leading tab", "\ta=1", nil, false},
		{"trailing spaces", "a=1  ", []sfMember{integer("a", "1", 1)}, true},
		{"garbage after a member", "max-age=10000, &&&&&", nil, false},
		{"a quoted Integer is a String", `max-age="10000"`, []sfMember{{key: "max-age", typ: sfString, text: "10000"}}, true},
		{"a repeated key yields both members (the caller keeps the last)", "a=1, a=2",
			[]sfMember{integer("a", "1", 1), integer("a", "2", 2)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sfMembers(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (members %+v)", ok, tt.ok, got)
			}
			if ok && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("members\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// sfDictionaryRE is RFC 9651's Dictionary grammar as one regular
// expression, a second reading of the grammar to check the parser
// against. Byte Sequences must be base64 (padded or not); a Display
// String's decoded bytes are not checked for UTF-8 here.
var sfDictionaryRE = func() *regexp.Regexp {
	key := `[a-z*][a-z0-9_.*-]*`
	bare := `(?:` + strings.Join([]string{
		`-?[0-9]{1,12}\.[0-9]{1,3}`,
		`-?[0-9]{1,15}`,
		`"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"`,
		`[A-Za-z*][!#$%&'*+.^_` + "`" + `|~0-9A-Za-z:/-]*`,
		`:(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?:`,
		`\?[01]`,
		`@-?[0-9]{1,15}`,
		`%"(?:[\x20\x21\x23\x24\x26-\x7e]|%[0-9a-f]{2})*"`,
	}, "|") + `)`
	params := `(?:;\x20*` + key + `(?:=` + bare + `)?)*`
	item := bare + params
	inner := `\(\x20*(?:` + item + `(?:\x20+` + item + `)*\x20*)?\)` + params
	member := key + `(?:=(?:` + item + `|` + inner + `)|` + params + `)`
	return regexp.MustCompile(`^\x20*(?:` + member + `(?:[\x20\t]*,[\x20\t]*` + member + `)*[\x20\t]*)?$`)
}()

// highPercent finds a percent-encoded byte >= 0x80, which a Display
// String must decode to valid UTF-8: a check the regular expression
// does not make.
var highPercent = regexp.MustCompile(`%[89a-f][0-9a-f]`)

func TestSFDictionaryMatchesGrammar(t *testing.T) {
	for _, s := range []string{"a", "a=1, b=?0;x", `a=("x" 1.5);q=:AA==:`, `a=%"x"`, "a=1,", "A=1", `a=%"%c3%bc"`} {
		_, ok := sfMembers(s)
		if re := sfDictionaryRE.MatchString(s); ok != re {
			t.Errorf("%q: parser %v, grammar %v", s, ok, re)
		}
	}
}

// FuzzParseSFDictionary checks the parser against the grammar's regular
// expression, and parseTargeted against the parser.
func FuzzParseSFDictionary(f *testing.F) {
	for _, s := range []string{"max-age=60, no-store", `private="Set-Cookie"`, "a=(1 2);x=?1, b=:AA==:",
		`a=%"f%c3%bc"`, "a=@-12, b=-1.125", "max-age=10000, &&&&&", `max-age="10000"`, "a=1;b, c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		members, ok := sfMembers(s)
		if !(strings.Contains(s, `%"`) && highPercent.MatchString(s)) {
			if re := sfDictionaryRE.MatchString(s); ok != re {
				t.Fatalf("%q: parser %v, grammar %v", s, ok, re)
			}
		}
		d, tok := parseTargeted([]string{s})
		if tok && (!ok || len(members) == 0) {
			t.Fatalf("%q: parseTargeted accepts what is not a non-empty dictionary", s)
		}
		if tok {
			// The same dictionary split over two lines reads the same.
			if i := strings.IndexByte(s, ','); i > 0 {
				d2, ok2 := parseTargeted([]string{strings.TrimRight(s[:i], " \t"), strings.TrimLeft(s[i+1:], " \t")})
				if ok2 && !reflect.DeepEqual(d, d2) {
					t.Fatalf("%q: one line %+v, two lines %+v", s, d, d2)
				}
			}
		}
	})
}

func BenchmarkParseTargeted(b *testing.B) {
	lines := []string{"max-age=3600, stale-while-revalidate=60, public"}
	b.ReportAllocs()
	for b.Loop() {
		parseTargeted(lines)
	}
}
