package routing

import (
	"strings"
	"testing"

	"github.com/popcache/popcache/conf"
)

// orderConfig lists routes so that config order alone would give the
// wrong answer wherever specificity should decide.
func orderConfig(t testing.TB) *conf.Config {
	o := testOrigin(t, "o", "http://127.0.0.1:1")
	r := func(name string, hosts []string, paths ...string) conf.Route {
		return conf.Route{Name: name, Hosts: hosts, Paths: paths, Origin: "o"}
	}
	return &conf.Config{
		Origins: []conf.Origin{o},
		Routes: []conf.Route{
			r("any-first", []string{"*"}, "/"),
			r("any-second", nil, "/"), // no hosts means "*"
			r("any-api", []string{"*"}, "/api/"),
			r("wild-all", []string{"*.example.com"}, "/"),
			r("wild-png", []string{"*.example.com"}, "/img/*.png"),
			r("wild-img", []string{"*.example.com"}, "/img/"),
			r("wild-icons", []string{"*.example.com"}, "/img/icons/*.svg"),
			r("wild-b", []string{"*.b.example.com"}, "/b/"),
			r("www-all", []string{"www.example.com"}, "/"),
			r("www-static", []string{"www.example.com"}, "/static/"),
			r("apex-only", []string{"example.com"}, "/only/"),
			r("ipv6", []string{"[::1]"}, "/"),
			r("deep-glob", []string{"glob.test"}, "/a/**/z"),
			r("shallow-glob", []string{"glob.test"}, "/a/*/z"),
		},
	}
}

func TestMatchOrder(t *testing.T) {
	tbl, err := New(orderConfig(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	tests := []struct {
		name, host, path, want string
	}{
		// 1. Host specificity: exact, then longest wildcard suffix, then "*".
		{"exact name beats wildcard and any", "www.example.com", "/x", "www-all"},
		{"wildcard beats any", "a.example.com", "/x", "wild-all"},
		{"longest wildcard suffix first", "a.b.example.com", "/b/x", "wild-b"},
		{"wildcard matches several labels", "x.y.example.com", "/x", "wild-all"},
		{"wildcard does not match its apex", "example.com", "/x", "any-first"},
		{"exact apex", "example.com", "/only/x", "apex-only"},
		{"any host", "other.org", "/x", "any-first"},
		{"no host header matches only any", "", "/x", "any-first"},

		// 2. Path specificity within one host pattern.
		{"longer literal first", "www.example.com", "/static/a.css", "www-static"},
		{"prefix beats glob at equal literal", "a.example.com", "/img/a.png", "wild-img"},
		{"longer glob literal beats shorter prefix", "a.example.com", "/img/icons/x.svg", "wild-icons"},
		{"glob star stays in its segment", "a.example.com", "/img/icons/x/y.svg", "wild-img"},
		{"globs of equal literal go in config order", "glob.test", "/a/m/z", "deep-glob"},
		{"double star crosses segments", "glob.test", "/a/m/n/z", "deep-glob"},
		{"glob is anchored at the end", "glob.test", "/a/m/z/", "any-first"},

		// 3. Config order breaks the remaining ties.
		{"earlier route wins a tie", "z.org", "/", "any-first"},

		// Falling through to less specific hosts.
		{"longer wildcard falls through to shorter", "a.b.example.com", "/x", "wild-all"},
		{"exact falls through to any", "example.com", "/api/v1", "any-api"},

		// Host normalisation.
		{"host is case-insensitive", "WWW.Example.COM", "/static/a", "www-static"},
		{"port is ignored", "www.example.com:8080", "/static/a", "www-static"},
		{"trailing dot is ignored", "www.example.com.", "/static/a", "www-static"},
		{"port and trailing dot", "Www.Example.Com.:443", "/static/a", "www-static"},
		{"ipv6 with port", "[::1]:8080", "/x", "ipv6"},
		{"ipv6 without port", "[::1]", "/x", "ipv6"},
		{"empty path is /", "www.example.com", "", "www-all"},
		{"paths are case-sensitive", "www.example.com", "/STATIC/a", "www-all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tbl.Match(tt.host, tt.path)
			if r == nil {
				t.Fatalf("Match(%q, %q) = nil, want %s", tt.host, tt.path, tt.want)
			}
			if r.Name != tt.want {
				t.Errorf("Match(%q, %q) = %s, want %s", tt.host, tt.path, r.Name, tt.want)
			}
		})
	}
}

// TestMatchMiss checks that a table with no catch-all never guesses.
func TestMatchMiss(t *testing.T) {
	o := testOrigin(t, "o", "http://127.0.0.1:1")
	cfg := &conf.Config{
		Origins: []conf.Origin{o},
		Routes: []conf.Route{
			{Name: "static", Hosts: []string{"www.example.com"}, Paths: []string{"/static/"}, Origin: "o"},
			{Name: "wild", Hosts: []string{"*.example.com"}, Paths: []string{"/img/*.png"}, Origin: "o"},
		},
	}
	tbl, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	tests := []struct{ name, host, path string }{
		{"unknown host", "evil.org", "/static/a"},
		{"apex of a wildcard", "example.com", "/img/a.png"},
		{"suffix lookalike", "wwwexample.com", "/static/a"},
		{"lookalike label", "a.badexample.com", "/img/a.png"},
		{"known host, no path", "www.example.com", "/other"},
		{"glob wrong extension", "a.example.com", "/img/a.jpg"},
		{"empty host", "", "/static/a"},
		{"leading dot is no label", ".example.com", "/img/a.png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := tbl.Match(tt.host, tt.path); r != nil {
				t.Errorf("Match(%q, %q) = %s, want nil", tt.host, tt.path, r.Name)
			}
		})
	}
}

func TestMatchRouteFields(t *testing.T) {
	cfg := orderConfig(t)
	cfg.Routes[0].Effective = conf.EffectivePolicy{Enabled: true, Key: conf.Key{Prefix: "p:"}}
	tbl, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	r := tbl.Match("z.org", "/")
	if r.Pool != tbl.Pool("o") || r.Pool.Name() != "o" {
		t.Errorf("Pool = %v, want the pool of origin o", r.Pool)
	}
	if !r.Policy.Enabled {
		t.Error("Policy not copied from Effective")
	}
	key := string(r.Key.Append(nil, "http", "z.org", "/", "", nil))
	if !strings.HasPrefix(key, "p:http://z.org/") {
		t.Errorf("key = %q, want the route's recipe (prefix p:)", key)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*conf.Config)
		want   []string // every one must appear
	}{
		{"unknown origin", func(c *conf.Config) { c.Routes[0].Origin = "nope" }, []string{`origin "nope" is not defined`}},
		{"bad wildcard", func(c *conf.Config) { c.Routes[0].Hosts = []string{"www.*.com"} }, []string{`"www.*.com"`}},
		{"host with port", func(c *conf.Config) { c.Routes[0].Hosts = []string{"a.com:80"} }, []string{"ports are not matched"}},
		{"relative path", func(c *conf.Config) { c.Routes[0].Paths = []string{"img/"} }, []string{"must start with '/'"}},
		{"bad balance", func(c *conf.Config) { c.Origins[0].Balance = "random" }, []string{`balance "random"`}},
		{"no servers", func(c *conf.Config) { c.Origins[0].Servers = nil }, []string{"no servers"}},
		{"every problem at once", func(c *conf.Config) {
			c.Routes[0].Hosts = []string{"*x"}
			c.Routes[1].Paths = []string{"x"}
		}, []string{`"*x"`, `"x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := orderConfig(t)
			tt.modify(cfg)
			_, err := New(cfg, Options{})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	tbl, err := New(orderConfig(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	for _, c := range matchBenchCases() {
		if n := testing.AllocsPerRun(100, func() { tbl.Match(c.host, c.path) }); n != 0 {
			t.Errorf("%s: Match allocates %v times per call", c.name, n)
		}
	}
}

type matchCase struct{ name, host, path string }

func matchBenchCases() []matchCase {
	return []matchCase{
		{"exact", "www.example.com", "/static/app.js"},
		{"exact-port-upper", "WWW.Example.com:8443", "/static/app.js"},
		{"wildcard-glob", "a.b.example.com", "/img/icons/logo.svg"},
		{"any", "other.org", "/api/v1/items"},
		{"miss-to-any", "unknown.example.org", "/some/long/path/index.html"},
	}
}

func BenchmarkMatch(b *testing.B) {
	tbl, err := New(orderConfig(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer tbl.Close()
	for _, c := range matchBenchCases() {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tbl.Match(c.host, c.path)
			}
		})
	}
}

// TestMatchLongHost: hosts too long for Match's inline buffer still match.
func TestMatchLongHost(t *testing.T) {
	tbl, err := New(orderConfig(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	long := strings.Repeat("a", 300)
	tests := []struct{ host, want string }{
		{long + ".Example.com:80", "wild-all"},
		{long + ".org", "any-first"},
	}
	for _, tt := range tests {
		if r := tbl.Match(tt.host, "/x"); r == nil || r.Name != tt.want {
			t.Errorf("Match(%d-byte host) = %v, want %s", len(tt.host), r, tt.want)
		}
	}
}
