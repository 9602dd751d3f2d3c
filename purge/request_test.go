package purge

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *Request // nil: a 400
		msg  string   // part of the error message
	}{
		{"urls", `{"urls": ["https://example.com/a?b=1"]}`, &Request{URLs: []string{"https://example.com/a?b=1"}}, ""},
		{"everything", `{"urls":["http://a.com/"],"prefixes":["a.com/static/"],"hosts":["b.com"],"tags":["t1"],"all":true,"soft":true}`,
			&Request{URLs: []string{"http://a.com/"}, Prefixes: []string{"a.com/static/"}, Hosts: []string{"b.com"}, Tags: []string{"t1"}, All: true, Soft: true}, ""},
		{"prefix with a scheme", `{"prefixes": ["https://example.com/img/"]}`, &Request{Prefixes: []string{"https://example.com/img/"}}, ""},
		{"surrounding space", " \n{\"tags\": [\"x\"]}\n ", &Request{Tags: []string{"x"}}, ""},
		{"empty body", ``, nil, "empty body"},
		{"malformed", `{"urls": [}`, nil, "malformed JSON"},
		{"truncated", `{"urls": ["http://a.com/"`, nil, "truncated"},
		{"unknown field", `{"url": ["http://a.com/"]}`, nil, `unknown field "url"`},
		{"wrong type", `{"urls": "http://a.com/"}`, nil, `field "urls"`},
		{"two objects", `{"tags":["a"]} {"tags":["b"]}`, nil, "after the JSON object"},
		{"trailing garbage", `{"tags":["a"]} x`, nil, "after the JSON object"},
		{"array", `[{"tags":["a"]}]`, nil, "want"},
		{"empty purge", `{}`, nil, "empty purge"},
		{"empty lists", `{"urls": [], "tags": [], "soft": true}`, nil, "empty purge"},
		{"prefix without host", `{"prefixes": ["/static/"]}`, nil, "has no host"},
		{"prefix with a query", `{"prefixes": ["a.com/s?x=1"]}`, nil, "a host and a path"},
		{"relative url", `{"urls": ["/a"]}`, nil, "absolute http"},
		{"url without host", `{"urls": ["http:///a"]}`, nil, "no host"},
		{"ftp url", `{"urls": ["ftp://a.com/a"]}`, nil, "absolute http"},
		{"url with user", `{"urls": ["http://u:p@a.com/a"]}`, nil, "user info"},
		{"url with fragment", `{"urls": ["http://a.com/a#x"]}`, nil, "fragment"},
		{"host with port", `{"hosts": ["a.com:8080"]}`, nil, "bare host name"},
		{"host with scheme", `{"hosts": ["http://a.com"]}`, nil, "bare host name"},
		{"tag with space", `{"tags": ["a b"]}`, nil, "no spaces"},
		{"tag with comma", `{"tags": ["a,b"]}`, nil, "no spaces"},
		{"empty tag", `{"tags": [""]}`, nil, "empty tag"},
		{"too many items", `{"tags": [` + strings.Repeat(`"t",`, MaxItems) + `"t"]}`, nil, "at most 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest(strings.NewReader(tt.body))
			if tt.want == nil {
				var re *RequestError
				if !errors.As(err, &re) {
					t.Fatalf("ParseRequest = %+v, %v; want a *RequestError", got, err)
				}
				if !strings.Contains(re.Msg, tt.msg) {
					t.Errorf("message %q does not mention %q", re.Msg, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRules(t *testing.T) {
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	recipe, err := cache.NewKeyRecipe(conf.Key{QueryExclude: []string{"utm_source"}})
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(host, path string) *cache.KeyRecipe {
		if strings.EqualFold(host, "example.com") {
			return recipe
		}
		return nil
	}
	q := &Request{
		URLs:     []string{"https://Example.com/a?utm_source=x&b=2&a=1", "http://other.com:8080/x"},
		Prefixes: []string{"example.com/static/", "https://example.com:443/img/"},
		Hosts:    []string{"Example.COM"},
		Tags:     []string{"t1"},
		All:      true,
	}
	got := rules(q, at, resolve)
	want := []cache.PurgeRule{
		{Kind: cache.PurgeURL, Value: "example.com/a?a=1&b=2", Mode: cache.PurgeHard, At: at,
			Keys: []string{"http://example.com/a?a=1&b=2", "https://example.com/a?a=1&b=2"}},
		{Kind: cache.PurgeURL, Value: "other.com:8080/x", Mode: cache.PurgeHard, At: at},
		{Kind: cache.PurgePrefix, Value: "example.com/static/", Mode: cache.PurgeHard, At: at},
		{Kind: cache.PurgePrefix, Value: "example.com/img/", Mode: cache.PurgeHard, At: at},
		{Kind: cache.PurgeHost, Value: "example.com", Mode: cache.PurgeHard, At: at},
		{Kind: cache.PurgeTag, Value: "t1", Mode: cache.PurgeHard, At: at},
		{Kind: cache.PurgeAll, Mode: cache.PurgeHard, At: at},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rules =\n%+v\nwant\n%+v", got, want)
	}
	soft := rules(&Request{URLs: []string{"https://example.com/a"}, Soft: true}, at, resolve)
	if len(soft) != 1 || soft[0].Mode != cache.PurgeSoft || soft[0].Keys != nil {
		t.Errorf("soft URL purge = %+v: want a soft rule and no keys removed", soft)
	}
}

// FuzzParseRequest: no input panics; what parses is valid, survives a
// round trip through JSON unchanged, and turns into rules.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"urls":["https://example.com/a?b=1"]}`,
		`{"prefixes":["example.com/static/"],"soft":true}`,
		`{"hosts":["a.com"],"tags":["x","y"],"all":true}`,
		`{"prefixes":["/x"]}`, `{}`, `{"url":1}`, `[]`, `{"tags":["a"]}x`,
		`{"urls":["http://[::1]:80/%zz"]}`,
	} {
		f.Add([]byte(s))
	}
	at := time.Unix(1, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := ParseRequest(strings.NewReader(string(body)))
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *RequestError: %v", err, err)
			}
			return
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("parsed but invalid: %v", err)
		}
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseRequest(strings.NewReader(string(b)))
		if err != nil || !reflect.DeepEqual(q, again) {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", q, b, again, err)
		}
		n := len(q.URLs) + len(q.Prefixes) + len(q.Hosts) + len(q.Tags)
		if q.All {
			n++
		}
		if rs := rules(q, at, nil); len(rs) != n {
			t.Fatalf("%d rules for %d items", len(rs), n)
		}
	})
}
