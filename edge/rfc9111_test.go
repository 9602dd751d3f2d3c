package edge

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// step is one request in an RFC scenario and what must come back.
type step struct {
	advance     time.Duration // move the clock first
	method      string        // default GET
	path        string        // default /x
	hdr         []string      // request header pairs
	wantCode    int           // default 200
	wantCS      []string      // substrings of our Cache-Status entry
	wantNotCS   []string      // substrings that must not be there
	wantFetches int           // origin requests so far for the path
	wantHeader  map[string]string
	wantBody    string
}

// originFunc answers origin request number n (from 1) for a path.
type originFunc func(w http.ResponseWriter, r *http.Request, n int, now time.Time)

// TestRFC9111 runs each caching rule as a scenario through a real edge in
// front of a real origin.
func TestRFC9111(t *testing.T) {
	body := func(w http.ResponseWriter, n int) { w.Write([]byte("body " + strconv.Itoa(n))) }
	cases := []struct {
		name   string
		extra  string
		origin originFunc
		steps  []step
	}{
		{
			name: "max-age: miss, stored, then hit with Age",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"fwd=uri-miss", "stored", "fwd-status=200"}, wantFetches: 1, wantBody: "body 1"},
				{advance: 10 * time.Second, wantCS: []string{"hit", "ttl=90"}, wantFetches: 1, wantHeader: map[string]string{"Age": "10"}, wantBody: "body 1"},
				// Kept stale_if_unreachable (10s) past its freshness: a
				// refetch of a stale copy, not a miss.
				{advance: 91 * time.Second, wantCS: []string{"fwd=stale", "stored"}, wantFetches: 2, wantBody: "body 2"},
				{advance: 111 * time.Second, wantCS: []string{"fwd=uri-miss"}, wantFetches: 3, wantBody: "body 3"},
			},
		},
		{
			name: "s-maxage overrides max-age for a shared cache",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=1, s-maxage=100")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 50 * time.Second, wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "Expires gives freshness when there is no max-age",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
				w.Header().Set("Expires", now.Add(60*time.Second).UTC().Format(http.TimeFormat))
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"stored"}, wantFetches: 1},
				{advance: 30 * time.Second, wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "Age from upstream counts against max-age",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Age", "50")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 5 * time.Second, wantCS: []string{"hit"}, wantFetches: 1},
				{advance: 6 * time.Second, wantCS: []string{"fwd=stale"}, wantFetches: 2},
			},
		},
		{
			name: "no-store is never stored",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "no-store, max-age=100")
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"detail=no-store"}, wantNotCS: []string{"stored"}, wantFetches: 1},
				{wantNotCS: []string{"hit"}, wantFetches: 2, wantBody: "body 2"},
			},
		},
		{
			name: "private is never stored by a shared cache",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "private, max-age=100")
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"detail=private"}, wantFetches: 1},
				{wantNotCS: []string{"hit"}, wantFetches: 2},
			},
		},
		{
			name: "Set-Cookie responses are not stored by default",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.Header().Set("Set-Cookie", "s="+strconv.Itoa(n))
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"detail=set-cookie"}, wantFetches: 1, wantHeader: map[string]string{"Set-Cookie": "s=1"}},
				{wantFetches: 2, wantHeader: map[string]string{"Set-Cookie": "s=2"}},
			},
		},
		{
			name:  "Set-Cookie responses are stored when the route allows",
			extra: "[cache.policy]\nallow_set_cookie = true\n",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.Header().Set("Set-Cookie", "s="+strconv.Itoa(n))
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"stored"}, wantFetches: 1},
				{wantCS: []string{"hit"}, wantFetches: 1, wantHeader: map[string]string{"Set-Cookie": "s=1"}},
			},
		},
		{
			name: "a request with Authorization is not stored without public",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				body(w, n)
			},
			steps: []step{
				{hdr: []string{"Authorization", "Bearer a"}, wantCS: []string{"detail=authorization"}, wantFetches: 1},
				{hdr: []string{"Authorization", "Bearer b"}, wantFetches: 2, wantBody: "body 2"},
			},
		},
		{
			name: "a request with Authorization is stored when the response is public",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "public, max-age=100")
				body(w, n)
			},
			steps: []step{
				{hdr: []string{"Authorization", "Bearer a"}, wantCS: []string{"stored"}, wantFetches: 1},
				{wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "Vary: variants stored apart, each a hit for its own request",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.Header().Set("Vary", "Accept-Language")
				w.Write([]byte("lang " + r.Header.Get("Accept-Language")))
			},
			steps: []step{
				{hdr: []string{"Accept-Language", "fr"}, wantFetches: 1, wantBody: "lang fr"},
				{hdr: []string{"Accept-Language", "de"}, wantCS: []string{"fwd=vary-miss"}, wantFetches: 2, wantBody: "lang de"},
				{hdr: []string{"Accept-Language", "fr"}, wantCS: []string{"hit"}, wantFetches: 2, wantBody: "lang fr"},
				{hdr: []string{"Accept-Language", "de"}, wantCS: []string{"hit"}, wantFetches: 2, wantBody: "lang de"},
			},
		},
		{
			name: "Vary: * is never stored",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.Header().Set("Vary", "*")
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"detail=vary-star"}, wantFetches: 1},
				{wantFetches: 2},
			},
		},
		{
			name: "no-cache with a validator: revalidated every time, 304 refreshes",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "no-cache")
				w.Header().Set("ETag", `"v1"`)
				w.Header().Set("X-Fetch", strconv.Itoa(n))
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Write([]byte("validated"))
			},
			steps: []step{
				{wantCS: []string{"stored"}, wantFetches: 1, wantBody: "validated"},
				{wantCS: []string{"fwd=stale", "fwd-status=304"}, wantFetches: 2, wantBody: "validated",
					wantHeader: map[string]string{"X-Fetch": "2"}},
			},
		},
		{
			name: "stale with Last-Modified: revalidated with If-Modified-Since",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				lm := time.Unix(1_600_000_000, 0).UTC().Format(http.TimeFormat)
				w.Header().Set("Cache-Control", "max-age=10")
				w.Header().Set("Last-Modified", lm)
				if r.Header.Get("If-Modified-Since") == lm {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Write([]byte("dated"))
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 20 * time.Second, wantCS: []string{"fwd=stale", "fwd-status=304"}, wantFetches: 2, wantBody: "dated"},
				{advance: 5 * time.Second, wantCS: []string{"hit"}, wantFetches: 2, wantBody: "dated"},
			},
		},
		{
			name: "client conditional answered 304 from the cache",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.Header().Set("ETag", `"e1"`)
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{hdr: []string{"If-None-Match", `"e0", W/"e1"`}, wantCode: 304, wantCS: []string{"hit"}, wantFetches: 1, wantBody: ""},
				{hdr: []string{"If-None-Match", `"other"`}, wantCode: 200, wantCS: []string{"hit"}, wantFetches: 1, wantBody: "body 1"},
			},
		},
		{
			name: "HEAD is answered from a stored GET",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{method: http.MethodHead, wantCS: []string{"hit"}, wantFetches: 1, wantBody: "",
					wantHeader: map[string]string{"Content-Length": "6"}},
			},
		},
		{
			name: "unsafe method invalidates the stored response",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{wantCS: []string{"hit"}, wantFetches: 1},
				{method: http.MethodPost, wantCS: []string{"fwd=method"}, wantFetches: 2},
				{wantCS: []string{"fwd=uri-miss"}, wantFetches: 3, wantBody: "body 3"},
			},
		},
		{
			name: "stale-while-revalidate serves stale and refreshes in the background",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 20 * time.Second, wantCS: []string{"hit", "detail=stale-while-revalidate"}, wantBody: "body 1"},
			},
		},
		{
			name: "stale-if-error serves stale when the origin fails",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				if n > 1 {
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 20 * time.Second, wantCS: []string{"fwd=stale", "detail=stale-if-error"}, wantFetches: 2, wantBody: "body 1"},
				{advance: 60 * time.Second, wantCode: 503, wantFetches: 3},
			},
		},
		{
			name: "an unreachable origin: stale served for stale_if_unreachable (10s by default)",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				if n > 1 {
					dropConnection(w)
					return
				}
				w.Header().Set("Cache-Control", "max-age=10")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 15 * time.Second, wantCS: []string{"fwd=stale", "detail=stale-if-unreachable"}, wantBody: "body 1"},
				{advance: 10 * time.Second, wantCode: http.StatusBadGateway},
			},
		},
		{
			name: "must-revalidate forbids stale-if-unreachable",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				if n > 1 {
					dropConnection(w)
					return
				}
				w.Header().Set("Cache-Control", "max-age=10, must-revalidate")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 15 * time.Second, wantCode: http.StatusBadGateway},
			},
		},
		{
			name: "a 503 from a reachable origin is no disconnection",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				if n > 1 {
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Cache-Control", "max-age=10")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 15 * time.Second, wantCode: http.StatusServiceUnavailable, wantFetches: 2},
			},
		},
		{
			name:  "stale_if_unreachable = 0 turns it off",
			extra: "[cache.policy]\nstale_if_unreachable = \"0s\"\n",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				if n > 1 {
					dropConnection(w)
					return
				}
				w.Header().Set("Cache-Control", "max-age=10")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 15 * time.Second, wantCode: http.StatusBadGateway},
			},
		},
		{
			name: "a shield's upstream-error is an unreachable origin; the origin's own 502 relayed is not",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				switch n {
				case 1:
					w.Header().Set("Cache-Control", "max-age=10")
					body(w, n)
				case 2: // a popcache shield that could not reach the origin
					w.Header().Set("Cache-Status", "popcache-shield; fwd=stale; detail=upstream-error")
					http.Error(w, "upstream", http.StatusBadGateway)
				default: // the origin's own 502, relayed
					w.Header().Set("Cache-Status", "popcache-shield; fwd=stale; fwd-status=502")
					http.Error(w, "origin", http.StatusBadGateway)
				}
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 15 * time.Second, wantCS: []string{"fwd=stale", "detail=stale-if-unreachable"}, wantFetches: 2, wantBody: "body 1"},
				{wantCode: http.StatusBadGateway, wantFetches: 3},
			},
		},
		{
			name: "a 503 stale on arrival does not replace the copy stale-if-error serves",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				if n > 1 {
					w.Header().Set("Cache-Control", "max-age=0")
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 20 * time.Second, wantCS: []string{"fwd=stale", "detail=stale-if-error"}, wantNotCS: []string{"stored"}, wantFetches: 2, wantBody: "body 1"},
				{advance: 5 * time.Second, wantCS: []string{"detail=stale-if-error"}, wantFetches: 3, wantBody: "body 1"},
				{advance: 5 * time.Second, wantCS: []string{"detail=stale-if-error"}, wantFetches: 4, wantBody: "body 1"},
			},
		},
		{
			name: "an unstored server error is as old as its fetch",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				http.Error(w, "down", http.StatusServiceUnavailable)
			},
			steps: []step{
				{wantCode: 503, wantFetches: 1, wantHeader: map[string]string{"Age": "0"}},
			},
		},
		{
			name: "must-revalidate forbids stale-if-error",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				if n > 1 {
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Cache-Control", "max-age=10, must-revalidate, stale-if-error=60")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 20 * time.Second, wantCode: 503, wantFetches: 2},
			},
		},
		{
			name: "CDN-Cache-Control takes precedence over Cache-Control and is not sent on",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("CDN-Cache-Control", "max-age=100")
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"stored"}, wantFetches: 1, wantHeader: map[string]string{"CDN-Cache-Control": "", "Cache-Control": "no-store"}},
				{wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "heuristic freshness from Last-Modified",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
				w.Header().Set("Last-Modified", now.Add(-1000*time.Second).UTC().Format(http.TimeFormat))
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"stored"}, wantFetches: 1},
				{advance: 50 * time.Second, wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "an origin's Alt-Svc never reaches clients",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.Header().Set("Alt-Svc", `h3="elsewhere.example:443"`)
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1, wantHeader: map[string]string{"Alt-Svc": ""}},
				{wantCS: []string{"hit"}, wantFetches: 1, wantHeader: map[string]string{"Alt-Svc": ""}},
			},
		},
		{
			name: "Expires: 0 (an invalid date) is already stale",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Expires", "0")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{wantFetches: 2, wantNotCS: []string{"hit"}},
			},
		},
		{
			name: "max-age beats Expires",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.Header().Set("Expires", now.Add(-time.Hour).UTC().Format(http.TimeFormat))
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 50 * time.Second, wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "a quoted max-age is understood",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", `max-age="100"`)
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 10 * time.Second, wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "request no-store: the response is not stored",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				body(w, n)
			},
			steps: []step{
				{hdr: []string{"Cache-Control", "no-store"}, wantNotCS: []string{"stored"}, wantFetches: 1},
				{wantCS: []string{"fwd=uri-miss"}, wantFetches: 2},
			},
		},
		{
			name: "request no-cache from a browser reload does not bypass the cache",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 10 * time.Second, hdr: []string{"Cache-Control", "no-cache"}, wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "request max-age=0 and min-fresh do not bypass the cache either",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 10 * time.Second, hdr: []string{"Cache-Control", "max-age=0"}, wantCS: []string{"hit"}, wantFetches: 1},
				{hdr: []string{"Cache-Control", "min-fresh=1000"}, wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "request max-stale accepts a stale response",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=10")
				w.Header().Set("ETag", `"m"`)
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{advance: 20 * time.Second, hdr: []string{"Cache-Control", "max-stale=60"}, wantCS: []string{"hit", "detail=max-stale"}, wantFetches: 1, wantBody: "body 1"},
				{hdr: []string{"Cache-Control", "max-stale=5"}, wantCS: []string{"fwd=stale"}, wantFetches: 2, wantBody: "body 2"},
			},
		},
		{
			name: "a 500 with explicit freshness is stored",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.WriteHeader(http.StatusInternalServerError)
				body(w, n)
			},
			steps: []step{
				{wantCode: 500, wantCS: []string{"stored"}, wantFetches: 1},
				{wantCode: 500, wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "a 302 without freshness is not stored",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Location", "/elsewhere")
				w.Header().Set("Last-Modified", now.Add(-time.Hour).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusFound)
			},
			steps: []step{
				{wantCode: 302, wantFetches: 1},
				{wantCode: 302, wantFetches: 2},
			},
		},
		{
			name: "a 301 is heuristically cacheable",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Location", "/elsewhere")
				w.Header().Set("Last-Modified", now.Add(-10000*time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusMovedPermanently)
			},
			steps: []step{
				{wantCode: 301, wantCS: []string{"stored"}, wantFetches: 1},
				{advance: 10 * time.Second, wantCode: 301, wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "Pragma: no-cache is ignored when Cache-Control is present",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.Header().Set("Pragma", "no-cache")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1},
				{wantCS: []string{"hit"}, wantFetches: 1},
			},
		},
		{
			name: "no-cache=\"Set-Cookie\" stores the response without the cookie",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", `max-age=100, no-cache="Set-Cookie"`)
				w.Header().Set("Set-Cookie", "s=1")
				body(w, n)
			},
			steps: []step{
				{wantCS: []string{"stored"}, wantFetches: 1},
				{wantCS: []string{"hit"}, wantFetches: 1, wantHeader: map[string]string{"Set-Cookie": ""}},
			},
		},
		{
			name: "only-if-cached on a miss is a 504",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Cache-Control", "max-age=100")
				body(w, n)
			},
			steps: []step{
				{hdr: []string{"Cache-Control", "only-if-cached"}, wantCode: 504, wantFetches: 0},
			},
		},
		{
			name: "a response without freshness or validators is not served from cache",
			origin: func(w http.ResponseWriter, r *http.Request, n int, now time.Time) {
				w.Header().Set("Content-Type", "text/plain")
				body(w, n)
			},
			steps: []step{
				{wantFetches: 1, wantBody: "body 1"},
				{wantFetches: 2, wantBody: "body 2", wantNotCS: []string{"hit"}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var fetches counter
			var n *node
			n = startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c := fetches.inc(r.URL.Path)
				now := n.clock.Now()
				w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
				tc.origin(w, r, c, now)
			}), tc.extra)
			for i, st := range tc.steps {
				n.clock.Advance(st.advance)
				method, path, code := st.method, st.path, st.wantCode
				if method == "" {
					method = http.MethodGet
				}
				if path == "" {
					path = "/x"
				}
				if code == 0 {
					code = http.StatusOK
				}
				resp, body := n.do(method, path, st.hdr...)
				cs := cacheStatusOf(resp)
				if resp.StatusCode != code {
					t.Errorf("step %d: status %d, want %d (Cache-Status %q)", i, resp.StatusCode, code, cs)
				}
				for _, want := range st.wantCS {
					if !strings.Contains(cs, want) {
						t.Errorf("step %d: Cache-Status %q lacks %q", i, cs, want)
					}
				}
				for _, bad := range st.wantNotCS {
					if strings.Contains(cs, bad) {
						t.Errorf("step %d: Cache-Status %q has %q", i, cs, bad)
					}
				}
				if st.wantFetches != 0 || st.wantCode == 504 {
					if got := fetches.get(path); got != st.wantFetches {
						t.Errorf("step %d: origin fetches %d, want %d (Cache-Status %q)", i, got, st.wantFetches, cs)
					}
				}
				for k, v := range st.wantHeader {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("step %d: %s = %q, want %q", i, k, got, v)
					}
				}
				if st.wantBody != "" || code == 304 || method == http.MethodHead {
					if body != st.wantBody {
						t.Errorf("step %d: body %q, want %q", i, body, st.wantBody)
					}
				}
			}
		})
	}
}

// dropConnection closes the connection of the request w answers without
// a response: an origin that cannot be reached.
func dropConnection(w http.ResponseWriter) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	c.Close()
}
