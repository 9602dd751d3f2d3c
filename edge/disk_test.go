package edge

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// diskNode is an edge with a disk tier that a test can stop and start
// again on the same directory, in front of one origin.
type diskNode struct {
	*node
	stop func()
}

// tierSizes are the cache settings of a disk node.
type tierSizes struct {
	memMax, memObject, diskMax, chunk string
}

var smallTiers = tierSizes{memMax: "64MiB", memObject: "1MiB", diskMax: "1GiB", chunk: "256KiB"}

// startDiskNode starts an edge whose disk tier lives in dir, in front of
// origin, on clock clk. stop shuts it down gracefully (SIGTERM's path);
// it also runs at the end of the test.
func startDiskNode(t testing.TB, origin *httptest.Server, dir string, sizes tierSizes, clk *clock) *diskNode {
	t.Helper()
	toml := fmt.Sprintf(`
[cache]
memory_max_bytes = %q
max_object_bytes = %q
[cache.disk]
path = %q
max_bytes = %q
chunk_bytes = %q
[[origins]]
name = "o"
servers = [{ url = %q }]
[[routes]]
name = "all"
origin = "o"
`, sizes.memMax, sizes.memObject, dir, sizes.diskMax, sizes.chunk, origin.URL)
	cfg, err := conf.Parse("test.toml", []byte(toml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	n, stop := launch(t, cfg, origin, clk)
	return &diskNode{node: n, stop: stop}
}

// sizedOrigin serves /N with an N-byte body of pattern bytes, fresh for
// an hour, dated by clk, and counts its requests.
func sizedOrigin(t testing.TB, clk *clock, fetches *counter) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.inc(r.URL.Path)
		size, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Date", clk.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("ETag", `"`+r.URL.Path+`"`)
		w.Header().Set("Content-Length", strconv.Itoa(size))
		if ar := r.URL.Query().Get("accept-ranges"); ar != "" {
			w.Header().Set("Accept-Ranges", ar)
		}
		io.CopyN(w, &patternReader{}, int64(size))
	}))
	t.Cleanup(o.Close)
	return o
}

// patternReader yields the test pattern from offset off on: byte i is
// patternBlock[i % len(patternBlock)], whose length is prime to every
// chunk size so that chunk boundaries never line up with it.
type patternReader struct{ off int64 }

var patternBlock = func() []byte {
	b := make([]byte, 1<<20+13)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

func (r *patternReader) Read(p []byte) (int, error) {
	i := int(r.off % int64(len(patternBlock)))
	n := copy(p, patternBlock[i:])
	r.off += int64(n)
	return n, nil
}

// patternChecker checks that what is written is the pattern, from 0.
type patternChecker struct {
	off int64
	bad bool
}

func (c *patternChecker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := int(c.off % int64(len(patternBlock)))
		k := min(len(p), len(patternBlock)-i)
		if !bytes.Equal(p[:k], patternBlock[i:i+k]) {
			c.bad = true
		}
		p = p[k:]
		c.off += int64(k)
	}
	return n, nil
}

// fetchChecked GETs path and checks the body against the pattern.
func fetchChecked(t testing.TB, url string, hdr ...string) (*http.Response, int64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Host = "cdn.test" // the same key whatever port the node listens on
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := streamClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	c := &patternChecker{}
	n, err := io.Copy(c, resp.Body)
	if err == nil && c.bad {
		err = fmt.Errorf("GET %s: the body is not the origin's", url)
	}
	return resp, n, err
}

// streamClient allows for slow large bodies under the race detector.
var streamClient = &http.Client{
	Timeout:   2 * time.Minute,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
}

// TestDiskRestart fills a node, stops it, starts a new one on the same
// directory: every object is a hit, with the Age it has aged on disk,
// whether its body fits memory or not.
func TestDiskRestart(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	var fetches counter
	origin := sizedOrigin(t, clk, &fetches)
	paths := []string{"/0", "/1024", "/102400", "/1048576", "/3000017"}
	n := startDiskNode(t, origin, dir, smallTiers, clk)
	for _, p := range paths {
		resp, size, err := fetchChecked(t, n.url+p)
		if err != nil || !strings.Contains(cacheStatusOf(resp), "stored") {
			t.Fatalf("fill %s: %v, %d bytes, Cache-Status %q", p, err, size, cacheStatusOf(resp))
		}
	}
	n.stop()

	clk.Advance(100 * time.Second)
	n = startDiskNode(t, origin, dir, smallTiers, clk)
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			resp, size, err := fetchChecked(t, n.url+p)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := strconv.ParseInt(p[1:], 10, 64)
			if size != want || resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, %d bytes; want 200 with %d", resp.StatusCode, size, want)
			}
			if cs := cacheStatusOf(resp); !strings.Contains(cs, "hit") {
				t.Errorf("Cache-Status %q, want a hit", cs)
			}
			if age := resp.Header.Get("Age"); age != "100" {
				t.Errorf("Age %s, want 100", age)
			}
			if fetches.get(p) != 1 {
				t.Errorf("origin fetches %d, want 1", fetches.get(p))
			}
		})
	}
}

// benchHits measures whole hits over loopback for objects of size bytes.
func benchHits(b *testing.B, sizes tierSizes, size int) {
	clk := newClock()
	var fetches counter
	origin := sizedOrigin(b, clk, &fetches)
	n := startDiskNode(b, origin, b.TempDir(), sizes, clk)
	url := n.url + "/" + strconv.Itoa(size)
	if _, _, err := fetchChecked(b, url); err != nil { // fill
		b.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = "cdn.test"
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if fetches.get("/"+strconv.Itoa(size)) != 1 {
		b.Fatalf("origin fetched %d times", fetches.get("/"+strconv.Itoa(size)))
	}
}

// BenchmarkHitTier compares hits served from memory with hits whose body
// is read from disk (the memory tier keeps the meta only: its object
// limit is below the object's size), over a loopback connection, client
// included.
func BenchmarkHitTier(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		name := strconv.Itoa(size>>10) + "KiB"
		b.Run("memory/"+name, func(b *testing.B) { benchHits(b, smallTiers, size) })
		b.Run("disk/"+name, func(b *testing.B) {
			disk := smallTiers
			disk.memObject = "512B"
			benchHits(b, disk, size)
		})
	}
}

// BenchmarkHitTierHandler is BenchmarkHitTier through ServeHTTP without
// sockets: the pipeline's own cost of a memory hit and of a hit whose
// body is read (copied and checksummed) from disk.
func BenchmarkHitTierHandler(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		name := strconv.Itoa(size>>10) + "KiB"
		run := func(b *testing.B, sizes tierSizes) {
			clk := newClock()
			var fetches counter
			n := startDiskNode(b, sizedOrigin(b, clk, &fetches), b.TempDir(), sizes, clk)
			path := "/" + strconv.Itoa(size)
			if _, _, err := fetchChecked(b, n.url+path); err != nil { // fill
				b.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, path, nil)
			req.Host = "cdn.test"
			req.RequestURI = path
			req.RemoteAddr = "127.0.0.1:5555"
			w := &discardWriter{h: make(http.Header, 16)}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				n.srv.ServeHTTP(w, req)
			}
			if !strings.Contains(w.h.Get("Cache-Status"), "hit") || fetches.get(path) != 1 {
				b.Fatalf("not a hit: %q", w.h.Get("Cache-Status"))
			}
		}
		b.Run("memory/"+name, func(b *testing.B) { run(b, smallTiers) })
		b.Run("disk/"+name, func(b *testing.B) {
			disk := smallTiers
			disk.memObject = "512B"
			run(b, disk)
		})
	}
}
