package cache

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

func TestParseTargeted(t *testing.T) {
	parsed := func(f func(d *Directives)) Directives {
		d := Directives{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
		f(&d)
		return d
	}
	tests := []struct {
		name  string
		lines []string
		want  Directives
		ok    bool
	}{
		{"max-age", []string{"max-age=60"}, parsed(func(d *Directives) { d.MaxAge = 60; d.Known = 1 }), true},
		{"every delta directive", []string{"max-age=1, s-maxage=2, stale-while-revalidate=3, stale-if-error=4, min-fresh=5, max-stale=6"},
			parsed(func(d *Directives) {
				d.MaxAge, d.SMaxAge, d.StaleWhileRevalidate, d.StaleIfError, d.MinFresh, d.MaxStale = 1, 2, 3, 4, 5, 6
				d.Known = 6
			}), true},
		{"max-age past 2^31 is 2^31", []string{"max-age=99999999999"}, parsed(func(d *Directives) { d.MaxAge = MaxDelta; d.Known = 1 }), true},
		{"Boolean directives", []string{"no-store, public, must-revalidate, proxy-revalidate, must-understand, immutable, no-transform"},
			parsed(func(d *Directives) {
				d.NoStore, d.Public, d.MustRevalidate, d.ProxyRevalidate, d.MustUnderstand, d.Immutable, d.NoTransform = true, true, true, true, true, true, true
				d.Known = 7
			}), true},
		{"?1 is the same as a bare key", []string{"no-store=?1"}, parsed(func(d *Directives) { d.NoStore = true; d.Known = 1 }), true},
		{"?0 turns a directive off", []string{"no-store=?0, max-age=5"}, parsed(func(d *Directives) { d.MaxAge = 5; d.Known = 2 }), true},
		{"no-cache and private, unqualified", []string{"no-cache, private"},
			parsed(func(d *Directives) { d.NoCache, d.Private = true, true; d.Known = 2 }), true},
		{"private with a String field list", []string{`private="set-cookie, X-A"`},
			parsed(func(d *Directives) { d.PrivateFields = []string{"Set-Cookie", "X-A"}; d.Known = 1 }), true},
		{"no-cache with a Token", []string{"no-cache=Set-Cookie"},
			parsed(func(d *Directives) { d.NoCacheFields = []string{"Set-Cookie"}; d.Known = 1 }), true},
		{"the last of a repeated key wins", []string{"max-age=60, max-age=5"}, parsed(func(d *Directives) { d.MaxAge = 5; d.Known = 2 }), true},
		{"parameters are ignored", []string{"max-age=60;foo=bar, no-store;x"},
			parsed(func(d *Directives) { d.MaxAge, d.NoStore = 60, true; d.Known = 2 }), true},
		{"unknown directives of any type are ignored", []string{`foo, bar="x", baz=(1 2), max-age=9, qux=1.5`},
			parsed(func(d *Directives) { d.MaxAge = 9; d.Known = 1 }), true},
		{"only unknown directives is still a valid field", []string{"none"}, parsed(func(*Directives) {}), true},
		{"several lines are one dictionary", []string{"max-age=60", "no-store"},
			parsed(func(d *Directives) { d.MaxAge, d.NoStore = 60, true; d.Known = 2 }), true},

		// Ignored fields (RFC 9213 §2.1).
		{"empty", []string{""}, Directives{}, false},
		{"no lines", nil, Directives{}, false},
		{"an empty line among others", []string{"max-age=60", ""}, Directives{}, false},
		{"not a dictionary (cdn-cc-invalid-sh-type-unknown)", []string{"max-age=10000, &&&&&"}, Directives{}, false},
		{"max-age as a String (cdn-cc-invalid-sh-type-wrong)", []string{`max-age="10000"`}, Directives{}, false},
		{"max-age as a Decimal", []string{"max-age=1.5"}, Directives{}, false},
		{"max-age as a Token", []string{"max-age=soon"}, Directives{}, false},
		{"max-age as a Boolean", []string{"max-age"}, Directives{}, false},
		{"a negative max-age", []string{"max-age=-1"}, Directives{}, false},
		{"s-maxage as an Inner List", []string{"s-maxage=(1)"}, Directives{}, false},
		{"no-store with an Integer", []string{"no-store=1"}, Directives{}, false},
		{"public with a Token", []string{"public=yes"}, Directives{}, false},
		{"private with an Integer", []string{"private=1"}, Directives{}, false},
		{"max-stale as a String", []string{`max-stale="1"`}, Directives{}, false},
		{"upper-case keys are not Structured", []string{"MaX-aGe=3600"}, Directives{}, false},
		{"a space before =", []string{"max-age =100"}, Directives{}, false},
		{"a space after =", []string{"max-age= 100"}, Directives{}, false},
		{"one bad member voids the good ones", []string{"no-store, max-age=\"1\""}, Directives{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseTargeted(tt.lines)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseTargeted(%q) =\n %+v, %v\nwant\n %+v, %v", tt.lines, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestTargetedFields runs Evaluate on responses with targeted fields:
// which field governs, and what happens when it is invalid.
func TestTargetedFields(t *testing.T) {
	date := httpDate(t1)
	tests := []struct {
		name     string
		resp     http.Header
		pol      func(p *conf.EffectivePolicy)
		reason   string // "" means storable
		lifetime time.Duration
	}{
		{name: "CDN-Cache-Control max-age beats Cache-Control no-store (cdn-fresh-cc-nostore)",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=10000"), lifetime: 10000 * time.Second},
		{name: "an unparsable CDN-Cache-Control is ignored: Cache-Control no-store applies (cdn-cc-invalid-sh-type-unknown)",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=10000, &&&&&"), reason: ReasonNoStore},
		{name: "a quoted max-age voids CDN-Cache-Control (cdn-cc-invalid-sh-type-wrong)",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", `max-age="10000"`), reason: ReasonNoStore},
		{name: "an invalid CDN-Cache-Control falls back to Cache-Control max-age",
			resp: hdr("Cache-Control", "max-age=1", "CDN-Cache-Control", "max-age= 100"), lifetime: time.Second},
		{name: "an invalid CDN-Cache-Control falls back to Expires",
			resp:     hdr("Date", date, "Expires", httpDate(t1.Add(time.Hour)), "CDN-Cache-Control", "MaX-aGe=5"),
			lifetime: time.Hour},
		{name: "an invalid CDN-Cache-Control falls back to Surrogate-Control",
			resp:     hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=1.5", "Surrogate-Control", "max-age=30"),
			lifetime: 30 * time.Second},
		{name: "a valid CDN-Cache-Control of unknown directives still wins (RFC 9213 §3.1)",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", "none")},
		{name: "a CDN-Cache-Control parameter is ignored",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60;foo"), lifetime: time.Minute},
		{name: "any configured targeted field but Surrogate-Control is Structured",
			resp: hdr("Cache-Control", "no-store", "Acme-Cache-Control", `max-age="60"`), reason: ReasonNoStore,
			pol: func(p *conf.EffectivePolicy) { p.TargetedHeaders = []string{"Acme-Cache-Control"} }},
		{name: "a configured Structured targeted field governs when valid",
			resp: hdr("Cache-Control", "no-store", "Acme-Cache-Control", "max-age=60"), lifetime: time.Minute,
			pol: func(p *conf.EffectivePolicy) { p.TargetedHeaders = []string{"Acme-Cache-Control"} }},

		// Surrogate-Control keeps the lenient Cache-Control grammar.
		{name: "Surrogate-Control names are case-insensitive (surrogate-max-age-case-insensitive)",
			resp: hdr("Surrogate-Control", "MaX-aGe=3600"), lifetime: time.Hour},
		{name: "Surrogate-Control skips unknown junk (surrogate-max-age-extension)",
			resp: hdr("Surrogate-Control", "foobar, max-age=3600"), lifetime: time.Hour},
		{name: "Surrogate-Control no-store beats Cache-Control max-age",
			resp: hdr("Cache-Control", "max-age=10000", "Surrogate-Control", "no-store"), reason: ReasonNoStore},
		{name: "a Surrogate-Control of unknown directives is ignored",
			resp: hdr("Cache-Control", "no-store", "Surrogate-Control", "foo"), reason: ReasonNoStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := defaultPolicy()
			if tt.pol != nil {
				tt.pol(pol)
			}
			m, v := Evaluate(http.MethodGet, nil, 200, tt.resp, t0, t1, pol)
			if v.Reason != tt.reason {
				t.Fatalf("verdict %+v, want reason %q", v, tt.reason)
			}
			if v.Storable && m.Lifetime != tt.lifetime {
				t.Errorf("Lifetime %v, want %v", m.Lifetime, tt.lifetime)
			}
		})
	}
}
