package cache

import (
	"reflect"
	"testing"
)

// parsed returns Directives as ParseDirectives returns them for no input,
// modified by f.
func parsed(f func(d *Directives)) Directives {
	d := ParseDirectives(nil)
	f(&d)
	return d
}

func TestParseDirectives(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		want   Directives
	}{
		{"absent field sets nothing", nil, parsed(func(d *Directives) {})},
		{"empty line sets nothing", []string{""}, parsed(func(d *Directives) {})},
		{"max-age in token form", []string{"max-age=60"},
			parsed(func(d *Directives) { d.MaxAge = 60; d.Known = 1 })},
		{"max-age in quoted form is accepted (§5.2)", []string{`max-age="60"`},
			parsed(func(d *Directives) { d.MaxAge = 60; d.Known = 1 })},
		{"names are case-insensitive", []string{"Max-Age=5, NO-STORE, S-MaxAge=7"},
			parsed(func(d *Directives) { d.MaxAge = 5; d.NoStore = true; d.SMaxAge = 7; d.Known = 3 })},
		{"OWS around members and = is tolerated", []string{" public ,\tmax-age = 10 , "},
			parsed(func(d *Directives) { d.Public = true; d.MaxAge = 10; d.Known = 2 })},
		{"several field lines combine", []string{"public", "max-age=10"},
			parsed(func(d *Directives) { d.Public = true; d.MaxAge = 10; d.Known = 2 })},
		{"non-integer max-age is invalid and stale (§4.2.1)", []string{"max-age=soon"},
			parsed(func(d *Directives) { d.MaxAge = 0 })},
		{"negative max-age is invalid and stale (§1.2.2)", []string{"max-age=-5"},
			parsed(func(d *Directives) { d.MaxAge = 0 })},
		{"fractional max-age is invalid and stale", []string{"max-age=1.5"},
			parsed(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age without argument is invalid and stale", []string{"max-age"},
			parsed(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age followed by junk is invalid and stale", []string{"max-age=5 6, public"},
			parsed(func(d *Directives) { d.MaxAge = 0; d.Public = true; d.Known = 1 })},
		{"delta-seconds overflow is 2^31 (§1.2.2)", []string{"max-age=99999999999999999999999"},
			parsed(func(d *Directives) { d.MaxAge = MaxDelta; d.Known = 1 })},
		{"2^31 itself is kept", []string{"s-maxage=2147483648"},
			parsed(func(d *Directives) { d.SMaxAge = MaxDelta; d.Known = 1 })},
		{"duplicate equal max-age is harmless", []string{"max-age=60, max-age=60"},
			parsed(func(d *Directives) { d.MaxAge = 60; d.Known = 2 })},
		{"conflicting duplicate max-age is stale (§4.2.1)", []string{"max-age=60", "max-age=120"},
			parsed(func(d *Directives) { d.MaxAge = 0; d.Known = 2 })},
		{"conflicting duplicate s-maxage is stale", []string{"s-maxage=60, s-maxage=1"},
			parsed(func(d *Directives) { d.SMaxAge = 0; d.Known = 2 })},
		{"duplicate stale-while-revalidate: first wins", []string{"stale-while-revalidate=30, stale-while-revalidate=90"},
			parsed(func(d *Directives) { d.StaleWhileRevalidate = 30; d.Known = 2 })},
		{"stale-if-error", []string{"stale-if-error=600"},
			parsed(func(d *Directives) { d.StaleIfError = 600; d.Known = 1 })},
		{"max-stale without value accepts any staleness (§5.2.1.2)", []string{"max-stale"},
			parsed(func(d *Directives) { d.MaxStaleAny = true; d.Known = 1 })},
		{"max-stale with value", []string{"max-stale=30"},
			parsed(func(d *Directives) { d.MaxStale = 30; d.Known = 1 })},
		{"max-stale with garbage grants nothing", []string{"max-stale=x"},
			parsed(func(d *Directives) { d.MaxStale = 0 })},
		{"min-fresh", []string{"min-fresh=20"},
			parsed(func(d *Directives) { d.MinFresh = 20; d.Known = 1 })},
		{"unqualified no-cache (§5.2.2.4)", []string{"no-cache"},
			parsed(func(d *Directives) { d.NoCache = true; d.Known = 1 })},
		{`qualified no-cache="Set-Cookie" lists the field, canonical`, []string{`no-cache="set-cookie"`},
			parsed(func(d *Directives) { d.NoCacheFields = []string{"Set-Cookie"}; d.Known = 1 })},
		{"qualified no-cache with several names", []string{`no-cache="x-a, X-B ,,x-c"`},
			parsed(func(d *Directives) { d.NoCacheFields = []string{"X-A", "X-B", "X-C"}; d.Known = 1 })},
		{"no-cache with a token argument names one field", []string{"no-cache=set-cookie"},
			parsed(func(d *Directives) { d.NoCacheFields = []string{"Set-Cookie"}; d.Known = 1 })},
		{"no-cache list drops non-token names", []string{`no-cache="bad name, X-Ok"`},
			parsed(func(d *Directives) { d.NoCacheFields = []string{"X-Ok"}; d.Known = 1 })},
		{"unterminated no-cache list reads as unqualified no-cache", []string{`no-cache="set-cookie`},
			parsed(func(d *Directives) { d.NoCache = true })},
		{`qualified private="Set-Cookie" (§5.2.2.7)`, []string{`private="Set-Cookie"`},
			parsed(func(d *Directives) { d.PrivateFields = []string{"Set-Cookie"}; d.Known = 1 })},
		{"private list with quoted-pair", []string{`private="X-\A"`},
			parsed(func(d *Directives) { d.PrivateFields = []string{"X-A"}; d.Known = 1 })},
		{"unqualified private", []string{"private"},
			parsed(func(d *Directives) { d.Private = true; d.Known = 1 })},
		{"both private forms: unqualified wins", []string{`private, private="X-A"`},
			parsed(func(d *Directives) { d.Private = true; d.PrivateFields = []string{"X-A"}; d.Known = 2 })},
		{"comma inside a quoted list is not a member separator", []string{`private="X-A, X-B", max-age=5`},
			parsed(func(d *Directives) { d.PrivateFields = []string{"X-A", "X-B"}; d.MaxAge = 5; d.Known = 2 })},
		{"all boolean response directives", []string{"public, must-revalidate, proxy-revalidate, must-understand, no-transform, immutable, no-store"},
			parsed(func(d *Directives) {
				d.Public, d.MustRevalidate, d.ProxyRevalidate, d.MustUnderstand = true, true, true, true
				d.NoTransform, d.Immutable, d.NoStore = true, true, true
				d.Known = 7
			})},
		{"only-if-cached (§5.2.1.7)", []string{"only-if-cached"},
			parsed(func(d *Directives) { d.OnlyIfCached = true; d.Known = 1 })},
		{"unknown extensions are skipped and not known", []string{`community="UCI", foo, bar=1`},
			parsed(func(d *Directives) {})},
		{"garbled no-store still forbids storage", []string{"no-store=yes"},
			parsed(func(d *Directives) { d.NoStore = true })},
		{"garbled public is ignored", []string{"public=no"},
			parsed(func(d *Directives) {})},
		{"garbage before a comma is skipped", []string{`@@@, "x,y", max-age=3`},
			parsed(func(d *Directives) { d.MaxAge = 3; d.Known = 1 })},
		{"structured-field parameters make the member invalid", []string{"max-age=60;foo=bar"},
			parsed(func(d *Directives) { d.MaxAge = 0 })},
		{"overlong unknown name", []string{"this-is-a-very-long-directive-name-nobody-knows=1, public"},
			parsed(func(d *Directives) { d.Public = true; d.Known = 1 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseDirectives(tt.fields)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseDirectives(%q)\n got %+v\nwant %+v", tt.fields, got, tt.want)
			}
		})
	}
}

func TestParseDirectivesAllocations(t *testing.T) {
	fields := []string{"public, max-age=3600, s-maxage=600, stale-while-revalidate=30, must-revalidate"}
	if n := testing.AllocsPerRun(100, func() { ParseDirectives(fields) }); n != 0 {
		t.Errorf("ParseDirectives without field lists allocates %v times, want 0", n)
	}
}

// checkDirectivesInvariants fails when d breaks what ParseDirectives promises.
func checkDirectivesInvariants(t *testing.T, d Directives) {
	t.Helper()
	for _, v := range []int64{d.MaxAge, d.SMaxAge, d.MaxStale, d.MinFresh, d.StaleWhileRevalidate, d.StaleIfError} {
		if v < -1 || v > MaxDelta {
			t.Fatalf("delta-seconds out of range: %+v", d)
		}
	}
	for _, f := range append(append([]string(nil), d.NoCacheFields...), d.PrivateFields...) {
		if !isToken(f) {
			t.Fatalf("field name %q is not a token", f)
		}
	}
}

func FuzzParseDirectives(f *testing.F) {
	for _, s := range []string{
		"max-age=60", `private="a, b"`, `no-cache="x`, "max-stale", `a="\`, `"`, ",,,", "max-age=99999999999999999999",
		`no-cache="set-cookie, \"x\""`, "s-maxage=1, s-maxage=2", "public;x=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseDirectives([]string{s})
		checkDirectivesInvariants(t, d)
		// The same line twice: duplicates never widen what one line says.
		dd := ParseDirectives([]string{s, s})
		checkDirectivesInvariants(t, dd)
		if dd.MaxAge > d.MaxAge || dd.SMaxAge > d.SMaxAge || dd.Public != d.Public || dd.NoStore != d.NoStore {
			t.Fatalf("duplicated line changed the result: %+v vs %+v", dd, d)
		}
	})
}

func BenchmarkParseDirectives(b *testing.B) {
	for _, bc := range []struct {
		name  string
		lines []string
	}{
		{"response", []string{"public, max-age=3600, s-maxage=600, stale-while-revalidate=30"}},
		{"request", []string{"max-age=0"}},
		{"private-list", []string{`private="Set-Cookie", max-age=60`}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ParseDirectives(bc.lines)
			}
		})
	}
}
