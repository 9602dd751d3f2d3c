package cache

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// purgeT0 is when the test objects were fetched.
var purgeT0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// purgeStore is a memory-only Store (a disk tier too when dir is set).
func purgeStore(t testing.TB, dir string) *Store {
	t.Helper()
	cfg := conf.Cache{
		MemoryMaxBytes: 256 << 20,
		MaxObjectBytes: 1 << 20,
		FillTimeout:    conf.Duration(10 * time.Second),
		HitForMissTTL:  conf.Duration(30 * time.Second),
	}
	if dir != "" {
		cfg.Disk = conf.Disk{Dir: dir, MaxBytes: 256 << 20, MaxObjectBytes: 64 << 20,
			ChunkBytes: 64 << 10, ExpiryInterval: conf.Duration(time.Minute)}
	}
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// purgeObj is a fresh object fetched at purgeT0 for an hour, with
// stale-while-revalidate 30s, stale-if-error 1h and header h added.
func purgeObj(h http.Header) *Object {
	hdr := http.Header{"Content-Type": {"text/plain"}, "Etag": {`"v1"`}}
	for k, v := range h {
		hdr[k] = v
	}
	return &Object{Meta: Meta{
		Status: 200, Header: hdr, RequestTime: purgeT0, ResponseTime: purgeT0,
		Lifetime: time.Hour, StaleWhileRevalidate: 30 * time.Second, StaleIfError: time.Hour,
		ETag: `"v1"`, BodySize: 5,
	}, Body: []byte("hello")}
}

// purgeReq is a GET for target ("http://host/path?query"; https sets TLS).
func purgeReq(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if r.URL.Scheme == "https" {
		r.TLS = &tls.ConnectionState{}
	}
	return r
}

// purgeKey is the primary key of r under recipe, as the edge builds it.
func purgeKey(recipe *KeyRecipe, r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return string(recipe.Append(nil, scheme, r.Host, r.URL.EscapedPath(), r.URL.RawQuery, r.Header))
}

// lookupFiltered is what the edge does: Lookup, then FilterPurged.
func lookupFiltered(s *Store, recipe *KeyRecipe, r *http.Request, now time.Time) (*Object, Outcome) {
	key := purgeKey(recipe, r)
	obj, out := s.Lookup(key, r.Header, now)
	return s.FilterPurged(key, obj, out, r, recipe)
}

// putFor stores obj under the key recipe gives target.
func putFor(t testing.TB, s *Store, recipe *KeyRecipe, target string, obj *Object) {
	t.Helper()
	if !s.Put(purgeKey(recipe, purgeReq(target)), obj, purgeT0) {
		t.Fatalf("Put %s refused", target)
	}
}

func mustRecipe(t testing.TB, k conf.Key) *KeyRecipe {
	t.Helper()
	r, err := NewKeyRecipe(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFilterPurged(t *testing.T) {
	at := purgeT0.Add(time.Minute) // the purge, a minute after the fetch
	now := at.Add(time.Second)     // the next request
	rule := func(kind PurgeKind, value string, mode PurgeMode) PurgeRule {
		return PurgeRule{Kind: kind, Value: value, Mode: mode, At: at}
	}
	tagged := http.Header{"Surrogate-Key": {"product-42  listing"}, "Cache-Tag": {"blue,green"}}
	tests := []struct {
		name   string
		stored string // URL the object was stored for
		header http.Header
		get    string // URL requested
		recipe conf.Key
		rule   PurgeRule
		want   string // hit, stale or miss
	}{
		{"url", "http://example.com/a", nil, "http://example.com/a", conf.Key{}, rule(PurgeURL, "example.com/a", PurgeHard), "miss"},
		{"url covers https", "https://example.com/a", nil, "https://example.com/a", conf.Key{}, rule(PurgeURL, "example.com/a", PurgeHard), "miss"},
		{"url host is case-insensitive, default port dropped", "http://EXAMPLE.com:80/a", nil, "http://EXAMPLE.com:80/a", conf.Key{}, rule(PurgeURL, "example.com/a", PurgeHard), "miss"},
		{"url with another port is another URL", "http://example.com:8080/a", nil, "http://example.com:8080/a", conf.Key{}, rule(PurgeURL, "example.com/a", PurgeHard), "hit"},
		{"url query order does not matter", "http://example.com/a?b=2&a=1", nil, "http://example.com/a?b=2&a=1", conf.Key{}, rule(PurgeURL, "example.com/a?a=1&b=2", PurgeHard), "miss"},
		{"url query the recipe ignores does not matter", "http://example.com/a?utm_source=x", nil, "http://example.com/a?utm_source=x", conf.Key{QueryExclude: []string{"utm_source"}}, rule(PurgeURL, "example.com/a", PurgeHard), "miss"},
		{"url escapes are normalised", "http://example.com/%7Euser", nil, "http://example.com/%7Euser", conf.Key{}, rule(PurgeURL, "example.com/~user", PurgeHard), "miss"},
		{"other url", "http://example.com/b", nil, "http://example.com/b", conf.Key{}, rule(PurgeURL, "example.com/a", PurgeHard), "hit"},
		{"url is not a prefix", "http://example.com/ab", nil, "http://example.com/ab", conf.Key{}, rule(PurgeURL, "example.com/a", PurgeHard), "hit"},
		{"prefix", "http://example.com/static/app.js", nil, "http://example.com/static/app.js", conf.Key{}, rule(PurgePrefix, "example.com/static/", PurgeHard), "miss"},
		{"prefix of another host", "http://other.com/static/app.js", nil, "http://other.com/static/app.js", conf.Key{}, rule(PurgePrefix, "example.com/static/", PurgeHard), "hit"},
		{"prefix elsewhere on the host", "http://example.com/img/a.png", nil, "http://example.com/img/a.png", conf.Key{}, rule(PurgePrefix, "example.com/static/", PurgeHard), "hit"},
		{"host, any port", "http://example.com:8080/x", nil, "http://example.com:8080/x", conf.Key{}, rule(PurgeHost, "example.com", PurgeHard), "miss"},
		{"other host", "http://example.org/x", nil, "http://example.org/x", conf.Key{}, rule(PurgeHost, "example.com", PurgeHard), "hit"},
		{"tag in Surrogate-Key", "http://example.com/p", tagged, "http://example.com/p", conf.Key{}, rule(PurgeTag, "listing", PurgeHard), "miss"},
		{"tag in Cache-Tag", "http://example.com/p", tagged, "http://example.com/p", conf.Key{}, rule(PurgeTag, "green", PurgeHard), "miss"},
		{"tag not listed", "http://example.com/p", tagged, "http://example.com/p", conf.Key{}, rule(PurgeTag, "product-4", PurgeHard), "hit"},
		{"all", "http://example.com/p", nil, "http://example.com/p", conf.Key{}, rule(PurgeAll, "", PurgeHard), "miss"},
		{"soft", "http://example.com/p", tagged, "http://example.com/p", conf.Key{}, rule(PurgeTag, "blue", PurgeSoft), "stale"},
		{"revalidate", "http://example.com/p", nil, "http://example.com/p", conf.Key{}, rule(PurgeAll, "", PurgeRevalidate), "stale"},
		{"a rule before the fetch matches nothing", "http://example.com/a", nil, "http://example.com/a", conf.Key{},
			PurgeRule{Kind: PurgeURL, Value: "example.com/a", Mode: PurgeHard, At: purgeT0.Add(-time.Second)}, "hit"},
		{"a rule at the fetch instant matches", "http://example.com/a", nil, "http://example.com/a", conf.Key{},
			PurgeRule{Kind: PurgeURL, Value: "example.com/a", Mode: PurgeHard, At: purgeT0}, "miss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := purgeStore(t, "")
			recipe := mustRecipe(t, tt.recipe)
			putFor(t, s, recipe, tt.stored, purgeObj(tt.header))
			if err := s.Purge(context.Background(), []PurgeRule{tt.rule}); err != nil {
				t.Fatal(err)
			}
			obj, out := lookupFiltered(s, recipe, purgeReq(tt.get), now)
			got := "miss"
			switch {
			case out == Found && obj.Meta.IsFresh(now):
				got = "hit"
			case out == Found:
				got = "stale"
			}
			if got != tt.want {
				t.Fatalf("after %v %s rule %q: %s, want %s", tt.rule.Mode, tt.rule.Kind, tt.rule.Value, got, tt.want)
			}
			if got == "miss" {
				// A hard match removed it: a plain Lookup misses too.
				r := purgeReq(tt.get)
				if _, out := s.Lookup(purgeKey(recipe, r), r.Header, now); out == Found {
					t.Errorf("Lookup still finds the hard-purged object")
				}
			}
		})
	}
}

func TestSoftPurgeStaleWindows(t *testing.T) {
	at := purgeT0.Add(10 * time.Minute)
	tests := []struct {
		name      string
		mode      PurgeMode
		now       time.Duration // after the purge
		fresh     bool
		swr, sie  bool
		mustReval bool
	}{
		{"soft, just after", PurgeSoft, time.Second, false, true, true, false},
		{"soft, past stale-while-revalidate", PurgeSoft, 31 * time.Second, false, false, true, false},
		{"revalidate never serves stale", PurgeRevalidate, time.Second, false, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := purgeStore(t, "")
			recipe := mustRecipe(t, conf.Key{})
			putFor(t, s, recipe, "http://example.com/p", purgeObj(nil))
			s.Purge(context.Background(), []PurgeRule{{Kind: PurgeAll, Mode: tt.mode, At: at}})
			now := at.Add(tt.now)
			obj, out := lookupFiltered(s, recipe, purgeReq("http://example.com/p"), now)
			if out != Found {
				t.Fatalf("outcome %v, want Found", out)
			}
			m := &obj.Meta
			if m.IsFresh(now) != tt.fresh || m.StaleWhileRevalidateOK(now) != tt.swr || m.StaleIfErrorOK(now) != tt.sie || m.MustRevalidate != tt.mustReval {
				t.Errorf("fresh %v swr %v sie %v must-revalidate %v; want %v %v %v %v",
					m.IsFresh(now), m.StaleWhileRevalidateOK(now), m.StaleIfErrorOK(now), m.MustRevalidate, tt.fresh, tt.swr, tt.sie, tt.mustReval)
			}
			if string(obj.Body) != "hello" {
				t.Errorf("body %q", obj.Body)
			}
			// The stored object is untouched: another rule-free store would
			// still find it fresh.
			if again, _ := s.Lookup(string(recipe.Append(nil, "http", "example.com", "/p", "", nil)), nil, now); again == nil || !again.Meta.IsFresh(now) {
				t.Errorf("the stored object was modified")
			}
		})
	}
}

func TestSoftPurgeThenRevalidatedIsCurrent(t *testing.T) {
	s := purgeStore(t, "")
	recipe := mustRecipe(t, conf.Key{})
	putFor(t, s, recipe, "http://example.com/p", purgeObj(nil))
	at := purgeT0.Add(time.Minute)
	s.Purge(context.Background(), []PurgeRule{{Kind: PurgeURL, Value: "example.com/p", Mode: PurgeSoft, At: at}})
	// A revalidation sent after the purge stores the freshened object.
	fresh := purgeObj(nil)
	fresh.Meta.RequestTime, fresh.Meta.ResponseTime = at.Add(time.Second), at.Add(time.Second)
	if !s.Put(string(recipe.Append(nil, "http", "example.com", "/p", "", nil)), fresh, at.Add(time.Second)) {
		t.Fatal("Put refused")
	}
	now := at.Add(2 * time.Second)
	obj, out := lookupFiltered(s, recipe, purgeReq("http://example.com/p"), now)
	if out != Found || !obj.Meta.IsFresh(now) {
		t.Fatalf("outcome %v fresh %v: the revalidated object should be a hit", out, obj != nil && obj.Meta.IsFresh(now))
	}
}

func TestPurgeURLCoversVaryVariants(t *testing.T) {
	s := purgeStore(t, "")
	recipe := mustRecipe(t, conf.Key{})
	key := string(recipe.Append(nil, "http", "example.com", "/v", "", nil))
	for _, lang := range []string{"en", "fr"} {
		obj := purgeObj(http.Header{"Vary": {"Accept-Language"}})
		obj.Meta.VaryFields = []string{"Accept-Language"}
		obj.Meta.VaryKey = VaryKey(obj.Meta.VaryFields, http.Header{"Accept-Language": {lang}})
		if !s.Put(key, obj, purgeT0) {
			t.Fatal("Put refused")
		}
	}
	at := purgeT0.Add(time.Minute)
	keys := recipe.URLKeys("example.com", "/v", "")
	if len(keys) != 2 {
		t.Fatalf("URLKeys = %q, want the http and https keys", keys)
	}
	s.Purge(context.Background(), []PurgeRule{{Kind: PurgeURL, Value: "example.com/v", Mode: PurgeHard, At: at, Keys: keys}})
	for _, lang := range []string{"en", "fr"} {
		r := purgeReq("http://example.com/v")
		r.Header.Set("Accept-Language", lang)
		if _, out := s.Lookup(key, r.Header, at); out == Found {
			t.Errorf("variant %s still stored after the URL's keys were removed", lang)
		}
	}
}

func TestRetirePurges(t *testing.T) {
	s := purgeStore(t, "")
	old, recent := purgeT0.Add(time.Minute), purgeT0.Add(time.Hour)
	s.Purge(context.Background(), []PurgeRule{
		{Kind: PurgeTag, Value: "old-hard", Mode: PurgeHard, At: old},
		{Kind: PurgeTag, Value: "old-soft", Mode: PurgeSoft, At: old},
		{Kind: PurgeHost, Value: "example.com", Mode: PurgeHard, At: recent},
		{Kind: PurgePrefix, Value: "example.com/a/", Mode: PurgeHard, At: old},
		{Kind: PurgePrefix, Value: "example.com/b/", Mode: PurgeHard, At: recent},
	})
	if got := s.PurgeStats().Entries; got != 5 {
		t.Errorf("Entries = %d, want 5", got)
	}
	left := s.RetirePurges(purgeT0.Add(30 * time.Minute))
	type ruleID struct {
		kind  PurgeKind
		value string
		mode  PurgeMode
		at    time.Time
	}
	want := map[ruleID]bool{
		{PurgeAll, "", PurgeSoft, old}:                     true, // old-soft
		{PurgeAll, "", PurgeRevalidate, old}:               true, // old-hard and the old prefix
		{PurgeHost, "example.com", PurgeHard, recent}:      true,
		{PurgePrefix, "example.com/b/", PurgeHard, recent}: true,
	}
	if len(left) != len(want) {
		t.Fatalf("left %+v, want %d rules", left, len(want))
	}
	for _, r := range left {
		if !want[ruleID{r.Kind, r.Value, r.Mode, r.At}] {
			t.Errorf("unexpected rule left: %+v", r)
		}
	}
	if got := s.PurgeStats().Entries; got != 3 {
		t.Errorf("Entries after retiring = %d, want 3 (all, host, one prefix)", got)
	}
	// An object fetched before the retired rules is now revalidated.
	recipe := mustRecipe(t, conf.Key{})
	putFor(t, s, recipe, "http://other.com/x", purgeObj(nil))
	obj, out := lookupFiltered(s, recipe, purgeReq("http://other.com/x"), recent)
	if out != Found || obj.Meta.IsFresh(recent) || !obj.Meta.MustRevalidate {
		t.Errorf("an object older than a retired rule: outcome %v; want Found, stale, must-revalidate", out)
	}
}

func TestPurgeValues(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"url", PurgeURLValue(nil, "https", "Example.COM.:443", "/a/%7e/b", "z=1&a=2"), "example.com/a/~/b?a=2&z=1"},
		{"url keeps a non-default port", PurgeURLValue(nil, "http", "example.com:8080", "", ""), "example.com:8080/"},
		{"prefix", PurgePrefixValue("http", "Example.com:80", "/static/%41"), "example.com/static/A"},
		{"host drops the port", PurgeHostValue("Example.com:8443"), "example.com"},
		{"host, IPv6", PurgeHostValue("[::1]:8080"), "[::1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	if keys := mustRecipe(t, conf.Key{Headers: []string{"X-Device"}}).URLKeys("example.com", "/", ""); keys != nil {
		t.Errorf("URLKeys with header recipe = %q, want nil", keys)
	}
}

// TestPurgeDiskTierAfterRestart stores objects on the disk tier, purges
// them, then reopens the store as a restarted node does, with the rules
// restored from its journal: the disk copies are not served.
func TestPurgeDiskTierAfterRestart(t *testing.T) {
	dir := t.TempDir()
	recipe := mustRecipe(t, conf.Key{})
	s := purgeStore(t, dir)
	putFor(t, s, recipe, "http://example.com/gone", purgeObj(http.Header{"Surrogate-Key": {"t1"}}))
	putFor(t, s, recipe, "http://example.com/kept", purgeObj(nil))
	at := purgeT0.Add(time.Minute)
	rules := []PurgeRule{{Kind: PurgeTag, Value: "t1", Mode: PurgeHard, At: at}}
	s.Purge(context.Background(), rules)
	left := s.RetirePurges(time.Time{})
	s.Close() // flushes the disk tier

	s2 := purgeStore(t, dir)
	now := at.Add(time.Second)
	// Without the rules the disk copy would be served: the test means it.
	if obj, out := s2.Lookup(string(recipe.Append(nil, "http", "example.com", "/gone", "", nil)), nil, now); out != Found || obj == nil {
		t.Skipf("the disk tier did not keep the object across the restart (outcome %v): nothing to check", out)
	}
	s2.Purge(context.Background(), left)
	if _, out := lookupFiltered(s2, recipe, purgeReq("http://example.com/gone"), now); out == Found {
		t.Errorf("the purged object is served from disk after a restart")
	}
	if _, out := lookupFiltered(s2, recipe, purgeReq("http://example.com/kept"), now); out != Found {
		t.Errorf("an object no rule matches was lost: %v", out)
	}
}

// TestPurgeConcurrent runs lookups against purges and retirement, for the
// race detector, and checks that a lookup after Purge returns sees it.
func TestPurgeConcurrent(t *testing.T) {
	s := purgeStore(t, "")
	recipe := mustRecipe(t, conf.Key{})
	putFor(t, s, recipe, "http://example.com/hot", purgeObj(http.Header{"Surrogate-Key": {"hot"}}))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				lookupFiltered(s, recipe, purgeReq("http://example.com/hot"), purgeT0)
			}
		}()
	}
	for i := 0; i < 200; i++ {
		at := purgeT0.Add(-time.Hour).Add(time.Duration(i) * time.Millisecond)
		s.Purge(context.Background(), []PurgeRule{{Kind: PurgeTag, Value: "other", Mode: PurgeSoft, At: at}, {Kind: PurgePrefix, Value: "example.com/x", Mode: PurgeHard, At: at}})
		if i%50 == 0 {
			s.RetirePurges(at.Add(-10 * time.Millisecond))
		}
	}
	s.Purge(context.Background(), []PurgeRule{{Kind: PurgeTag, Value: "hot", Mode: PurgeHard, At: purgeT0.Add(time.Second)}})
	if _, out := lookupFiltered(s, recipe, purgeReq("http://example.com/hot"), purgeT0); out == Found {
		t.Errorf("a lookup after Purge returned still finds the object")
	}
	close(stop)
	wg.Wait()
}
