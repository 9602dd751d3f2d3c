package edge

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2cClient is an HTTP/2 client with prior knowledge for a node's plain
// listener, keeping its connection between requests.
func h2cClient(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// h2Do sends method path with header pairs over c and returns the
// response with its body read.
func h2Do(t *testing.T, c *http.Client, n *node, method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, n.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	req.Host = "a.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s on %s: reading the body: %v (%d %v)", method, path, n.url, err, resp.StatusCode, resp.Header)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("%s %s: answered over %s, want HTTP/2", method, path, resp.Proto)
	}
	return resp, string(b)
}

// TestH2HitAnswersAsHandler sends the same HTTP/2 requests to an edge
// whose HTTP/2 server answers hits itself and to one where the same
// server gives every request to the handler, and requires the same answers: status,
// every header field, body. It also checks which requests the hit path
// answered, through its counter. It runs with bodies in the heap and
// again with the 100 KiB body in a memory file (cache.Pages), which the
// hit path writes from its mapping.
func TestH2HitAnswersAsHandler(t *testing.T) {
	for _, paged := range []bool{false, true} {
		extra := "[cache]\nsendfile_min_bytes = 0\n"
		if paged {
			extra = "[cache]\nsendfile_min_bytes = \"64KiB\"\n"
		}
		t.Run(map[bool]string{false: "heap", true: "memory files"}[paged], func(t *testing.T) {
			h2HitAnswersAsHandler(t, extra)
		})
	}
}

func h2HitAnswersAsHandler(t *testing.T, extra string) {
	fast, slow, _ := startFastPair(t, extra)
	fc, sc := h2cClient(t), h2cClient(t)
	inm := "If-None-Match"
	tests := []struct {
		name, method, path string
		body               string // sent as a request body when not ""
		hdr                []string
		fast               bool // answered by the hit path
	}{
		{"GET", "GET", "/plain", "", nil, true},
		{"HEAD", "HEAD", "/plain", "", nil, true},
		{"query", "GET", "/q?a=1&b", "", nil, true},
		{"escaped path", "GET", "/e%20x", "", nil, true},
		{"tag header stripped", "GET", "/tagged", "", nil, true},
		{"100 KiB body", "GET", "/big", "", nil, true},
		{"HEAD of 100 KiB", "HEAD", "/big", "", nil, true},
		{"404 stored", "GET", "/gone", "", nil, true},
		{"no Content-Type: the server sniffs", "GET", "/nocontenttype", "", nil, false},
		{"If-Modified-Since matching: 304", "GET", "/plain", "", []string{"If-Modified-Since", time.Now().UTC().Format(http.TimeFormat)}, true},
		{"If-None-Match matching: 304", "GET", "/plain", "", []string{inm, `W/"p", "x"`}, true},
		{"If-None-Match not matching", "GET", "/plain", "", []string{inm, `"y"`}, true},
		{"HEAD with a matching conditional", "HEAD", "/plain", "", []string{inm, "*"}, true},
		{"conditional on a 404", "GET", "/gone", "", []string{inm, "*"}, true},
		{"range: 206", "GET", "/plain", "", []string{"Range", "bytes=0-3"}, true},
		{"suffix range: 206", "GET", "/plain", "", []string{"Range", "bytes=-3"}, true},
		{"range of 100 KiB: 206", "GET", "/big", "", []string{"Range", "bytes=100-90099"}, true},
		{"range and If-Range matching: 206", "GET", "/plain", "", []string{"Range", "bytes=1-", "If-Range", `"x"`}, true},
		{"range on a stored Content-Range: the handler's 206", "GET", "/storedrange", "", []string{"Range", "bytes=0-3"}, false},
		{"unsatisfiable range: the handler's 416", "GET", "/plain", "", []string{"Range", "bytes=1000-"}, false},
		{"several ranges: 200", "GET", "/plain", "", []string{"Range", "bytes=0-1,3-4"}, true},
		{"range and If-Range not matching: 200", "GET", "/plain", "", []string{"Range", "bytes=0-3", "If-Range", `"y"`}, true},
		{"HEAD with a range", "HEAD", "/plain", "", []string{"Range", "bytes=0-3"}, true},
		{"reload", "GET", "/plain", "", []string{"Cache-Control", "max-age=0", "Pragma", "no-cache"}, true},
		{"request no-store", "GET", "/plain", "", []string{"Cache-Control", "no-store"}, true},
		{"Vary: Cache-Control, same request", "GET", "/varycc", "", nil, true},
		{"Vary: Cache-Control, another variant", "GET", "/varycc", "", []string{"Cache-Control", "no-cache"}, false},
		{"GET with a body", "GET", "/plain", "x", nil, false},
		{"POST", "POST", "/plain", "x", nil, false},
		{"OPTIONS", "OPTIONS", "/plain", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range []*node{fast, slow} {
				n.get(tt.path, "Host", "a.test") // fill
			}
			before := gatheredValue(t, fast.reg, "popcache_h2_fast_hits_total")
			var bodies [2]io.Reader
			if tt.body != "" {
				bodies = [2]io.Reader{strings.NewReader(tt.body), strings.NewReader(tt.body)}
			}
			fr, fb := h2Do(t, fc, fast, tt.method, tt.path, bodies[0], tt.hdr...)
			sr, sb := h2Do(t, sc, slow, tt.method, tt.path, bodies[1], tt.hdr...)
			for _, want := range []int{200, 206, 304, 416} {
				if strings.HasSuffix(tt.name, " "+strconv.Itoa(want)) && fr.StatusCode != want {
					t.Errorf("status %d, want %d", fr.StatusCode, want)
				}
			}
			// A 304 carries no representation metadata but validators
			// and caching fields (RFC 9110 §15.4.5), as on HTTP/1.1.
			if fr.StatusCode == http.StatusNotModified && fr.Header.Get("Content-Type") != "" {
				t.Errorf("304 with Content-Type %q", fr.Header.Get("Content-Type"))
			}
			if fr.StatusCode != sr.StatusCode || fb != sb || !sameHeader(fr.Header, sr.Header) || fr.ContentLength != sr.ContentLength {
				t.Errorf("hit path answered %d %v (%d body bytes, length %d)\nhandler answered %d %v (%d body bytes, length %d)",
					fr.StatusCode, fr.Header, len(fb), fr.ContentLength, sr.StatusCode, sr.Header, len(sb), sr.ContentLength)
			}
			hits := gatheredValue(t, fast.reg, "popcache_h2_fast_hits_total") - before
			if want := map[bool]float64{true: 1, false: 0}[tt.fast]; hits != want {
				t.Errorf("%v requests answered by the hit path, want %v", hits, want)
			}
		})
	}
}

// sameHeader reports whether a and b have the same fields, the order of
// values within a field included.
func sameHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || strings.Join(av, "\x00") != strings.Join(bv, "\x00") {
			return false
		}
	}
	return true
}

// TestH2HitOverTLS fetches one object over HTTP/1.1 and HTTP/2 on a TLS
// listener with HTTP/3 advertised, on a route that redirects plain HTTP
// and sends HSTS: the HTTP/2 hit comes from the hit path with the same
// fields as net/http's HTTP/1.1 answer, Alt-Svc and HSTS included.
func TestH2HitOverTLS(t *testing.T) {
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, "www", "www", "www.example.com", "127.0.0.1")
	var c counter
	routes := "[[routes]]\nname = \"all\"\norigin = \"o\"\n[routes.https]\nredirect = true\nhsts_max_age = \"8760h\"\n"
	n := startTLSNode(t, cacheableOrigin(&c), "", "", certTOML(certPath, keyPath), routes, ca.pool)
	n.fetch(viaH1TLS, "www.example.com", "/obj.txt") // fill
	r1, b1 := n.fetch(viaH1TLS, "www.example.com", "/obj.txt")
	r2, b2 := n.fetch(viaH2, "www.example.com", "/obj.txt")
	if got := n.metric("popcache_h2_fast_hits_total"); got != 1 {
		t.Errorf("popcache_h2_fast_hits_total = %v, want 1", got)
	}
	if r2.ProtoMajor != 2 || r2.StatusCode != http.StatusOK || b2 != b1 {
		t.Errorf("HTTP/2: %s %d %q; want HTTP/2 200 %q", r2.Proto, r2.StatusCode, b2, b1)
	}
	if r2.Header.Get("Alt-Svc") == "" || r2.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Errorf("HTTP/2 hit: Alt-Svc %q, Strict-Transport-Security %q; want both", r2.Header.Get("Alt-Svc"), r2.Header.Get("Strict-Transport-Security"))
	}
	for _, h := range []http.Header{r1.Header, r2.Header} {
		h.Del("Age") // the two requests may be a second apart
		h.Del("Cache-Status")
	}
	if !sameHeader(r1.Header, r2.Header) {
		t.Errorf("HTTP/2 hit header\n%v\ndiffers from HTTP/1.1's\n%v", r2.Header, r1.Header)
	}
}

// rawH2 is an HTTP/2 client connection driven frame by frame.
type rawH2 struct {
	t *testing.T
	// quiet stops response from writing (SETTINGS acknowledgements, flow
	// control), as while a header block is unfinished.
	quiet bool
	c     net.Conn
	fr    *http2.Framer
	enc   *hpack.Encoder
	buf   bytes.Buffer
	// The streams read so far, by ID: frames of several streams may
	// interleave, so response keeps what it reads for the others.
	status map[uint32]string
	fields map[uint32][]hpack.HeaderField
	body   map[uint32][]byte
	ended  map[uint32]bool
}

// dialH2C opens an HTTP/2 connection with prior knowledge to n's plain
// listener, announcing settings, and exchanges the SETTINGS frames.
func dialH2C(t *testing.T, n *node, settings ...http2.Setting) *rawH2 {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	h := &rawH2{t: t, c: c, status: map[uint32]string{}, fields: map[uint32][]hpack.HeaderField{}, body: map[uint32][]byte{}, ended: map[uint32]bool{}}
	h.fr = http2.NewFramer(c, c)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.buf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return h
}

// block returns the HPACK block of a GET of path on host a.test.
func (h *rawH2) block(path string) []byte {
	h.buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "a.test"}, {":path", path}} {
		h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return bytes.Clone(h.buf.Bytes())
}

// response reads frames until stream id ends, acknowledging SETTINGS and
// granting flow control as it reads, and returns the status and body.
func (h *rawH2) response(id uint32) (status string, body []byte) {
	h.t.Helper()
	for !h.ended[id] {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("stream %d: %v (status %q, %d body bytes so far)", id, err, h.status[id], len(h.body[id]))
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() && !h.quiet {
				h.fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			h.t.Fatalf("stream %d: GOAWAY %v", id, f.ErrCode)
		case *http2.RSTStreamFrame:
			h.t.Fatalf("stream %d: RST_STREAM %v", f.StreamID, f.ErrCode)
		case *http2.MetaHeadersFrame:
			h.status[f.StreamID] = f.PseudoValue("status")
			h.fields[f.StreamID] = f.RegularFields()
			h.ended[f.StreamID] = f.StreamEnded()
		case *http2.DataFrame:
			if n := uint32(len(f.Data())); n > 0 && !h.quiet {
				h.fr.WriteWindowUpdate(0, n)
				h.fr.WriteWindowUpdate(f.StreamID, n)
			}
			h.body[f.StreamID] = append(h.body[f.StreamID], f.Data()...)
			h.ended[f.StreamID] = f.StreamEnded()
		}
	}
	return h.status[id], h.body[id]
}

// TestH2HitFlushesBeforeContinuation sends a hit and, in the same write,
// the first part of a header block that CONTINUATION frames will finish:
// the hit's answer must not wait for the rest. (The server holds its
// flush while another whole frame is at hand; a HEADERS frame without
// END_HEADERS is not one, as reading it waits for its CONTINUATION.)
func TestH2HitFlushesBeforeContinuation(t *testing.T) {
	fast, _, _ := startFastPair(t, "")
	fast.get("/a", "Host", "a.test")
	h := dialH2C(t, fast)
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block("/a"), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	h.response(1) // and the SETTINGS exchange done: nothing may come between a HEADERS frame and its CONTINUATION
	var out bytes.Buffer
	w := http2.NewFramer(&out, nil)
	w.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: h.block("/a"), EndStream: true, EndHeaders: true})
	second := h.block("/a")
	w.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: second[:2], EndStream: true})
	if _, err := h.c.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	h.quiet = true
	h.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if status, body := h.response(3); status != "200" || string(body) != "body of /a" {
		t.Fatalf("stream 3: %s %q", status, body)
	}
	h.c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := h.fr.WriteContinuation(5, true, second[2:]); err != nil {
		t.Fatal(err)
	}
	h.quiet = false
	if status, body := h.response(5); status != "200" || string(body) != "body of /a" {
		t.Fatalf("stream 5: %s %q", status, body)
	}
}

// TestH2HitFlowControl reads a 100 KiB hit with a 1000-byte stream window
// and a batch of 20 hits in one write: the hit path must respect the
// client's window and answer every stream in full.
func TestH2HitFlowControl(t *testing.T) {
	for _, min := range []string{"0", "\"64KiB\""} { // the body in the heap, then in a memory file
		t.Run("sendfile_min_bytes="+min, func(t *testing.T) {
			h2HitFlowControl(t, "[cache]\nsendfile_min_bytes = "+min+"\n")
		})
	}
}

func h2HitFlowControl(t *testing.T, extra string) {
	fast, _, _ := startFastPair(t, extra)
	fast.get("/big", "Host", "a.test")
	fast.get("/a", "Host", "a.test")
	h := dialH2C(t, fast, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000})
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block("/big"), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	// While the answer waits for window, the object it came from is
	// replaced and collected: a body in a memory file must stay mapped
	// for the stream (h2.Hit.Hold), or writing the rest faults.
	time.Sleep(50 * time.Millisecond)
	fast.clock.Advance(11 * time.Minute)
	fast.get("/big", "Host", "a.test")
	fast.get("/a", "Host", "a.test")
	for range 3 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	status, body := h.response(1)
	if want := strings.Repeat("0123456789abcdef", 100<<10/16); status != "200" || string(body) != want {
		t.Fatalf("100 KiB through a 1000-byte window: %s, %d bytes", status, len(body))
	}
	var out bytes.Buffer
	w := http2.NewFramer(&out, nil)
	for id := uint32(3); id < 43; id += 2 {
		w.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block("/a"), EndStream: true, EndHeaders: true})
	}
	if _, err := h.c.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	for id := uint32(3); id < 43; id += 2 {
		if status, body := h.response(id); status != "200" || string(body) != "body of /a" {
			t.Fatalf("stream %d of the batch: %s %q", id, status, body)
		}
	}
	if got := gatheredValue(t, fast.reg, "popcache_h2_fast_hits_total"); got != 21 {
		t.Errorf("%v requests answered by the hit path, want 21", got)
	}
}
