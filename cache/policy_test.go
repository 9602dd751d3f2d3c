package cache

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// t0 is when the test requests are sent; responses arrive a second later.
var (
	t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Second)
)

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// defaultPolicy is conf's documented defaults.
func defaultPolicy() *conf.EffectivePolicy {
	return &conf.EffectivePolicy{
		Enabled:              true,
		HeuristicFraction:    0.1,
		HeuristicMax:         24 * time.Hour,
		TargetedHeaders:      []string{"Cdn-Cache-Control", "Surrogate-Control"},
		StripTargetedHeaders: true,
	}
}

// hdr builds a header from name, value pairs; a name may repeat.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestEvaluateStorage(t *testing.T) {
	tests := []struct {
		name   string
		method string // default GET
		req    http.Header
		status int // default 200
		resp   http.Header
		pol    func(p *conf.EffectivePolicy)
		nilPol bool
		want   string // Verdict.Reason; "" means storable
	}{
		{name: "GET 200 with max-age is storable", resp: hdr("Cache-Control", "max-age=60")},
		{name: "disabled policy stores nothing", resp: hdr("Cache-Control", "max-age=60"),
			pol: func(p *conf.EffectivePolicy) { p.Enabled = false }, want: ReasonDisabled},
		{name: "nil policy counts as disabled", resp: hdr("Cache-Control", "max-age=60"), nilPol: true, want: ReasonDisabled},
		{name: "HEAD is not stored (only GET, §3)", method: http.MethodHead, resp: hdr("Cache-Control", "max-age=60"), want: ReasonMethod},
		{name: "POST is not stored", method: http.MethodPost, resp: hdr("Cache-Control", "max-age=60"), want: ReasonMethod},
		{name: "interim 103 is not final", status: 103, resp: hdr("Cache-Control", "max-age=60"), want: ReasonStatus},
		{name: "206 is not stored by Evaluate", status: 206, resp: hdr("Cache-Control", "max-age=60"), want: ReasonStatus},
		{name: "304 is not stored by Evaluate", status: 304, resp: hdr("Cache-Control", "max-age=60"), want: ReasonStatus},
		{name: "status 600 is not a status", status: 600, resp: hdr("Cache-Control", "max-age=60"), want: ReasonStatus},
		{name: "request no-store is not stored (§5.2.1.5)", req: hdr("Cache-Control", "no-store"),
			resp: hdr("Cache-Control", "max-age=60"), want: ReasonRequestNoStore},
		{name: "request no-cache does not prevent storing", req: hdr("Cache-Control", "no-cache"),
			resp: hdr("Cache-Control", "max-age=60")},
		{name: "response no-store is not stored (§5.2.2.5)", resp: hdr("Cache-Control", "no-store, max-age=60"), want: ReasonNoStore},
		{name: "no-store in a second line still counts", resp: hdr("Cache-Control", "max-age=60", "Cache-Control", "no-store"), want: ReasonNoStore},
		{name: "must-understand with an understood status overrides no-store (§5.2.2.3)",
			resp: hdr("Cache-Control", "max-age=60, must-understand, no-store")},
		{name: "must-understand with an unknown status is not stored", status: 299,
			resp: hdr("Cache-Control", "max-age=60, must-understand, no-store"), want: ReasonMustUnderstand},
		{name: "unqualified private is not stored by a shared cache (§5.2.2.7)",
			resp: hdr("Cache-Control", "private, max-age=60"), want: ReasonPrivate},
		{name: `private="Set-Cookie" lets the rest be stored`,
			resp: hdr("Cache-Control", `private="Set-Cookie", max-age=60`, "Set-Cookie", "id=1")},
		{name: `no-cache="Set-Cookie" lets the rest be stored`,
			resp: hdr("Cache-Control", `no-cache="Set-Cookie", max-age=60`, "Set-Cookie", "id=1")},
		{name: "Authorization without public is not stored (§3.5)", req: hdr("Authorization", "Bearer x"),
			resp: hdr("Cache-Control", "max-age=60"), want: ReasonAuthorization},
		{name: "Authorization + public is storable", req: hdr("Authorization", "Bearer x"),
			resp: hdr("Cache-Control", "public, max-age=60")},
		{name: "Authorization + must-revalidate is storable", req: hdr("Authorization", "Bearer x"),
			resp: hdr("Cache-Control", "must-revalidate, max-age=60")},
		{name: "Authorization + s-maxage is storable", req: hdr("Authorization", "Bearer x"),
			resp: hdr("Cache-Control", "s-maxage=60")},
		{name: "a page for a request with Cookie gets no guessed lifetime (cache deception)", req: hdr("Cookie", "s=1"),
			resp: hdr("Last-Modified", httpDate(t0.Add(-time.Hour)), "Content-Type", "text/html; charset=utf-8"), want: ReasonCookie},
		{name: "JSON for a request with Cookie gets no guessed lifetime", req: hdr("Cookie", "s=1"),
			resp: hdr("Last-Modified", httpDate(t0.Add(-time.Hour)), "Content-Type", "application/problem+json"), want: ReasonCookie},
		{name: "an untyped answer for a request with Cookie gets no guessed lifetime", req: hdr("Cookie", "s=1"),
			resp: hdr("Last-Modified", httpDate(t0.Add(-time.Hour))), want: ReasonCookie},
		{name: "a stylesheet for a request with Cookie keeps its heuristic", req: hdr("Cookie", "s=1"),
			resp: hdr("Last-Modified", httpDate(t0.Add(-time.Hour)), "Content-Type", "text/css")},
		{name: "a page for a request with Cookie and explicit freshness is stored", req: hdr("Cookie", "s=1"),
			resp: hdr("Cache-Control", "max-age=60", "Content-Type", "text/html")},
		{name: "a public page for a request with Cookie is stored", req: hdr("Cookie", "s=1"),
			resp: hdr("Cache-Control", "public", "Last-Modified", httpDate(t0.Add(-time.Hour)), "Content-Type", "text/html")},
		{name: "Set-Cookie is passed through by default", resp: hdr("Cache-Control", "max-age=60", "Set-Cookie", "id=1"),
			want: ReasonSetCookie},
		{name: "Set-Cookie is stored when the policy allows it", resp: hdr("Cache-Control", "max-age=60", "Set-Cookie", "id=1"),
			pol: func(p *conf.EffectivePolicy) { p.AllowSetCookie = true }},
		{name: "Vary: * is never stored", resp: hdr("Cache-Control", "max-age=60", "Vary", "*"), want: ReasonVaryStar},
		{name: "Vary: * among other fields is never stored", resp: hdr("Cache-Control", "max-age=60", "Vary", "Accept-Encoding", "Vary", "Cookie, *"),
			want: ReasonVaryStar},
		{name: "302 without explicit freshness is not stored", status: 302, want: ReasonNoFreshness},
		{name: "500 without explicit freshness is not stored", status: 500, want: ReasonNoFreshness},
		{name: "599 with Last-Modified but not public is not stored (heuristic-599-not_cached)", status: 599,
			resp: hdr("Last-Modified", httpDate(t0.Add(-time.Hour))), want: ReasonNoFreshness},
		{name: "a public 599 is storable (§3: any final status)", status: 599,
			resp: hdr("Cache-Control", "public", "Last-Modified", httpDate(t0.Add(-time.Hour)))},
		{name: "a public 599 with must-understand is not stored (§5.2.2.3)", status: 599,
			resp: hdr("Cache-Control", "public, must-understand", "Last-Modified", httpDate(t0.Add(-time.Hour))), want: ReasonMustUnderstand},
		{name: "302 with max-age is storable", status: 302, resp: hdr("Cache-Control", "max-age=60")},
		{name: "302 with Expires is storable", status: 302, resp: hdr("Expires", httpDate(t1.Add(time.Hour)))},
		{name: "302 with an invalid Expires is storable (stale)", status: 302, resp: hdr("Expires", "0")},
		{name: "public 302 is storable without freshness", status: 302, resp: hdr("Cache-Control", "public")},
		{name: "200 is heuristically cacheable without any header"},
		{name: "404 is heuristically cacheable", status: 404},
		{name: "unqualified no-cache is storable (revalidated on use)", resp: hdr("Cache-Control", "no-cache")},
		{name: "CDN-Cache-Control no-store beats Cache-Control max-age",
			resp: hdr("Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"), want: ReasonNoStore},
		{name: "CDN-Cache-Control max-age beats Cache-Control no-store (RFC 9213 §2.2)",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60")},
		{name: "CDN-Cache-Control max-age beats Cache-Control private",
			resp: hdr("Cache-Control", "private", "CDN-Cache-Control", "max-age=60")},
		{name: "Surrogate-Control no-store applies without CDN-Cache-Control",
			resp: hdr("Cache-Control", "max-age=60", "Surrogate-Control", "no-store"), want: ReasonNoStore},
		{name: "CDN-Cache-Control comes before Surrogate-Control",
			resp: hdr("CDN-Cache-Control", "max-age=60", "Surrogate-Control", "no-store")},
		{name: "an empty CDN-Cache-Control is ignored",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", ""), want: ReasonNoStore},
		{name: "a valid CDN-Cache-Control of unknown directives wins (RFC 9213 §3.1)",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", "foo, bar=1")},
		{name: "an invalid CDN-Cache-Control is ignored (RFC 9213 §2.1)",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60, &&&"), want: ReasonNoStore},
		{name: "no targeted headers: only Cache-Control is obeyed",
			resp: hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"),
			pol:  func(p *conf.EffectivePolicy) { p.TargetedHeaders = nil }, want: ReasonNoStore},
		{name: "Authorization + CDN-Cache-Control public is storable", req: hdr("Authorization", "Basic x"),
			resp: hdr("Cache-Control", "max-age=60", "CDN-Cache-Control", "public, max-age=60")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, status := tt.method, tt.status
			if method == "" {
				method = http.MethodGet
			}
			if status == 0 {
				status = 200
			}
			pol := defaultPolicy()
			if tt.pol != nil {
				tt.pol(pol)
			}
			if tt.nilPol {
				pol = nil
			}
			m, v := Evaluate(method, tt.req, status, tt.resp, t0, t1, pol)
			if v.Storable != (tt.want == "") || v.Reason != tt.want {
				t.Fatalf("verdict %+v, want reason %q", v, tt.want)
			}
			if !v.Storable && !reflect.DeepEqual(m, Meta{}) {
				t.Errorf("refused response yields a non-zero Meta: %+v", m)
			}
			if v.Storable && m.Status != status {
				t.Errorf("Status = %d, want %d", m.Status, status)
			}
		})
	}
}

func TestEvaluateFreshness(t *testing.T) {
	type want struct {
		lifetime       time.Duration
		heuristic      bool
		mustRevalidate bool
		noCache        bool
		swr, sie       time.Duration
	}
	date := httpDate(t1)
	tests := []struct {
		name   string
		status int
		resp   http.Header
		pol    func(p *conf.EffectivePolicy)
		want   want
	}{
		{name: "max-age is the lifetime", resp: hdr("Cache-Control", "max-age=60", "Date", date),
			want: want{lifetime: time.Minute}},
		{name: "s-maxage overrides max-age and implies proxy-revalidate (§5.2.2.10)",
			resp: hdr("Cache-Control", "max-age=60, s-maxage=600"), want: want{lifetime: 10 * time.Minute, mustRevalidate: true}},
		{name: "max-age overrides Expires",
			resp: hdr("Cache-Control", "max-age=60", "Date", date, "Expires", httpDate(t1.Add(time.Hour))),
			want: want{lifetime: time.Minute}},
		{name: "max-age=0 is stale on arrival", resp: hdr("Cache-Control", "max-age=0"), want: want{}},
		{name: "conflicting max-age is stale", resp: hdr("Cache-Control", "max-age=60, max-age=3600"), want: want{}},
		{name: "Expires minus Date", resp: hdr("Date", date, "Expires", httpDate(t1.Add(time.Hour))),
			want: want{lifetime: time.Hour}},
		{name: "Expires minus Date ignores the local clock",
			resp: hdr("Date", httpDate(t1.Add(-24*time.Hour)), "Expires", httpDate(t1.Add(-23*time.Hour))),
			want: want{lifetime: time.Hour}},
		{name: "Expires in the past is stale", resp: hdr("Date", date, "Expires", httpDate(t1.Add(-time.Hour))), want: want{}},
		{name: "invalid Expires is stale (§5.3)", resp: hdr("Date", date, "Expires", "0"), want: want{}},
		{name: "conflicting Expires lines are stale",
			resp: hdr("Date", date, "Expires", httpDate(t1.Add(time.Hour)), "Expires", httpDate(t1.Add(2*time.Hour))), want: want{}},
		{name: "repeated equal Expires lines are fine",
			resp: hdr("Date", date, "Expires", httpDate(t1.Add(time.Hour)), "Expires", httpDate(t1.Add(time.Hour))),
			want: want{lifetime: time.Hour}},
		{name: "an invalid Date counts as the response time (RFC 9110 §6.6.1)",
			resp: hdr("Date", "yesterday", "Expires", httpDate(t1.Add(time.Hour))), want: want{lifetime: time.Hour}},
		{name: "an invalid Date with Expires in the past is stale",
			resp: hdr("Date", "foo", "Expires", httpDate(t1.Add(-time.Hour))), want: want{}},
		{name: "an invalid Date still leaves an invalid Expires stale",
			resp: hdr("Date", "foo", "Expires", "0"), want: want{}},
		{name: "heuristic: an invalid Date counts as the response time",
			resp: hdr("Date", "foo", "Last-Modified", httpDate(t1.Add(-10*time.Hour))),
			want: want{lifetime: time.Hour, heuristic: true}},
		{name: "a missing Date counts as the response time", resp: hdr("Expires", httpDate(t1.Add(time.Hour))),
			want: want{lifetime: time.Hour}},
		{name: "heuristic: a tenth of the time since Last-Modified (§4.2.2)",
			resp: hdr("Date", date, "Last-Modified", httpDate(t1.Add(-10*time.Hour))),
			want: want{lifetime: time.Hour, heuristic: true}},
		{name: "heuristic is capped at HeuristicMax",
			resp: hdr("Date", date, "Last-Modified", httpDate(t1.Add(-1000*24*time.Hour))),
			want: want{lifetime: 24 * time.Hour, heuristic: true}},
		{name: "heuristic uses the policy fraction",
			resp: hdr("Date", date, "Last-Modified", httpDate(t1.Add(-10*time.Hour))),
			pol:  func(p *conf.EffectivePolicy) { p.HeuristicFraction = 0.5 },
			want: want{lifetime: 5 * time.Hour, heuristic: true}},
		{name: "Last-Modified after Date gives no heuristic",
			resp: hdr("Date", date, "Last-Modified", httpDate(t1.Add(time.Hour))), want: want{}},
		{name: "a public 302 gets the Last-Modified heuristic (§4.2.2)", status: 302,
			resp: hdr("Cache-Control", "public", "Date", date, "Last-Modified", httpDate(t1.Add(-10*time.Hour))),
			want: want{lifetime: time.Hour, heuristic: true}},
		{name: "a public 599 gets the Last-Modified heuristic (heuristic-599-cached)", status: 599,
			resp: hdr("Cache-Control", "public", "Date", date, "Last-Modified", httpDate(t1.Add(-10*time.Hour))),
			want: want{lifetime: time.Hour, heuristic: true}},
		{name: "public in CDN-Cache-Control counts too", status: 500,
			resp: hdr("CDN-Cache-Control", "public", "Date", date, "Last-Modified", httpDate(t1.Add(-10*time.Hour))),
			want: want{lifetime: time.Hour, heuristic: true}},
		{name: "a public 599 without Last-Modified is stored stale", status: 599,
			resp: hdr("Cache-Control", "public", "Date", date), want: want{}},
		{name: "a public 302 gets the Last-Modified heuristic, not DefaultTTL", status: 302,
			resp: hdr("Cache-Control", "public", "Date", date, "Last-Modified", httpDate(t1.Add(-10*time.Hour))),
			pol:  func(p *conf.EffectivePolicy) { p.DefaultTTL = 5 * time.Minute },
			want: want{lifetime: time.Hour, heuristic: true}},
		{name: "no Last-Modified and no default TTL: stored stale", want: want{}},
		{name: "DefaultTTL applies without explicit freshness",
			pol: func(p *conf.EffectivePolicy) { p.DefaultTTL = 5 * time.Minute }, want: want{lifetime: 5 * time.Minute, heuristic: true}},
		{name: "DefaultTTL comes before the Last-Modified heuristic",
			resp: hdr("Date", date, "Last-Modified", httpDate(t1.Add(-10*time.Hour))),
			pol:  func(p *conf.EffectivePolicy) { p.DefaultTTL = 5 * time.Minute }, want: want{lifetime: 5 * time.Minute, heuristic: true}},
		{name: "DefaultTTL does not override max-age=0", resp: hdr("Cache-Control", "max-age=0"),
			pol: func(p *conf.EffectivePolicy) { p.DefaultTTL = 5 * time.Minute }, want: want{}},
		{name: "DefaultTTL does not apply to a public 302", status: 302, resp: hdr("Cache-Control", "public"),
			pol: func(p *conf.EffectivePolicy) { p.DefaultTTL = 5 * time.Minute }, want: want{}},
		{name: "must-revalidate sets MustRevalidate (§5.2.2.2)", resp: hdr("Cache-Control", "max-age=60, must-revalidate"),
			want: want{lifetime: time.Minute, mustRevalidate: true}},
		{name: "proxy-revalidate sets MustRevalidate (§5.2.2.8)", resp: hdr("Cache-Control", "max-age=60, proxy-revalidate"),
			want: want{lifetime: time.Minute, mustRevalidate: true}},
		{name: "unqualified no-cache sets NoCache, lifetime kept", resp: hdr("Cache-Control", "no-cache, max-age=60"),
			want: want{lifetime: time.Minute, noCache: true}},
		{name: "stale-while-revalidate and stale-if-error from the response (RFC 5861)",
			resp: hdr("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=600"),
			want: want{lifetime: time.Minute, swr: 30 * time.Second, sie: 10 * time.Minute}},
		{name: "stale windows default to the policy",
			resp: hdr("Cache-Control", "max-age=60"),
			pol:  func(p *conf.EffectivePolicy) { p.StaleWhileRevalidate, p.StaleIfError = time.Second, time.Hour },
			want: want{lifetime: time.Minute, swr: time.Second, sie: time.Hour}},
		{name: "a zero stale window in the response overrides the policy",
			resp: hdr("Cache-Control", "max-age=60, stale-while-revalidate=0"),
			pol:  func(p *conf.EffectivePolicy) { p.StaleWhileRevalidate, p.StaleIfError = time.Second, time.Hour },
			want: want{lifetime: time.Minute, sie: time.Hour}},
		{name: "CDN-Cache-Control max-age replaces Cache-Control max-age",
			resp: hdr("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=3600"), want: want{lifetime: time.Hour}},
		{name: "CDN-Cache-Control stale-* replace Cache-Control's",
			resp: hdr("Cache-Control", "max-age=60, stale-if-error=5", "CDN-Cache-Control", "max-age=60, stale-while-revalidate=9"),
			want: want{lifetime: time.Minute, swr: 9 * time.Second}},
		{name: "Surrogate-Control max-age replaces Cache-Control",
			resp: hdr("Cache-Control", "max-age=60", "Surrogate-Control", "max-age=120"), want: want{lifetime: 2 * time.Minute}},
		{name: "a targeted field makes Expires ignored (RFC 9213 §2.2)",
			resp: hdr("CDN-Cache-Control", "must-revalidate", "Date", date, "Expires", httpDate(t1.Add(time.Hour))),
			want: want{mustRevalidate: true}},
		{name: "a targeted field without freshness still allows heuristics",
			resp: hdr("CDN-Cache-Control", "public", "Cache-Control", "max-age=5", "Date", date, "Last-Modified", httpDate(t1.Add(-10*time.Hour))),
			want: want{lifetime: time.Hour, heuristic: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := tt.status
			if status == 0 {
				status = 200
			}
			pol := defaultPolicy()
			if tt.pol != nil {
				tt.pol(pol)
			}
			m, v := Evaluate(http.MethodGet, nil, status, tt.resp, t0, t1, pol)
			if !v.Storable {
				t.Fatalf("not storable: %+v", v)
			}
			got := want{m.Lifetime, m.Heuristic, m.MustRevalidate, m.NoCache, m.StaleWhileRevalidate, m.StaleIfError}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestEvaluateStoredHeader(t *testing.T) {
	tests := []struct {
		name         string
		resp         http.Header
		pol          func(p *conf.EffectivePolicy)
		want         http.Header
		wantTargeted http.Header
	}{
		{name: "Age is never stored; a missing Date is added (RFC 9110 §6.6.1)",
			resp: hdr("Cache-Control", "max-age=60", "Age", "10"),
			want: hdr("Cache-Control", "max-age=60", "Date", httpDate(t1))},
		{name: "hop-by-hop fields and those named in Connection are dropped",
			resp: hdr("Cache-Control", "max-age=60", "Date", httpDate(t1), "Connection", "keep-alive, x-hop",
				"Keep-Alive", "timeout=5", "X-Hop", "1", "Transfer-Encoding", "chunked", "X-Kept", "1"),
			want: hdr("Cache-Control", "max-age=60", "Date", httpDate(t1), "X-Kept", "1")},
		{name: `private="Set-Cookie" strips field`,
			resp: hdr("Cache-Control", `private="Set-Cookie", max-age=60`, "Date", httpDate(t1), "Set-Cookie", "id=1"),
			want: hdr("Cache-Control", `private="Set-Cookie", max-age=60`, "Date", httpDate(t1))},
		{name: `no-cache="X-User, X-Id" strips both fields`,
			resp: hdr("Cache-Control", `no-cache="x-user, X-Id", max-age=60`, "Date", httpDate(t1), "X-User", "bob", "X-Id", "7", "X-Other", "k"),
			want: hdr("Cache-Control", `no-cache="x-user, X-Id", max-age=60`, "Date", httpDate(t1), "X-Other", "k")},
		{name: "targeted fields are moved out of the stored header",
			resp:         hdr("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=600", "Surrogate-Control", "max-age=5", "Date", httpDate(t1)),
			want:         hdr("Cache-Control", "max-age=60", "Date", httpDate(t1)),
			wantTargeted: hdr("CDN-Cache-Control", "max-age=600", "Surrogate-Control", "max-age=5")},
		{name: "targeted fields stay when the policy does not strip them",
			resp: hdr("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=600", "Date", httpDate(t1)),
			pol:  func(p *conf.EffectivePolicy) { p.StripTargetedHeaders = false },
			want: hdr("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=600", "Date", httpDate(t1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := defaultPolicy()
			if tt.pol != nil {
				tt.pol(pol)
			}
			orig := tt.resp.Clone()
			m, v := Evaluate(http.MethodGet, nil, 200, tt.resp, t0, t1, pol)
			if !v.Storable {
				t.Fatalf("not storable: %+v", v)
			}
			if !reflect.DeepEqual(m.Header, tt.want) {
				t.Errorf("Header\n got %v\nwant %v", m.Header, tt.want)
			}
			if !reflect.DeepEqual(m.Targeted, tt.wantTargeted) {
				t.Errorf("Targeted\n got %v\nwant %v", m.Targeted, tt.wantTargeted)
			}
			if !reflect.DeepEqual(tt.resp, orig) {
				t.Errorf("Evaluate modified the response header: %v", tt.resp)
			}
		})
	}
}

func TestEvaluateMetaInputs(t *testing.T) {
	resp := hdr("Cache-Control", "max-age=600", "Date", httpDate(t1.Add(-3*time.Second)), "Age", "100",
		"Etag", `"v1"`, "Last-Modified", httpDate(t0.Add(-time.Hour)), "Vary", "accept-encoding, Accept-Language")
	req := hdr("Accept-Encoding", "gzip, br", "Accept-Language", "fr")
	m, v := Evaluate(http.MethodGet, req, 200, resp, t0, t1, defaultPolicy())
	if !v.Storable {
		t.Fatalf("not storable: %+v", v)
	}
	if m.RequestTime != t0 || m.ResponseTime != t1 {
		t.Errorf("times = %v, %v; want %v, %v", m.RequestTime, m.ResponseTime, t0, t1)
	}
	// corrected_initial_age = max(apparent 3s, age 100s + delay 1s) = 101s.
	if m.CorrectedInitialAge != 101*time.Second {
		t.Errorf("CorrectedInitialAge = %v, want 101s", m.CorrectedInitialAge)
	}
	if m.ETag != `"v1"` || m.LastModified != httpDate(t0.Add(-time.Hour)) {
		t.Errorf("validators = %q, %q", m.ETag, m.LastModified)
	}
	if want := []string{"Accept-Encoding", "Accept-Language"}; !reflect.DeepEqual(m.VaryFields, want) {
		t.Errorf("VaryFields = %q, want %q", m.VaryFields, want)
	}
	if want := VaryKey(m.VaryFields, req); m.VaryKey != want || want == "" {
		t.Errorf("VaryKey = %q, want %q", m.VaryKey, want)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	pol := defaultPolicy()
	req := hdr("Accept-Encoding", "gzip, br", "User-Agent", "bench")
	resp := hdr("Cache-Control", "public, max-age=3600", "Content-Type", "text/html", "Content-Length", "1234",
		"Date", httpDate(t1), "Etag", `"abc"`, "Last-Modified", httpDate(t0.Add(-time.Hour)), "Vary", "Accept-Encoding")
	b.ReportAllocs()
	for b.Loop() {
		if _, v := Evaluate(http.MethodGet, req, 200, resp, t0, t1, pol); !v.Storable {
			b.Fatal(v)
		}
	}
}
