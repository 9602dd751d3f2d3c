package conf

import "testing"

// Every validation rule, each with the key and line its error must carry.
func TestValidateRules(t *testing.T) {
	tests := []errorCase{
		// Role and listeners.
		{name: "unknown role", msg: `not "middle"`, toml: `
role = "middle" # @role
` + minimal},
		{name: "listen without port", msg: "missing port", toml: `
[server]
listen = ["localhost"] # @server.listen[0]
` + minimal},
		{name: "listen with named port", msg: `port "http"`, toml: `
[server]
listen = ["127.0.0.1:http"] # @server.listen[0]
` + minimal},
		{name: "listen port out of range", toml: `
[server]
listen = ["127.0.0.1:65536"] # @server.listen[0]
` + minimal},
		{name: "second listen address", toml: `
[server]
listen = [
  "127.0.0.1:8080",
  "[::1]", # @server.listen[1]
]
` + minimal},
		{name: "empty listen list", msg: "at least one", toml: `
[server]
listen = [] # @server.listen
` + minimal},
		{name: "bad admin address", toml: `
[admin]
listen = "9090" # @admin.listen
` + minimal},
		{name: "bad demo address when enabled", toml: `
[demo]
enabled = true
listen = "localhost" # @demo.listen
` + minimal},
		{name: "admin shares the client listener", msg: "already used by server.listen[0]", toml: `
[server]
listen = [":8080"]
[admin]
listen = ":8080" # @admin.listen
` + minimal},
		{name: "demo shares the admin listener", toml: `
[demo]
enabled = true
listen = "127.0.0.1:9090" # @demo.listen
` + minimal},
		{name: "listed twice", toml: `
[server]
listen = ["127.0.0.1:1", "127.0.0.1:1"] # @server.listen[1]
` + minimal},
		{name: "server name not a token", toml: `
[server]
name = "pop cache" # @server.name
` + minimal},
		{name: "trusted proxy", msg: `"10.0.0.0/33"`, toml: `
[server]
trusted_proxies = ["10.0.0.1", "10.0.0.0/33"] # @server.trusted_proxies[1]
` + minimal},
		{name: "trusted proxy host name", toml: `
[server]
trusted_proxies = [
  "proxy.example.com", # @server.trusted_proxies[0]
]
` + minimal},
		{name: "explicit zero timeout", msg: "default, 1m0s", toml: `
[server]
read_timeout = "0s" # @server.read_timeout
` + minimal},
		{name: "explicit zero size", toml: `
[server]
max_header_bytes = 0 # @server.max_header_bytes
` + minimal},
		{name: "event loops below -1", msg: "-1 (off), 0 (one per CPU)", toml: `
[server]
event_loops = -2 # @server.event_loops
` + minimal},
		{name: "too many event loops", msg: "up to 1024", toml: `
[server]
event_loops = 5000 # @server.event_loops
` + minimal},
		{name: "negative event loop slice", msg: "must not be negative", toml: `
[server]
event_loop_slice = "-1us" # @server.event_loop_slice
` + minimal},
		{name: "event loop slice past any tick", msg: "up to 10ms", toml: `
[server]
event_loop_slice = "20ms" # @server.event_loop_slice
` + minimal},

		// Cache.
		{name: "memory below 1MiB", msg: "at least 1MiB", toml: `
[cache]
memory_max_bytes = "512KiB" # @cache.memory_max_bytes
max_object_bytes = "1KiB"
` + minimal},
		{name: "max object above memory", msg: "64MiB must not exceed", toml: `
[cache] # @cache.max_object_bytes
memory_max_bytes = "32MiB"
` + minimal},
		{name: "sendfile min negative", toml: `
[cache]
sendfile_min_bytes = -1 # @cache.sendfile_min_bytes
` + minimal},
		{name: "max object zero", toml: `
[cache]
max_object_bytes = 0 # @cache.max_object_bytes
` + minimal},
		{name: "fill timeout zero", toml: `
[cache]
fill_timeout = "0s" # @cache.fill_timeout
` + minimal},
		{name: "heuristic fraction above 1", msg: "between 0 and 1", toml: `
[cache.policy]
heuristic_fraction = 1.5 # @cache.policy.heuristic_fraction
` + minimal},
		{name: "heuristic fraction negative", toml: `
[cache.policy]
heuristic_fraction = -0.1 # @cache.policy.heuristic_fraction
` + minimal},
		{name: "negative stale-if-unreachable", msg: "must not be negative", toml: `
[cache.policy]
stale_if_unreachable = "-1s" # @cache.policy.stale_if_unreachable
` + minimal},
		{name: "heuristic fraction nan", toml: `
[cache.policy]
heuristic_fraction = nan # @cache.policy.heuristic_fraction
` + minimal},
		{name: "targeted header not a token", toml: `
[cache.policy]
targeted_headers = ["CDN-Cache-Control", "Edge Control"] # @cache.policy.targeted_headers[1]
` + minimal},
		{name: "key query", msg: `not "some"`, toml: `
[cache.policy.key]
query = "some" # @cache.policy.key.query
` + minimal},
		{name: "include and exclude", toml: `
[cache.policy.key]
query_include = ["a"]
query_exclude = ["b"] # @cache.policy.key.query_exclude
` + minimal},
		{name: "include with query none", toml: `
[cache.policy.key]
query = "none"
query_include = ["a"] # @cache.policy.key.query_include
` + minimal},
		{name: "exclude with query none", toml: `
[cache.policy.key]
query = "none"
query_exclude = ["a"] # @cache.policy.key.query_exclude
` + minimal},
		{name: "empty query parameter", toml: `
[cache.policy.key]
query_exclude = ["utm_source", ""] # @cache.policy.key.query_exclude[1]
` + minimal},
		{name: "key header listed twice in another case", msg: "first as cache.policy.key.headers[0]", toml: `
[cache.policy.key]
headers = ["Accept-Language", "accept-language"] # @cache.policy.key.headers[1]
` + minimal},
		{name: "key header not a token", toml: `
[cache.policy.key]
headers = ["X:Y"] # @cache.policy.key.headers[0]
` + minimal},
		{name: "cookie not a token and cookie twice", toml: `
[cache.policy.key]
cookies = [
  "a=b", # @cache.policy.key.cookies[0]
  "id",
  "id", # @cache.policy.key.cookies[2]
]
` + minimal},

		// Origins.
		{name: "no origins", msg: "at least one [[origins]]", noLine: []string{"origins"}, toml: `
[[routes]]
origin = "o" # @routes[0].origin
`},
		{name: "origin without name", toml: `
[[origins]] # @origins[0].name
servers = [{url = "http://a"}]
[[routes]]
origin = "o" # @routes[0].origin
`},
		{name: "duplicate origin name", msg: `already the name of origins[0]`, toml: minimal + `
[[origins]]
name = "o" # @origins[1].name
servers = [{url = "http://b"}]
`},
		{name: "origin without servers", toml: `
[[origins]]
name = "o"
servers = [] # @origins[0].servers
[[routes]]
origin = "o"
`},
		{name: "origin servers absent", toml: `
[[origins]] # @origins[0].servers
name = "o"
[[routes]]
origin = "o"
`},
		{name: "server scheme", msg: "scheme must be http or https", toml: `
[[origins]]
name = "o"
servers = [{url = "ftp://a"}] # @origins[0].servers[0].url
[[routes]]
origin = "o"
`},
		{name: "server URL with path, in the second server", msg: "a path is not allowed", toml: `
[[origins]]
name = "o"
servers = [
  {url = "http://a"},
  {url = "http://b/api"}, # @origins[0].servers[1].url
]
[[routes]]
origin = "o"
`},
		{name: "server URL with query", toml: `
[[origins]]
name = "o"
[[origins.servers]]
url = "http://a?x=1" # @origins[0].servers[0].url
[[routes]]
origin = "o"
`},
		{name: "server URL with user info", msg: "user info", toml: `
[[origins]]
name = "o"
servers = [{url = "https://user:pw@a"}] # @origins[0].servers[0].url
[[routes]]
origin = "o"
`},
		{name: "server URL without host", toml: `
[[origins]]
name = "o"
servers = [{url = "http://"}] # @origins[0].servers[0].url
[[routes]]
origin = "o"
`},
		{name: "server URL relative", toml: `
[[origins]]
name = "o"
servers = [{url = "127.0.0.1:8000"}] # @origins[0].servers[0].url
[[routes]]
origin = "o"
`},
		{name: "server URL bad port", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a:port"}] # @origins[0].servers[0].url
[[routes]]
origin = "o"
`},
		{name: "server URL missing", toml: `
[[origins]]
name = "o"
servers = [{weight = 2}] # @origins[0].servers[0].url
[[routes]]
origin = "o"
`},
		{name: "server listed twice", msg: "already servers[0]", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a:80"},
  {url = "http://a:80/"}] # @origins[0].servers[1].url
[[routes]]
origin = "o"
`},
		{name: "weight zero", msg: "must not be 0", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a", weight = 0}] # @origins[0].servers[0].weight
[[routes]]
origin = "o"
`},
		{name: "weight negative", msg: "at least 1", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a", weight = -2}] # @origins[0].servers[0].weight
[[routes]]
origin = "o"
`},
		{name: "balance", msg: `not "random"`, toml: `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
balance = "random" # @origins[0].balance
[[routes]]
origin = "o"
`},
		{name: "host header", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
host_header = "a b" # @origins[0].host_header
[[routes]]
origin = "o"
`},
		{name: "negative connection caps", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
max_conns = -1 # @origins[0].max_conns
max_idle_conns = -1 # @origins[0].max_idle_conns
[[routes]]
origin = "o"
`},
		{name: "origin timeout zero", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
connect_timeout = "0s" # @origins[0].connect_timeout
[[routes]]
origin = "o"
`},
		{name: "health timeout not below interval", msg: "2s must be less than the interval (1s)", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
[origins.health] # @origins[0].health.timeout
interval = "1s"
[[routes]]
origin = "o"
`},
		{name: "health rise and fall", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
health = {rise = -1, fall = -2} # @origins[0].health.rise origins[0].health.fall
[[routes]]
origin = "o"
`},
		{name: "health path and code in the second origin", toml: minimal + `
[[origins]]
name = "p"
servers = [{url = "http://a"}]
[origins.health]
path = "healthz" # @origins[1].health.path
expect_code = 700 # @origins[1].health.expect_code
`},
		{name: "passive max fails", msg: "passive.disabled", toml: `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
passive.max_fails = -1 # @origins[0].passive.max_fails
[[routes]]
origin = "o"
`},

		// Routes.
		{name: "no routes", msg: "at least one [[routes]]", noLine: []string{"routes"}, toml: `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
`},
		{name: "duplicate route name", toml: minimal + `
[[routes]]
name = "route-0" # @routes[1].name
origin = "o"
`},
		{name: "route origin unknown", msg: `"p" names no origin (have "o")`, toml: minimal + `
[[routes]]
origin = "p" # @routes[1].origin
`},
		{name: "route origin missing", toml: minimal + `
[[routes]] # @routes[1].origin
name = "x"
`},
		{name: "host with two wildcards", toml: minimal + `
[[routes]]
origin = "o"
hosts = ["example.com", "*.*.example.com"] # @routes[1].hosts[1]
`},
		{name: "host with inner wildcard", toml: minimal + `
[[routes]]
origin = "o"
hosts = ["img*.example.com"] # @routes[1].hosts[0]
`},
		{name: "host with port", msg: "ports", toml: minimal + `
[[routes]]
origin = "o"
hosts = ["example.com:8080"] # @routes[1].hosts[0]
`},
		{name: "host with space and trailing dot", toml: minimal + `
[[routes]]
origin = "o"
hosts = [
  "exa mple.com", # @routes[1].hosts[0]
  "example.com.", # @routes[1].hosts[1]
  "-a.com", # @routes[1].hosts[2]
  "", # @routes[1].hosts[3]
  "*.", # @routes[1].hosts[4]
]
`},
		{name: "path without slash", msg: `must start with "/"`, toml: minimal + `
[[routes]]
origin = "o"
paths = ["/ok/", "static/"] # @routes[1].paths[1]
`},
		{name: "path with query, triple star, space", toml: minimal + `
[[routes]]
origin = "o"
paths = [
  "/a?b", # @routes[1].paths[0]
  "/***", # @routes[1].paths[1]
  "/a b", # @routes[1].paths[2]
]
`},
		{name: "route cache override", toml: minimal + `
[[routes]]
origin = "o"
[routes.cache]
heuristic_fraction = 2.0 # @routes[1].cache.heuristic_fraction
key = {query = "none", query_include = ["a"]} # @routes[1].cache.key.query_include
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// Things that look suspicious but are valid.
func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		toml string
	}{
		{"port 0 twice", `
[server]
listen = ["127.0.0.1:0", "127.0.0.1:0"]
[admin]
listen = "127.0.0.1:0"
` + minimal},
		{"event loops off", `
[server]
event_loops = -1
` + minimal},
		{"four event loops", `
[server]
event_loops = 4
` + minimal},
		{"event loops never yield", `
[server]
event_loop_slice = "0s"
` + minimal},
		{"empty host listens on all interfaces", `
[server]
listen = [":8080", "[::]:8443"]
` + minimal},
		{"bad admin address when disabled", `
[admin]
disabled = true
listen = "nonsense"
` + minimal},
		{"bad demo address when not enabled", `
[demo]
listen = "nonsense"
` + minimal},
		{"passive disabled with odd max_fails", `
[[origins]]
name = "o"
servers = [{url = "http://a"}]
passive = {disabled = true, max_fails = -3}
[[routes]]
origin = "o"
`},
		{"zero where zero is meaningful", `
[cache.policy]
default_ttl = "0s"
heuristic_fraction = 0.0
heuristic_max = "0s"
stale_if_error = "0s"
enabled = false
[[origins]]
name = "o"
servers = [{url = "https://a:8443/"}]
max_conns = 0
health = {expect_code = 0}
[[routes]]
origin = "o"
`},
		{"patterns", `
[[origins]]
name = "o"
servers = [{url = "http://[::1]:8000"}]
[[routes]]
origin = "o"
hosts = ["*", "*.Example.COM", "a_b.example.com", "10.0.0.1", "localhost"]
paths = ["/", "/static/", "/img/*.png", "/a/**/b", "/**"]
`},
		{"empty include list", `
[cache.policy.key]
query_include = []
` + minimal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustParse(t, tt.toml)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	ec := errorCase{toml: `
role = "hub" # @role
[server]
listen = ["nowhere"] # @server.listen[0]
[cache] # @cache.max_object_bytes
memory_max_bytes = "2MiB"
[[origins]]
name = "o"
servers = [{url = "gopher://a"}] # @origins[0].servers[0].url
balance = "fastest" # @origins[0].balance
[[routes]]
origin = "p" # @routes[0].origin
hosts = ["a:1"] # @routes[0].hosts[0]
`}
	ec.run(t)
	// And in line order.
	_, err := Parse("test.toml", []byte(ec.toml))
	errs := err.(Errors)
	for i := 1; i < len(errs); i++ {
		if errs[i-1].Line > errs[i].Line {
			t.Errorf("errors out of line order: %v before %v", errs[i-1], errs[i])
		}
	}
}

func TestValidateWithoutText(t *testing.T) {
	// A config built in code: errors carry keys but no lines.
	c := &Config{Source: "<code>", Routes: []Route{{Origin: "x"}}}
	c.EnsureDefaults()
	checkErrors(t, c.Validate(), "<code>", []string{"origins@0", "routes[0].origin@0"}, "")
}

func TestValidateWithoutDefaults(t *testing.T) {
	// Validate alone must not panic on a bare config, and must refuse it.
	c := &Config{}
	if err := c.Validate(); err == nil {
		t.Fatal("Validate accepted an empty config without defaults")
	}
}

func TestValidateProvisions(t *testing.T) {
	c := mustParse(t, `
[server]
trusted_proxies = ["10.1.2.3/8", "192.0.2.7", "2001:db8::1"]
[[origins]]
name = "o"
servers = [{url = "HTTP://Example.com:8080/"}]
[[routes]]
origin = "o"
hosts = ["WWW.Example.COM", "*.CDN.example.com"]
`)
	wantPrefixes := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::1/128"}
	if len(c.Server.TrustedPrefixes) != len(wantPrefixes) {
		t.Fatalf("TrustedPrefixes = %v, want %v", c.Server.TrustedPrefixes, wantPrefixes)
	}
	for i, p := range c.Server.TrustedPrefixes {
		if p.String() != wantPrefixes[i] {
			t.Errorf("TrustedPrefixes[%d] = %v, want %v", i, p, wantPrefixes[i])
		}
	}
	u := c.Origins[0].Servers[0].Parsed
	if u == nil || u.Scheme != "http" || u.Host != "Example.com:8080" || u.Path != "" {
		t.Errorf("Parsed = %#v, want http://Example.com:8080 with no path", u)
	}
	if got := c.Routes[0].Hosts; got[0] != "www.example.com" || got[1] != "*.cdn.example.com" {
		t.Errorf("Hosts = %q, want them lower-cased", got)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate again: %v", err)
	}
}
