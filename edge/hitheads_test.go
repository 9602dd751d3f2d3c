package edge

import (
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0") // only for newFastServer; never accepted from
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := newFastServer(n.srv, ln, n.srv.plainFront())
	c := &fastConn{f: f, remote: "127.0.0.1:5555", hdr: make(http.Header, 8), wbuf: make([]byte, 0, 4<<10)}
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
