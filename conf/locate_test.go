package conf

import (
	"strings"
	"testing"
)

func TestIndexLines(t *testing.T) {
	src := `# comment line 1
role = "edge"            # 2
[server]                 # 3
listen = [               # 4
  "a:1",                 # 5
  # a comment inside     # 6
  "b:2", "c:3"           # 7
]
name = """
multi [not.a = header]
line"""
"quoted.key" = 1         # 12
[cache.policy]           # 13
key.query = "none"       # 14
[[origins]]              # 15
name = "a"
servers = [{url = "http://x"}, {url = "http://y",  # 17
  weight = 2}]           # 18
[origins.health]         # 19
path = '/h'
[[origins]]              # 21
name = "b"
[[origins.servers]]      # 23
url = "http://z"
[[origins.servers]]      # 25
url = 'http://w'         # 26
[origins.passive]        # 27
[[routes]]               # 28
cache = { key = { headers = ["A",
  "B"] } }               # 30
[ routes . "odd.name" ]  # 31
t = 1979-05-27 07:32:00Z # 32
s = '''x
'''
after = true             # 35
`
	ix, _ := indexLines(src)
	tests := []struct {
		key  string
		want int
	}{
		{"role", 2},
		{"server", 3},
		{"server.listen", 4},
		{"server.listen[0]", 5},
		{"server.listen[1]", 7},
		{"server.listen[2]", 7},
		{"server.name", 9},
		{`server."quoted.key"`, 12},
		{"cache", 0}, // never written on its own
		{"cache.policy", 13},
		{"cache.policy.key", 14},
		{"cache.policy.key.query", 14},
		{"origins", 15},
		{"origins[0]", 15},
		{"origins[0].name", 16},
		{"origins[0].servers[0]", 17},
		{"origins[0].servers[0].url", 17},
		{"origins[0].servers[1].url", 17},
		{"origins[0].servers[1].weight", 18},
		{"origins[0].health", 19},
		{"origins[0].health.path", 20},
		{"origins[1]", 21},
		{"origins[1].name", 22},
		{"origins[1].servers[0]", 23},
		{"origins[1].servers[1]", 25},
		{"origins[1].servers[1].url", 26},
		{"origins[1].passive", 27},
		{"routes[0]", 28},
		{"routes[0].cache.key.headers[0]", 29},
		{"routes[0].cache.key.headers[1]", 30},
		{`routes[0]."odd.name"`, 31},
		{`routes[0]."odd.name".t`, 32},
		{`routes[0]."odd.name".s`, 33},
		{`routes[0]."odd.name".after`, 35},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := ix[tt.key]; got != tt.want {
				t.Errorf("line of %s = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
	if got := ix["multi"]; got != 0 {
		t.Errorf("text inside a multi-line string was indexed as a key at line %d", got)
	}
}

func TestLineIndexFallsBackToAncestor(t *testing.T) {
	ix, _ := indexLines("[[routes]]\nname = \"a\"\n\n[[routes]]\n[routes.cache]\nenabled = false\n")
	tests := []struct {
		key  string
		want int
	}{
		{"routes[0].name", 2},
		{"routes[0].origin", 1},          // absent: the element's header
		{"routes[1].origin", 4},          // absent: the second element's header
		{"routes[1].cache.key.query", 5}, // absent: nearest written table
		{"routes[1].cache.enabled", 6},
		{"origins[0].servers[0].url", 0}, // nothing written
		{"", 0},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := ix.line(tt.key); got != tt.want {
				t.Errorf("line(%q) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
}

func TestParentKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a", ""},
		{"a.b", "a"},
		{"a[2]", "a"},
		{"a.b[2].c", "a.b[2]"},
		{"a.b[2]", "a.b"},
		{`a."x.y"`, "a"},
		{`a."x[1]"`, "a"},
		{`a."q\"[.".b`, `a."q\"[."`},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := parentKey(tt.in); got != tt.want {
				t.Errorf("parentKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestKeyOf(t *testing.T) {
	tests := []struct {
		parts []any
		want  string
	}{
		{[]any{"routes", 2, "origin"}, "routes[2].origin"},
		{[]any{"origins", 0, "servers", 1, "url"}, "origins[0].servers[1].url"},
		{[]any{"server", "x.y"}, `server."x.y"`},
		{[]any{"a", ""}, `a.""`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := keyOf(tt.parts...); got != tt.want {
				t.Errorf("keyOf(%v) = %q, want %q", tt.parts, got, tt.want)
			}
		})
	}
}

func TestIndexLinesMalformed(t *testing.T) {
	// The locator runs only on text the TOML parser accepted, but it must
	// never hang or panic on anything.
	inputs := []string{
		"", "[", "[[", "[[a", "a", "a =", "a = [", "a = {", `a = "`, `a = """`, "a = '''",
		"= 1", "]]]", "a = [1,,2]", "a = {b = }", "a = {,}", "\ufeffa = 1", `"\`, "[a.]\nb = 1",
		"a = [[[[[", "a = {b = {c = [", "\x00\xff", "a.b.c. = 1",
	}
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			indexLines(in)
		})
	}
	if ix, _ := indexLines("\ufeffa = 1"); ix["a"] != 1 {
		t.Errorf("key after a byte order mark: line %d, want 1", ix["a"])
	}
}

func TestIndexLinesDepthLimit(t *testing.T) {
	dotted := func(n int) string { return strings.Repeat("k.", n-1) + "k" }
	// [[k]] [[k.k]] [[k.k.k]]...: the nth header has n names and n indices.
	nestedArrayTables := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.WriteString("[[" + dotted(i) + "]]\n")
		}
		return b.String()
	}
	tests := []struct {
		name string
		src  string
		want int // line of the refusal, 0 if accepted
	}{
		{"dotted key at the limit", dotted(maxDepth) + " = 1\n", 0},
		{"dotted key over the limit", "\n" + dotted(maxDepth+1) + " = 1\n", 2},
		{"header over the limit", "a = 1\n[" + dotted(maxDepth+1) + "]\n", 2},
		{"key under a deep header", "[" + dotted(maxDepth) + "]\nx = 1\n", 2},
		{"nested arrays of tables at the limit", nestedArrayTables(maxDepth / 2), 0},
		{"nested arrays of tables count their indices", nestedArrayTables(maxDepth/2 + 1), maxDepth/2 + 1},
		{"arrays at the limit", "a = " + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1), 0},
		{"arrays over the limit", "a = [\n" + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth+1), 2},
		{"inline tables over the limit", "a = " + strings.Repeat("{b = ", maxDepth) + "1" + strings.Repeat("}", maxDepth), 1},
		{"far over the limit", dotted(100000) + " = 1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := indexLines(tt.src); got != tt.want {
				t.Errorf("tooDeep = %d, want %d", got, tt.want)
			}
		})
	}
}

// Deep nesting is refused before BurntSushi/toml, which takes quadratic
// time on it, sees it.
func TestParseRefusesDeepNesting(t *testing.T) {
	src := "[server]\n" + strings.Repeat("k.", 50000) + "k = 1\n"
	checkErrors(t, func() error { _, err := Parse("deep.toml", []byte(src)); return err }(), "deep.toml", []string{"@2"}, "nested more than 32 levels")
}
