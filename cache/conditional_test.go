package cache

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestNotModified(t *testing.T) {
	lm := t0.Add(-time.Hour)
	withETag := stored(func(m *Meta) {
		m.ETag = `"v1"`
		m.LastModified = httpDate(lm)
		m.Header = hdr("Etag", `"v1"`, "Last-Modified", httpDate(lm), "Date", httpDate(t1))
	})
	weakETag := stored(func(m *Meta) { m.ETag = `W/"v1"` })
	noValidators := stored(func(m *Meta) { m.Header = hdr("Date", httpDate(t0)) })
	noDate := stored(nil) // ResponseTime t1
	notFound := stored(func(m *Meta) { m.Status = 404; m.ETag = `"v1"` })
	tests := []struct {
		name string
		req  http.Header
		m    *Meta
		want bool
	}{
		{"no conditionals", nil, withETag, false},
		{"If-None-Match matching ETag", hdr("If-None-Match", `"v1"`), withETag, true},
		{"If-None-Match not matching", hdr("If-None-Match", `"v2"`), withETag, false},
		{"If-None-Match list with a match", hdr("If-None-Match", `"a", "v1"`), withETag, true},
		{"If-None-Match over several lines", hdr("If-None-Match", `"a"`, "If-None-Match", `"b", "v1"`), withETag, true},
		{"If-None-Match uses weak comparison: W/ on the request side", hdr("If-None-Match", `W/"v1"`), withETag, true},
		{"If-None-Match uses weak comparison: W/ on the stored side", hdr("If-None-Match", `"v1"`), weakETag, true},
		{"If-None-Match: a comma inside an entity-tag is not a separator", hdr("If-None-Match", `"v1,x"`), withETag, false},
		{"If-None-Match: unquoted garbage is skipped", hdr("If-None-Match", `v1, "v1"`), withETag, true},
		{"If-None-Match: * matches any current representation", hdr("If-None-Match", "*"), withETag, true},
		{"If-None-Match: * matches without an ETag too", hdr("If-None-Match", "*"), noValidators, true},
		{"If-None-Match without a stored ETag never matches a tag", hdr("If-None-Match", `""`), noValidators, false},
		{"If-None-Match takes precedence over If-Modified-Since (§13.2.2)",
			hdr("If-None-Match", `"v2"`, "If-Modified-Since", httpDate(t1)), withETag, false},
		{"If-Modified-Since at Last-Modified", hdr("If-Modified-Since", httpDate(lm)), withETag, true},
		{"If-Modified-Since after Last-Modified", hdr("If-Modified-Since", httpDate(lm.Add(time.Minute))), withETag, true},
		{"If-Modified-Since before Last-Modified", hdr("If-Modified-Since", httpDate(lm.Add(-time.Second))), withETag, false},
		{"If-Modified-Since invalid date is ignored", hdr("If-Modified-Since", "yesterday"), withETag, false},
		{"If-Modified-Since with two members is ignored (§13.1.3)",
			hdr("If-Modified-Since", httpDate(t1), "If-Modified-Since", httpDate(t1)), withETag, false},
		{"If-Modified-Since in the obsolete RFC 850 form", hdr("If-Modified-Since", lm.Format(rfc850GMT)), withETag, true},
		{"an RFC 850 form with a zone other than GMT is not an HTTP-date",
			hdr("If-Modified-Since", lm.Add(time.Hour).Format(time.RFC850)), withETag, false},
		{"without Last-Modified the stored Date stands in (RFC 9111 §4.3.2)",
			hdr("If-Modified-Since", httpDate(t0)), noValidators, true},
		{"without Last-Modified, a date before Date is modified",
			hdr("If-Modified-Since", httpDate(t0.Add(-time.Second))), noValidators, false},
		{"without Last-Modified or Date the receipt time stands in",
			hdr("If-Modified-Since", httpDate(t1)), noDate, true},
		{"If-Match is for origin servers and ignored", hdr("If-Match", `"nope"`), withETag, false},
		{"If-Modified-Since in the future is ignored", hdr("If-Modified-Since", httpDate(t1.Add(48*time.Hour))), withETag, false},
		{"If-Modified-Since a few seconds ahead of our clock counts", hdr("If-Modified-Since", httpDate(t1.Add(time.Hour+30*time.Second))), withETag, true},
		{"a stored non-2xx ignores conditionals (§13.2.1)", hdr("If-None-Match", `"v1"`), notFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NotModified(tt.req, tt.m, t1.Add(time.Hour)); got != tt.want {
				t.Errorf("NotModified = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNotModifiedHeaders(t *testing.T) {
	got := NotModifiedHeaders()
	want := []string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Vary", "Last-Modified"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("NotModifiedHeaders = %q, want %q", got, want)
	}
	got[0] = "X"
	if NotModifiedHeaders()[0] != "Cache-Control" {
		t.Errorf("NotModifiedHeaders shares its slice with callers")
	}
}

func TestAddValidators(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		m    *Meta
		want http.Header
	}{
		{"ETag and Last-Modified are both sent (§4.3.1)", hdr("Accept", "*/*"),
			stored(func(m *Meta) { m.ETag, m.LastModified = `"v1"`, httpDate(t0) }),
			hdr("Accept", "*/*", "If-None-Match", `"v1"`, "If-Modified-Since", httpDate(t0))},
		{"only Last-Modified", http.Header{},
			stored(func(m *Meta) { m.LastModified = httpDate(t0) }),
			hdr("If-Modified-Since", httpDate(t0))},
		{"the client's own conditionals are replaced or dropped",
			hdr("If-None-Match", `"client"`, "If-Match", `"x"`, "If-Range", `"x"`, "If-Unmodified-Since", httpDate(t0),
				"If-Modified-Since", httpDate(t0)),
			stored(func(m *Meta) { m.ETag = `W/"v1"` }),
			hdr("If-None-Match", `W/"v1"`)},
		{"no validators: nothing to add", hdr("Accept", "*/*"), stored(nil), hdr("Accept", "*/*")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			AddValidators(tt.in, tt.m)
			if !reflect.DeepEqual(tt.in, tt.want) {
				t.Errorf("got %v\nwant %v", tt.in, tt.want)
			}
		})
	}
}

// storedForFreshen evaluates a typical response received at t1.
func storedForFreshen(t *testing.T, resp http.Header) Meta {
	t.Helper()
	m, v := Evaluate(http.MethodGet, hdr("Accept-Encoding", "gzip"), 200, resp, t0, t1, defaultPolicy())
	if !v.Storable {
		t.Fatalf("fixture not storable: %+v", v)
	}
	m.BodySize = 1234
	return m
}

func TestFreshen(t *testing.T) {
	later := t1.Add(time.Hour) // the revalidation is sent then; the 304 arrives 1s later
	laterResp := later.Add(time.Second)
	base := func() http.Header {
		return hdr("Cache-Control", "max-age=60", "Date", httpDate(t1), "Etag", `"v1"`,
			"Last-Modified", httpDate(t0.Add(-time.Hour)), "Content-Type", "text/plain", "Content-Length", "1234",
			"Vary", "Accept-Encoding", "X-Version", "1")
	}
	tests := []struct {
		name    string
		resp    http.Header // the stored response; base() when nil
		h304    http.Header
		matched bool
		reason  string // verdict reason when matched
		check   func(t *testing.T, m Meta)
	}{
		{name: "a 304 with the same strong ETag freshens (§4.3.4)",
			h304:    hdr("Etag", `"v1"`, "Date", httpDate(laterResp), "Cache-Control", "max-age=120", "X-Version", "2"),
			matched: true,
			check: func(t *testing.T, m Meta) {
				if m.Lifetime != 2*time.Minute || !m.IsFresh(laterResp) {
					t.Errorf("Lifetime = %v, fresh = %v; want 2m, fresh", m.Lifetime, m.IsFresh(laterResp))
				}
				if got := m.Header.Get("X-Version"); got != "2" {
					t.Errorf("X-Version = %q: 304 fields must replace stored ones (§3.2)", got)
				}
				if got := m.Header.Get("Content-Type"); got != "text/plain" {
					t.Errorf("Content-Type = %q: fields the 304 lacks are kept", got)
				}
				if m.RequestTime != later || m.ResponseTime != laterResp || m.CorrectedInitialAge != time.Second {
					t.Errorf("age inputs = %v %v %v; want the 304's", m.RequestTime, m.ResponseTime, m.CorrectedInitialAge)
				}
				if m.BodySize != 1234 || m.Status != 200 || m.VaryKey != VaryKey([]string{"Accept-Encoding"}, hdr("Accept-Encoding", "gzip")) {
					t.Errorf("status, body size or vary key not kept: %+v", m)
				}
			}},
		{name: "the stored freshness applies anew when the 304 has no Cache-Control",
			h304: hdr("Etag", `"v1"`, "Date", httpDate(laterResp)), matched: true,
			check: func(t *testing.T, m Meta) {
				if m.Lifetime != time.Minute || !m.IsFresh(laterResp.Add(58*time.Second)) || m.IsFresh(laterResp.Add(59*time.Second)) {
					t.Errorf("Lifetime = %v, want 1m measured from the 304", m.Lifetime)
				}
			}},
		{name: "Content-Length, Age, Vary and hop-by-hop fields are not updated",
			h304: hdr("Etag", `"v1"`, "Content-Length", "0", "Age", "5", "Vary", "Cookie", "Connection", "x-hop",
				"X-Hop", "1", "Keep-Alive", "timeout=1"), matched: true,
			check: func(t *testing.T, m Meta) {
				if got := m.Header.Get("Content-Length"); got != "1234" {
					t.Errorf("Content-Length = %q, want the stored 1234", got)
				}
				if got := m.Header.Get("Vary"); got != "Accept-Encoding" {
					t.Errorf("Vary = %q, want the stored one", got)
				}
				for _, f := range []string{"Age", "Connection", "X-Hop", "Keep-Alive"} {
					if _, ok := m.Header[f]; ok {
						t.Errorf("%s stored from the 304", f)
					}
				}
				if m.CorrectedInitialAge != 6*time.Second {
					t.Errorf("CorrectedInitialAge = %v, want the 304's Age 5s + 1s delay", m.CorrectedInitialAge)
				}
			}},
		{name: "a 304 without Date gets the time it was received",
			resp: hdr("Date", httpDate(t1), "Expires", httpDate(t1.Add(time.Minute)), "Etag", `"v1"`),
			h304: hdr("Etag", `"v1"`, "Expires", httpDate(laterResp.Add(time.Minute))), matched: true,
			check: func(t *testing.T, m Meta) {
				if got := m.Header.Get("Date"); got != httpDate(laterResp) {
					t.Errorf("Date = %q, want %q", got, httpDate(laterResp))
				}
				if m.Lifetime != time.Minute {
					t.Errorf("Lifetime = %v, want Expires - new Date = 1m", m.Lifetime)
				}
			}},
		{name: "validators are recomputed from the merged header",
			h304: hdr("Etag", `"v1"`, "Last-Modified", httpDate(t0.Add(-time.Hour))), matched: true,
			check: func(t *testing.T, m Meta) {
				if m.ETag != `"v1"` || m.LastModified != httpDate(t0.Add(-time.Hour)) {
					t.Errorf("validators = %q %q", m.ETag, m.LastModified)
				}
			}},
		{name: "a different strong ETag does not match",
			h304: hdr("Etag", `"v2"`), matched: false},
		{name: "a strong ETag does not match a weak stored one (strong comparison)",
			resp: hdr("Cache-Control", "max-age=60", "Etag", `W/"v1"`), h304: hdr("Etag", `"v1"`), matched: false},
		{name: "a weak ETag matches weakly",
			resp: hdr("Cache-Control", "max-age=60", "Etag", `W/"v1"`), h304: hdr("Etag", `W/"v1"`), matched: true},
		{name: "a weak ETag matches a strong stored one weakly",
			h304: hdr("Etag", `W/"v1"`), matched: true},
		{name: "a weak ETag that differs does not match",
			h304: hdr("Etag", `W/"v2"`), matched: false},
		{name: "a 304 without validators answers the cache's own conditional",
			h304: hdr("Cache-Control", "max-age=5"), matched: true,
			check: func(t *testing.T, m Meta) {
				if m.Lifetime != 5*time.Second {
					t.Errorf("Lifetime = %v, want 5s", m.Lifetime)
				}
			}},
		{name: "a different Last-Modified does not match",
			h304: hdr("Last-Modified", httpDate(t0)), matched: false},
		{name: "the same Last-Modified in another date format matches",
			h304: hdr("Last-Modified", t0.Add(-time.Hour).Format(rfc850GMT)), matched: true},
		{name: "a 304 saying no-store matches but must not be stored",
			h304: hdr("Etag", `"v1"`, "Cache-Control", "no-store"), matched: true, reason: ReasonNoStore},
		{name: "a 304 adding Set-Cookie matches but must not be stored",
			h304: hdr("Etag", `"v1"`, "Set-Cookie", "a=1"), matched: true, reason: ReasonSetCookie},
		{name: "stripped targeted fields still govern the freshened response",
			resp: hdr("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=600", "Etag", `"v1"`),
			h304: hdr("Etag", `"v1"`, "Cache-Control", "max-age=60"), matched: true,
			check: func(t *testing.T, m Meta) {
				if m.Lifetime != 10*time.Minute {
					t.Errorf("Lifetime = %v, want CDN-Cache-Control's 10m", m.Lifetime)
				}
				if _, ok := m.Header["Cdn-Cache-Control"]; ok || m.Targeted.Get("CDN-Cache-Control") != "max-age=600" {
					t.Errorf("targeted field not kept aside: Header %v, Targeted %v", m.Header, m.Targeted)
				}
			}},
		{name: "a 304's own targeted field replaces the stored one",
			resp: hdr("CDN-Cache-Control", "max-age=600", "Etag", `"v1"`),
			h304: hdr("Etag", `"v1"`, "CDN-Cache-Control", "max-age=30"), matched: true,
			check: func(t *testing.T, m Meta) {
				if m.Lifetime != 30*time.Second {
					t.Errorf("Lifetime = %v, want 30s", m.Lifetime)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.resp
			if resp == nil {
				resp = base()
			}
			old := storedForFreshen(t, resp)
			oldCopy := old.AppendBinary(nil)
			h304 := tt.h304.Clone()
			m, v, matched := Freshen(&old, tt.h304, later, laterResp, defaultPolicy())
			if matched != tt.matched {
				t.Fatalf("matched = %v, want %v", matched, tt.matched)
			}
			if string(old.AppendBinary(nil)) != string(oldCopy) || !reflect.DeepEqual(h304, tt.h304) {
				t.Errorf("Freshen modified its inputs")
			}
			if !matched {
				if !reflect.DeepEqual(m, Meta{}) {
					t.Errorf("unmatched 304 yields a non-zero Meta")
				}
				return
			}
			if v.Storable != (tt.reason == "") || v.Reason != tt.reason {
				t.Errorf("verdict = %+v, want reason %q", v, tt.reason)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestFreshenDisabledPolicy(t *testing.T) {
	old := storedForFreshen(t, hdr("Cache-Control", "max-age=60", "Etag", `"v1"`))
	m, v, matched := Freshen(&old, hdr("Etag", `"v1"`), t1, t1, nil)
	if !matched || v.Storable || v.Reason != ReasonDisabled || m.Lifetime != time.Minute {
		t.Errorf("Freshen with nil policy = %+v, %v; want matched, not storable (disabled), lifetime 1m", v, matched)
	}
}
