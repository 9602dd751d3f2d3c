package conf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Strict decoding: every unknown key, wrong type and bad unit, at once.
func TestParseStrict(t *testing.T) {
	tests := []errorCase{
		{name: "unknown top-level key", msg: "unknown key", toml: `
lisen = 1 # @lisen
` + minimal},
		{name: "known key in another case", msg: `did you mean "role"?`, toml: `
Role = "edge" # @Role
` + minimal},
		{name: "typo gets a suggestion", msg: `did you mean "weight"?`, toml: `
[[origins]]
name = "o"
servers = [{url = "http://a", wieght = 2}] # @origins[0].servers[0].wieght
[[routes]]
origin = "o"
`},
		{name: "unknown key in the second route", toml: minimal + `
[[routes]]
origin = "o"
bogus = true # @routes[1].bogus
`},
		{name: "unknown table", toml: minimal + `
[routes.cache.keys] # @routes[0].cache.keys
query = "none"
`},
		{name: "quoted unknown key", toml: `
[server]
"max.header" = 1 # @server."max.header"
` + minimal},
		{name: "string for an array", msg: `must be an array, not the string "127.0.0.1:80"`, toml: `
[server]
listen = "127.0.0.1:80" # @server.listen
` + minimal},
		{name: "integer for a string", toml: `
[[origins]]
name = 5 # @origins[0].name
servers = [{url = "http://a"}]
[[routes]]
origin = "o" # not reported: values are checked only once all decode
`},
		{name: "string for an integer", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a", weight = "2"}] # @origins[0].servers[0].weight
[[routes]]
origin = "o"
`},
		{name: "float for an integer", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a", weight = 1.5}] # @origins[0].servers[0].weight
[[routes]]
origin = "o"
`},
		{name: "string for a bool", toml: `
[cache.policy]
enabled = "yes" # @cache.policy.enabled
` + minimal},
		{name: "string for a float", toml: `
[cache.policy]
heuristic_fraction = "10%" # @cache.policy.heuristic_fraction
` + minimal},
		{name: "table for a string", toml: `
role = {name = "edge"} # @role
` + minimal},
		{name: "array for a table", toml: `
server = [1] # @server
` + minimal},
		{name: "date for a duration", toml: `
[cache]
fill_timeout = 1979-05-27 # @cache.fill_timeout
` + minimal},
		{name: "duration without unit", msg: `invalid duration "30"`, toml: `
[server]
read_timeout = "30" # @server.read_timeout
` + minimal},
		{name: "duration as an integer", toml: `
[server]
read_timeout = 30 # @server.read_timeout
` + minimal},
		{name: "negative duration", msg: "must not be negative", toml: `
[cache.policy]
stale_if_error = "-1m" # @cache.policy.stale_if_error
` + minimal},
		{name: "overflowing duration", toml: `
[cache.policy]
heuristic_max = "9999999999h" # @cache.policy.heuristic_max
` + minimal},
		{name: "fractional size", toml: `
[cache]
memory_max_bytes = "1.5GiB" # @cache.memory_max_bytes
` + minimal},
		{name: "negative size", toml: `
[cache]
memory_max_bytes = -1 # @cache.memory_max_bytes
` + minimal},
		{name: "overflowing size", msg: "too large", toml: `
[cache]
memory_max_bytes = "99999999999GiB" # @cache.memory_max_bytes
` + minimal},
		{name: "size as a float", toml: `
[cache]
memory_max_bytes = 1e9 # @cache.memory_max_bytes
` + minimal},
		{name: "explicit zero int with a default", msg: "default, 128", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
max_idle_conns = 0 # @origins[0].max_idle_conns
[[routes]]
origin = "o"
`},
		{name: "all at once, in line order", toml: `
Role = "edge" # @Role
[server]
read_timeout = "30" # @server.read_timeout
lisen = [] # @server.lisen
[[origins]]
name = "o"
servers = [{url = "http://a", weight = "x"}] # @origins[0].servers[0].weight
[[routes]]
origin = "o"
hosts = "x" # @routes[0].hosts
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestParseSyntaxError(t *testing.T) {
	tests := []struct {
		name     string
		toml     string
		wantLine int
	}{
		{"unquoted string", "[server]\nlisten = [127.0.0.1]\n", 2},
		{"duplicate key", "[server]\nname = \"a\"\n\nname = \"b\"\n", 4},
		{"unclosed table header", "\n\n[server\nname = \"a\"\n", 3},
		{"unterminated string", "role = \"edge\nname = 1\n", 1},
		{"table defined twice", "[server]\n[admin]\n[server]\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("bad.toml", []byte(tt.toml))
			if c != nil || err == nil {
				t.Fatalf("Parse = %v, %v; want a syntax error", c, err)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("error is not one conf.Error: %#v", err)
			}
			e := errs[0]
			if e.Source != "bad.toml" || e.Line != tt.wantLine || e.Msg == "" {
				t.Errorf("got %+v, want bad.toml line %d", *e, tt.wantLine)
			}
			if prefix := "bad.toml:" + strconv.Itoa(tt.wantLine) + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), prefix)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Source: "a.toml", Line: 3, Key: "routes[2].origin", Msg: "is required"}, "a.toml:3: routes[2].origin: is required"},
		{Error{Source: "a.toml", Key: "origins", Msg: "at least one"}, "a.toml: origins: at least one"},
		{Error{Source: "a.toml", Line: 7, Msg: "bad syntax"}, "a.toml:7: bad syntax"},
		{Error{Key: "--origin", Msg: "is required"}, "--origin: is required"},
		{Error{Line: 3, Key: "role", Msg: "bad"}, "line 3: role: bad"},
		{Error{Msg: "plain"}, "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	errs := Errors{&tests[0].e, &tests[1].e}
	if got, want := errs.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
	if Errors(nil).err() != nil {
		t.Error("empty Errors became a non-nil error")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(good, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("role = \"hub\"\n"+minimal), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load(good): %v", err)
	}
	if c.Source != good {
		t.Errorf("Source = %q, want %q", c.Source, good)
	}

	c, err = Load(bad)
	if c != nil {
		t.Error("Load(bad) returned a config")
	}
	checkErrors(t, err, bad, []string{"role@1"}, "")

	c, err = Load(filepath.Join(dir, "missing.toml"))
	if c != nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, %v; want fs.ErrNotExist", c, err)
	}
}

func TestDefault(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	if c.Source != "<embedded>" {
		t.Errorf("Source = %q", c.Source)
	}
	if !c.Demo.Enabled || c.Demo.Listen != "127.0.0.1:8081" {
		t.Errorf("Demo = %+v, want enabled on 127.0.0.1:8081", c.Demo)
	}
	if len(c.Server.Listen) != 1 || c.Server.Listen[0] != "127.0.0.1:8080" || c.Admin.Listen != "127.0.0.1:9090" {
		t.Errorf("listeners = %v, admin %q", c.Server.Listen, c.Admin.Listen)
	}
	if len(c.Origins) != 1 || c.Origins[0].Name != "demo" || c.Origins[0].Servers[0].Parsed.String() != "http://127.0.0.1:8081" {
		t.Errorf("origins = %+v, want demo -> http://127.0.0.1:8081", c.Origins)
	}
	if len(c.Routes) != 1 {
		t.Fatalf("routes = %+v, want one", c.Routes)
	}
	r := c.Routes[0]
	if r.Name != "demo" || r.Origin != "demo" || len(r.Hosts) != 0 || len(r.Paths) != 0 {
		t.Errorf("route = %+v, want catch-all demo -> demo", r)
	}
	if r.Effective.StaleWhileRevalidate.String() != "30s" || r.Effective.StaleIfError.String() != "5m0s" {
		t.Errorf("effective stale = %v / %v, want 30s / 5m", r.Effective.StaleWhileRevalidate, r.Effective.StaleIfError)
	}
	// Default's text, every commented default uncommented, must give the
	// same config: the comments tell the truth.
	// Keys shown with an example rather than their default stay commented.
	examples := map[string]bool{
		"trusted_proxies": true, "host_header": true, "path": true, "query_include": true,
		"query_exclude": true, "headers": true, "cookies": true, "hosts": true, "paths": true,
	}
	commented := regexp.MustCompile(`^# (([a-z_]+) = .*)$`)
	var b strings.Builder
	for _, line := range strings.Split(DefaultTOML(), "\n") {
		if m := commented.FindStringSubmatch(line); m != nil && !examples[m[2]] {
			line = m[1]
		}
		if line == "# [cache.policy.key]" {
			line = "[cache.policy.key]"
		}
		b.WriteString(line + "\n")
	}
	if !strings.Contains(b.String(), "\nrole = \"edge\"\n") || !strings.Contains(b.String(), "\nmax_fails = 5\n") {
		t.Fatalf("commented defaults were not uncommented:\n%s", b.String())
	}
	full, err := Parse("uncommented", []byte(b.String()))
	if err != nil {
		t.Fatalf("default.toml with its defaults uncommented: %v\n%s", err, b.String())
	}
	if !sameConfig(c, full) {
		t.Errorf("uncommenting the documented defaults changed the config:\n%+v\n%+v", c, full)
	}
}

// sameConfig reports whether a and b are equal but for their Source.
func sameConfig(a, b *Config) bool {
	bb := *b
	bb.Source = a.Source
	return reflect.DeepEqual(a, &bb)
}
