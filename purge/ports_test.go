package purge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
)

// TestPurgePorts: which requests a URL or prefix purge with a port
// matches. A purge URL names what a client of that URL asks for: its
// scheme's default port is the port a client leaves out of Host, as
// `curl -X PURGE` to Varnish or Fastly does (both hash the Host a client
// sent). So http://a.test:443/x is plain HTTP on port 443, another
// authority than https://a.test/x, and does not purge it; a URL purge
// still covers both schemes of its own authority. A prefix without a
// scheme has no scheme to imply a port from: 80 and 443 are taken as the
// default ports they are, so that the prefix matches the site's
// requests.
func TestPurgePorts(t *testing.T) {
	tests := []struct {
		name    string
		purge   Request
		request string // the URL requested; its scheme says whether over TLS
		want    string // "miss" (purged) or "hit"
	}{
		{"http URL purges https", Request{URLs: []string{"http://a.test/x"}}, "https://a.test/x", "miss"},
		{"https URL purges http", Request{URLs: []string{"https://a.test/x"}}, "http://a.test/x", "miss"},
		{"explicit default port", Request{URLs: []string{"http://a.test:80/x"}}, "http://a.test/x", "miss"},
		{"explicit default port in Host", Request{URLs: []string{"https://a.test/x"}}, "https://a.test:443/x", "miss"},
		{"http on 443 is not https", Request{URLs: []string{"http://a.test:443/x"}}, "https://a.test/x", "hit"},
		{"http on 443 is http on 443", Request{URLs: []string{"http://a.test:443/x"}}, "http://a.test:443/x", "miss"},
		{"https on 80 is not http", Request{URLs: []string{"https://a.test:80/x"}}, "http://a.test/x", "hit"},
		{"other port, both schemes", Request{URLs: []string{"http://a.test:8080/x"}}, "https://a.test:8080/x", "miss"},
		{"other port is another URL", Request{URLs: []string{"http://a.test:8080/x"}}, "http://a.test/x", "hit"},
		{"prefix with port 80, no scheme", Request{Prefixes: []string{"a.test:80/s/"}}, "http://a.test/s/1", "miss"},
		{"prefix with port 443, no scheme", Request{Prefixes: []string{"a.test:443/s/"}}, "https://a.test/s/1", "miss"},
		{"prefix with another port, no scheme", Request{Prefixes: []string{"a.test:8080/s/"}}, "https://a.test:8080/s/1", "miss"},
		{"prefix with another port is another site", Request{Prefixes: []string{"a.test:8080/s/"}}, "http://a.test/s/1", "hit"},
		{"prefix, https on 80 is not http", Request{Prefixes: []string{"https://a.test:80/s/"}}, "http://a.test/s/1", "hit"},
	}
	recipe, err := cache.NewKeyRecipe(conf.Key{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.purge.Validate(); err != nil {
				t.Fatal(err)
			}
			store, err := cache.New(conf.Cache{MemoryMaxBytes: 1 << 20, MaxObjectBytes: 1 << 16}, cache.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			fetched := time.Now()
			if err := store.Purge(context.Background(), rules(&tt.purge, fetched.Add(time.Second), nil)); err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, tt.request, nil)
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			key := string(recipe.Append(nil, scheme, r.Host, r.URL.EscapedPath(), r.URL.RawQuery, nil))
			obj := &cache.Object{Meta: cache.Meta{Status: 200, RequestTime: fetched, ResponseTime: fetched, Lifetime: time.Hour}}
			got := "hit"
			if _, out := store.FilterPurged(key, obj, cache.Found, r, recipe); out != cache.Found {
				got = "miss"
			}
			if got != tt.want {
				t.Errorf("purge %+v, GET %s: %s, want %s", tt.purge, tt.request, got, tt.want)
			}
		})
	}
}
