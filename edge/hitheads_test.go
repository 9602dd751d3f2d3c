package edge

import (
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popcache/popcache/cache"

	"github.com/popcache/popcache/internal/testproc"
)

// TestFastHitHeadsOutliveAge checks that a fast-path hit writes the Age
// and Cache-Status of its own second into heads made once per object:
// the lines change with the clock, nothing else does, and a hit in a new
// second allocates no more than one in the same second (the heads used
// to be rebuilt every second, which on a large working set meant nearly
// every hit).
func TestFastHitHeadsOutliveAge(t *testing.T) {
	n := startNode(t, benchOrigin(1<<10), "")
	n.get("/obj")
	c := newTestFastConn(t, n)
	host := strings.TrimPrefix(n.url, "http://")
	hit := func(extra string) string {
		req := []byte("GET /obj HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n")
		head, vals, res, _ := parseH1Head(req, 0, c.hdr, c.vals)
		c.vals = vals
		if res != parseOK || !c.answer(&head) {
			t.Fatal("not a fast-path hit")
		}
		out := string(c.wbuf)
		c.wbuf = c.wbuf[:0]
		return out
	}
	dynamic := regexp.MustCompile(`(?m)^(Age|Cache-Status): .*\r\n`)
	lines := regexp.MustCompile(`\r\nAge: (\d+)\r\n(?:.*\r\n)*?Cache-Status: popcache; hit; ttl=(\d+)\r\n`)
	// Whole seconds only: the age then moves by exactly as much, whatever
	// fraction of a second it started at.
	tests := []struct {
		name, extra, code string
		advance           time.Duration
	}{
		{"first", "", "200", 0},
		{"same second", "", "200", 0},
		{"next second", "", "200", time.Second},
		{"304", "If-None-Match: \"b\"\r\n", "304", 2 * time.Second},
		{"much later", "", "200", 1000 * time.Second},
	}
	var static200 string
	prevAge := -1
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.clock.Advance(tt.advance)
			out := hit(tt.extra)
			if !strings.HasPrefix(out, "HTTP/1.1 "+tt.code+" ") {
				t.Fatalf("status line of %q", out)
			}
			m := lines.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no Age and Cache-Status lines in %q", out)
			}
			age, _ := strconv.Atoi(m[1])
			ttl, _ := strconv.Atoi(m[2])
			if prevAge >= 0 && age-prevAge != int(tt.advance/time.Second) {
				t.Errorf("Age %d after %d and %v", age, prevAge, tt.advance)
			}
			prevAge = age
			if ttl != 3600-age {
				t.Errorf("ttl=%d with Age %d", ttl, age)
			}
			if tt.code != "200" {
				return
			}
			if !strings.HasSuffix(out, "\r\n\r\n"+strings.Repeat("x", 1<<10)) {
				t.Errorf("head and body not as expected: %q", out)
			}
			static := dynamic.ReplaceAllString(out, "")
			if static200 == "" {
				static200 = static
			} else if static != static200 {
				t.Errorf("the rest of the head changed:\n%q\nwas\n%q", static, static200)
			}
		})
	}
	same := testing.AllocsPerRun(50, func() { hit("") })
	next := testing.AllocsPerRun(50, func() { n.clock.Advance(time.Second); hit("") })
	if next > same {
		t.Errorf("a hit in a new second allocates %.0f times, one in the same second %.0f", next, same)
	}
}

// TestHeadsWithinReserve checks that the heads a fast hit makes for an
// object take about the room the memory tier reserved for them when it
// stored the object (cache.HeadsReserve), measured on the heap over many
// objects with a typical header.
func TestHeadsWithinReserve(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	if !testproc.Alone(t) {
		return
	}
	n := startNode(t, benchOrigin(1<<10), "")
	hdr := http.Header{
		"Cache-Control":  {"public, max-age=3600"},
		"Content-Type":   {"application/javascript; charset=utf-8"},
		"Content-Length": {"1024"},
		"Date":           {"Fri, 27 Nov 2026 15:00:00 GMT"},
		"Etag":           {`"5f3a9c0e-400"`},
		"Last-Modified":  {"Thu, 26 Nov 2026 10:00:00 GMT"},
		"Vary":           {"Accept-Encoding"},
		"Via":            {"1.1 popcache"},
	}
	const count = 4000
	objs := make([]*cache.Object, count)
	for i := range objs {
		objs[i] = &cache.Object{Meta: cache.Meta{Status: http.StatusOK, Header: hdr.Clone(), Lifetime: time.Hour}, Body: make([]byte, 1<<10)}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, o := range objs {
		if hd := n.srv.hitHeads(o); hd.H2 == nil {
			t.Fatal("no HTTP/2 fields: the measure would be short")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	real := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / count
	reserve := cache.HeadsReserve(hdr)
	t.Logf("heads: %d bytes on the heap per object, %d reserved", real, reserve)
	if ratio := float64(real) / float64(reserve); ratio < 0.7 || ratio > 1.1 {
		t.Errorf("heads take %d bytes, %.2f of the %d reserved: want 0.7..1.1", real, ratio, reserve)
	}
	runtime.KeepAlive(objs)
}
