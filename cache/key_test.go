package cache

import (
	"net/http"
	"strings"
	"testing"

	"github.com/popcache/popcache/conf"
)

func TestKeyRecipe(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	type req struct {
		scheme, host, path, query string
		h                         http.Header
	}
	cases := []struct {
		name   string
		recipe conf.Key
		a, b   req
		same   bool
	}{
		{"host case and default port are normalised", conf.Key{},
			req{"http", "Example.COM:80", "/a", "", nil}, req{"http", "example.com", "/a", "", nil}, true},
		{"a non-default port is kept", conf.Key{},
			req{"http", "example.com:8080", "/a", "", nil}, req{"http", "example.com", "/a", "", nil}, false},
		{"https default port", conf.Key{},
			req{"https", "example.com:443", "/a", "", nil}, req{"https", "example.com", "/a", "", nil}, true},
		{"scheme is part of the key", conf.Key{},
			req{"http", "example.com", "/a", "", nil}, req{"https", "example.com", "/a", "", nil}, false},
		{"trailing dot on host", conf.Key{},
			req{"http", "example.com.", "/a", "", nil}, req{"http", "example.com", "/a", "", nil}, true},
		{"unreserved percent-encodings decoded", conf.Key{},
			req{"http", "h", "/%61%7e%2D", "", nil}, req{"http", "h", "/a~-", "", nil}, true},
		{"reserved percent-encodings kept, hex upper-cased", conf.Key{},
			req{"http", "h", "/a%2fb", "", nil}, req{"http", "h", "/a%2Fb", "", nil}, true},
		{"encoded slash differs from slash", conf.Key{},
			req{"http", "h", "/a%2Fb", "", nil}, req{"http", "h", "/a/b", "", nil}, false},
		{"path case is kept", conf.Key{},
			req{"http", "h", "/A", "", nil}, req{"http", "h", "/a", "", nil}, false},
		{"dot segments are not resolved", conf.Key{},
			req{"http", "h", "/a/../b", "", nil}, req{"http", "h", "/b", "", nil}, false},
		{"query order is normalised", conf.Key{},
			req{"http", "h", "/", "b=2&a=1", nil}, req{"http", "h", "/", "a=1&b=2", nil}, true},
		{"query values matter", conf.Key{},
			req{"http", "h", "/", "a=1", nil}, req{"http", "h", "/", "a=2", nil}, false},
		{"empty query equals none", conf.Key{},
			req{"http", "h", "/", "&", nil}, req{"http", "h", "/", "", nil}, true},
		{"query none ignores the query", conf.Key{Query: "none"},
			req{"http", "h", "/", "a=1", nil}, req{"http", "h", "/", "a=2", nil}, true},
		{"query include keeps only listed", conf.Key{QueryInclude: []string{"id"}},
			req{"http", "h", "/", "id=1&utm=x", nil}, req{"http", "h", "/", "utm=y&id=1", nil}, true},
		{"query include still tells listed apart", conf.Key{QueryInclude: []string{"id"}},
			req{"http", "h", "/", "id=1", nil}, req{"http", "h", "/", "id=2", nil}, false},
		{"query exclude drops listed", conf.Key{QueryExclude: []string{"utm_source"}},
			req{"http", "h", "/", "a=1&utm_source=x", nil}, req{"http", "h", "/", "a=1", nil}, true},
		{"a parameter holding ';' is never dropped (cloaking)", conf.Key{QueryExclude: []string{"utm_source"}},
			req{"http", "h", "/", "a=1&utm_source=x;a=evil", nil}, req{"http", "h", "/", "a=1", nil}, false},
		{"names match decoded", conf.Key{QueryInclude: []string{"a"}},
			req{"http", "h", "/", "%61=evil", nil}, req{"http", "h", "/", "", nil}, false},
		{"a repeated parameter keeps its order", conf.Key{},
			req{"http", "h", "/", "x=2&x=1", nil}, req{"http", "h", "/", "x=1&x=2", nil}, false},
		{"distinct names still sort", conf.Key{},
			req{"http", "h", "/", "b=1&x=2&a=0&x=1", nil}, req{"http", "h", "/", "x=2&a=0&x=1&b=1", nil}, true},
		{"selected header joins the key", conf.Key{Headers: []string{"x-device"}},
			req{"http", "h", "/", "", hdr("X-Device", "mobile")}, req{"http", "h", "/", "", hdr("X-Device", "desktop")}, false},
		{"unselected header does not", conf.Key{},
			req{"http", "h", "/", "", hdr("X-Device", "mobile")}, req{"http", "h", "/", "", hdr("X-Device", "desktop")}, true},
		{"selected cookie joins the key", conf.Key{Cookies: []string{"lang"}},
			req{"http", "h", "/", "", hdr("Cookie", "a=1; lang=fr")}, req{"http", "h", "/", "", hdr("Cookie", "lang=de")}, false},
		{"other cookies do not", conf.Key{Cookies: []string{"lang"}},
			req{"http", "h", "/", "", hdr("Cookie", "a=1; lang=fr")}, req{"http", "h", "/", "", hdr("Cookie", "lang=fr; b=2")}, true},
		{"prefix splits keyspaces", conf.Key{Prefix: "v2:"},
			req{"http", "h", "/", "", nil}, req{"http", "h", "/", "", nil}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewKeyRecipe(tc.recipe)
			if err != nil {
				t.Fatal(err)
			}
			ka := string(r.Append(nil, tc.a.scheme, tc.a.host, tc.a.path, tc.a.query, tc.a.h))
			kb := string(r.Append(nil, tc.b.scheme, tc.b.host, tc.b.path, tc.b.query, tc.b.h))
			if (ka == kb) != tc.same {
				t.Errorf("keys %q and %q: same = %v, want %v", ka, kb, ka == kb, tc.same)
			}
			if tc.recipe.Prefix != "" && !strings.HasPrefix(ka, tc.recipe.Prefix) {
				t.Errorf("key %q lacks prefix %q", ka, tc.recipe.Prefix)
			}
		})
	}
}

func TestKeyRecipeRejectsUnknownQueryMode(t *testing.T) {
	if _, err := NewKeyRecipe(conf.Key{Query: "some"}); err == nil {
		t.Fatal("want an error for query = \"some\"")
	}
}

// FuzzKey checks that building a key never panics and is deterministic,
// and that equivalent hosts give equal keys.
func FuzzKey(f *testing.F) {
	f.Add("example.com", "/a/%7e/b", "b=2&a=1", "lang=fr")
	f.Add("[::1]:8080", "/", "", "")
	f.Add("h:", "%", "%%&=&", ";;=")
	r, err := NewKeyRecipe(conf.Key{Headers: []string{"X-A"}, Cookies: []string{"lang"}, QueryExclude: []string{"utm"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host, path, query, cookie string) {
		h := http.Header{"Cookie": {cookie}, "X-A": {cookie}}
		k1 := r.Append(nil, "http", host, path, query, h)
		k2 := r.Append(nil, "http", host, path, query, h)
		if string(k1) != string(k2) {
			t.Fatalf("non-deterministic key: %q vs %q", k1, k2)
		}
		up := r.Append(nil, "http", strings.ToUpper(host), path, query, h)
		if strings.ToLower(host) == strings.ToLower(strings.ToUpper(host)) && string(up) != string(k1) && isASCII(host) {
			t.Fatalf("host case changed the key: %q vs %q", up, k1)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func BenchmarkKey(b *testing.B) {
	r, _ := NewKeyRecipe(conf.Key{})
	h := http.Header{"Accept": {"*/*"}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.Append(buf[:0], "https", "www.Example.com", "/static/app.v123.js", "v=3&b=1", h)
	}
}

func TestNormalHost(t *testing.T) {
	tests := []struct{ scheme, host, want string }{
		{"http", "a.test", "a.test"},
		{"http", "A.Test.:80", "a.test"},
		{"https", "a.test:443", "a.test"},
		{"https", "a.test:80", "a.test:80"},
		{"http", "a.test:8080", "a.test:8080"},
		{"http", "[::1]:80", "[::1]"},
		{"http", "[::1]", "[::1]"},
		{"http", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.scheme+" "+tt.host, func(t *testing.T) {
			if got := NormalHost(tt.scheme, tt.host); got != tt.want {
				t.Errorf("NormalHost(%q, %q) = %q, want %q", tt.scheme, tt.host, got, tt.want)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { NormalHost("http", "a.test") }); n != 0 {
		t.Errorf("NormalHost of a normal host allocates %v times", n)
	}
}
