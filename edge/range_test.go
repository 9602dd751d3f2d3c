package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popcache/popcache/cache"
)

// TestParseRange follows RFC 9110 §14.1.2 and its examples, for a
// 10000-byte representation unless the case says otherwise.
func TestParseRange(t *testing.T) {
	tests := []struct {
		name   string
		v      string
		size   int64
		kind   rangeKind
		off, n int64
	}{
		{"first 500 bytes", "bytes=0-499", 10000, rangeSatisfiable, 0, 500},
		{"second 500 bytes", "bytes=500-999", 10000, rangeSatisfiable, 500, 500},
		{"last 500 bytes, suffix", "bytes=-500", 10000, rangeSatisfiable, 9500, 500},
		{"last 500 bytes, open", "bytes=9500-", 10000, rangeSatisfiable, 9500, 500},
		{"first byte", "bytes=0-0", 10000, rangeSatisfiable, 0, 1},
		{"last byte", "bytes=-1", 10000, rangeSatisfiable, 9999, 1},
		{"last position past the end is clipped", "bytes=9000-20000", 10000, rangeSatisfiable, 9000, 1000},
		{"suffix longer than the body is all of it", "bytes=-20000", 10000, rangeSatisfiable, 0, 10000},
		{"huge last position", "bytes=0-99999999999999999999999", 10000, rangeSatisfiable, 0, 10000},
		{"whitespace around", " bytes=1-2 ", 10000, rangeSatisfiable, 1, 2},
		{"first position at the end", "bytes=10000-", 10000, rangeUnsatisfiable, 0, 0},
		{"first position past the end", "bytes=20000-30000", 10000, rangeUnsatisfiable, 0, 0},
		{"empty suffix", "bytes=-0", 10000, rangeUnsatisfiable, 0, 0},
		{"any range of an empty body", "bytes=0-", 0, rangeUnsatisfiable, 0, 0},
		{"several ranges: whole body", "bytes=0-1,5-6", 10000, rangeIgnored, 0, 0},
		{"other unit", "items=0-1", 10000, rangeIgnored, 0, 0},
		{"last before first", "bytes=5-1", 10000, rangeIgnored, 0, 0},
		{"no dash", "bytes=5", 10000, rangeIgnored, 0, 0},
		{"not a number", "bytes=a-1", 10000, rangeIgnored, 0, 0},
		{"sign", "bytes=+1-2", 10000, rangeIgnored, 0, 0},
		{"empty", "bytes=", 10000, rangeIgnored, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, off, n := parseRange(tt.v, tt.size)
			if kind != tt.kind || off != tt.off || n != tt.n {
				t.Errorf("parseRange(%q, %d) = %v %d %d, want %v %d %d", tt.v, tt.size, kind, off, n, tt.kind, tt.off, tt.n)
			}
		})
	}
}

// TestIfRange follows RFC 9110 §13.1.5: a strong match lets the range
// apply; anything else sends the whole representation.
func TestIfRange(t *testing.T) {
	m := cache.Meta{
		ETag:         `"v2"`,
		LastModified: "Sat, 01 Mar 2025 11:00:00 GMT",
		Header:       http.Header{"Date": {"Sat, 01 Mar 2025 12:00:00 GMT"}},
	}
	weak := m
	weak.ETag = `W/"v2"`
	recent := m
	recent.Header = http.Header{"Date": {"Sat, 01 Mar 2025 11:00:00 GMT"}}
	tests := []struct {
		name string
		v    string
		m    *cache.Meta
		want bool
	}{
		{"same strong tag", `"v2"`, &m, true},
		{"other tag", `"v1"`, &m, false},
		{"weak tag in the request", `W/"v2"`, &m, false},
		{"weak stored tag", `"v2"`, &weak, false},
		{"same date", "Sat, 01 Mar 2025 11:00:00 GMT", &m, true},
		{"other date", "Sat, 01 Mar 2025 10:00:00 GMT", &m, false},
		{"date of a weak Last-Modified (same second as Date)", "Sat, 01 Mar 2025 11:00:00 GMT", &recent, false},
		{"garbage", "yesterday", &m, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ifRangeMatches(tt.v, tt.m); got != tt.want {
				t.Errorf("ifRangeMatches(%q) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}

// TestRangeResponses asks for ranges of objects in memory, on disk and
// still arriving from the origin.
func TestRangeResponses(t *testing.T) {
	clk := newClock()
	var fetches counter
	origin := sizedOrigin(t, clk, &fetches)
	n := startDiskNode(t, origin, t.TempDir(), smallTiers, clk)
	for _, path := range []string{"/10000", "/3000017", "/10000?accept-ranges=none", "/3000017?accept-ranges=None", "/10000?accept-ranges=bytes"} { // memory, disk only
		if _, _, err := fetchChecked(t, n.url+path); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name         string
		method, path string
		hdr          []string
		code         int
		contentRange string
		from, length int64 // of the pattern, for 200 and 206
	}{
		{"memory: first bytes", "GET", "/10000", []string{"Range", "bytes=0-99"}, 206, "bytes 0-99/10000", 0, 100},
		{"memory: suffix", "GET", "/10000", []string{"Range", "bytes=-10"}, 206, "bytes 9990-9999/10000", 9990, 10},
		{"memory: unsatisfiable", "GET", "/10000", []string{"Range", "bytes=10000-"}, 416, "bytes */10000", 0, 0},
		{"memory: several ranges get the whole body", "GET", "/10000", []string{"Range", "bytes=0-1,3-4"}, 200, "", 0, 10000},
		{"memory: If-Range matches", "GET", "/10000", []string{"Range", "bytes=5-9", "If-Range", `"/10000"`}, 206, "bytes 5-9/10000", 5, 5},
		{"memory: If-Range differs", "GET", "/10000", []string{"Range", "bytes=5-9", "If-Range", `"old"`}, 200, "", 0, 10000},
		{"memory: HEAD ignores Range (RFC 9110 §14.2)", "HEAD", "/10000", []string{"Range", "bytes=5-9"}, 200, "", 0, 0},
		{"memory: the unit is case-insensitive", "GET", "/10000", []string{"Range", "Bytes=0-0"}, 206, "bytes 0-0/10000", 0, 1},
		{"memory: two Range lines get the whole body", "GET", "/10000", []string{"Range", "bytes=0-0", "Range", "bytes=5-5"}, 200, "", 0, 10000},
		{"memory: If-None-Match wins over Range", "GET", "/10000", []string{"Range", "bytes=5-9", "If-None-Match", `"/10000"`}, 304, "", 0, 0},
		{"disk: across chunks", "GET", "/3000017", []string{"Range", "bytes=262000-800000"}, 206, "bytes 262000-800000/3000017", 262000, 538001},
		{"disk: last byte", "GET", "/3000017", []string{"Range", "bytes=-1"}, 206, "bytes 3000016-3000016/3000017", 3000016, 1},
		{"disk: unsatisfiable", "GET", "/3000017", []string{"Range", "bytes=3000017-3000020"}, 416, "bytes */3000017", 0, 0},
		{"memory: the origin said Accept-Ranges: none", "GET", "/10000?accept-ranges=none", []string{"Range", "bytes=0-99"}, 200, "", 0, 10000},
		{"disk: the origin said Accept-Ranges: none", "GET", "/3000017?accept-ranges=None", []string{"Range", "bytes=-1"}, 200, "", 0, 3000017},
		{"memory: Accept-Ranges: bytes", "GET", "/10000?accept-ranges=bytes", []string{"Range", "bytes=0-99"}, 206, "bytes 0-99/10000", 0, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, n.url+tt.path, nil)
			req.Host = "cdn.test"
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Add(tt.hdr[i], tt.hdr[i+1])
			}
			resp, err := streamClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.code || resp.Header.Get("Content-Range") != tt.contentRange {
				t.Fatalf("status %d, Content-Range %q; want %d %q", resp.StatusCode, resp.Header.Get("Content-Range"), tt.code, tt.contentRange)
			}
			if _, ar, ok := strings.Cut(tt.path, "accept-ranges="); ok && resp.Header.Get("Accept-Ranges") != ar {
				t.Errorf("Accept-Ranges %q, want the origin's %q", resp.Header.Get("Accept-Ranges"), ar)
			}
			if int64(len(got)) != tt.length || !isPattern(got, tt.from) {
				t.Errorf("body: %d bytes (pattern from %d: %v), want %d", len(got), tt.from, isPattern(got, tt.from), tt.length)
			}
			if cl := resp.Header.Get("Content-Length"); tt.method == "GET" && tt.code != 304 && cl != strconv.Itoa(len(got)) {
				t.Errorf("Content-Length %s for %d bytes", cl, len(got))
			}
		})
	}
	// One fetch per stored object (the counter goes by path, not query).
	if fetches.get("/10000") != 3 || fetches.get("/3000017") != 2 {
		t.Errorf("origin fetches %d and %d, want 3 and 2", fetches.get("/10000"), fetches.get("/3000017"))
	}
}

// isPattern reports whether b is the test pattern from offset from.
func isPattern(b []byte, from int64) bool {
	c := &patternChecker{off: from}
	c.Write(b)
	return !c.bad
}

// TestRangeWhileFilling asks for a range of a body still arriving: it is
// answered as soon as that range is there, before the rest arrives.
func TestRangeWhileFilling(t *testing.T) {
	const size = 4 << 20
	release := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		src := &patternReader{}
		io.CopyN(w, src, 1<<20)
		w.(http.Flusher).Flush()
		<-release
		io.CopyN(w, src, size-1<<20)
	}))
	t.Cleanup(origin.Close)
	defer close(release)
	n := startDiskNode(t, origin, t.TempDir(), smallTiers, newClock())

	first := make(chan error, 1)
	go func() { _, _, err := fetchChecked(t, n.url+"/f"); first <- err }() // starts the fill
	for deadline := time.Now().Add(10 * time.Second); inFlight(t, n) < 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodGet, n.url+"/f", nil)
	req.Host = "cdn.test"
	req.Header.Set("Range", "bytes=1000-1999")
	resp, err := streamClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 206 || len(got) != 1000 || !isPattern(got, 1000) {
		t.Fatalf("range during the fill: status %d, %d bytes, %v", resp.StatusCode, len(got), err)
	}
	release <- struct{}{}
	if err := <-first; err != nil {
		t.Errorf("the client of the fill: %v", err)
	}
}
