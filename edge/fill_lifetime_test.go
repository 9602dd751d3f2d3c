package edge

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// varyOrigin answers /v with Vary: Accept-Encoding, cacheable and without
// Content-Length (a streamed fill): "first;" at once, "second" when
// release is closed.
type varyOrigin struct {
	mu        sync.Mutex
	fetches   map[string]int // by Accept-Encoding
	cancelled atomic.Int32
	release   chan struct{}
}

func newVaryOrigin() *varyOrigin {
	return &varyOrigin{fetches: map[string]int{}, release: make(chan struct{})}
}

func (o *varyOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.fetches[r.Header.Get("Accept-Encoding")]++
	o.mu.Unlock()
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Header().Set("Vary", "Accept-Encoding")
	io.WriteString(w, "first;")
	w.(http.Flusher).Flush()
	select {
	case <-o.release:
		io.WriteString(w, "second")
	case <-r.Context().Done():
		o.cancelled.Add(1)
	}
}

func (o *varyOrigin) count(ae string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetches[ae]
}

// getAsync GETs path from n in the background; the channel gets the body,
// or what was read and the error.
func getAsync(n *node, path string, hdr ...string) <-chan string {
	done := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, n.url+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := testClient.Do(req)
		if err != nil {
			done <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			done <- string(b) + " / error: " + err.Error()
			return
		}
		done <- string(b)
	}()
	return done
}

// startVaryFills has a gzip client A lead a streamed fill of /v that is
// held open, so that the identity variant a later client asks for is
// fetched uncoalesced (fetchAndServe, after the Vary mismatch).
func startVaryFills(t *testing.T) (*node, *varyOrigin, <-chan string) {
	t.Helper()
	o := newVaryOrigin()
	n := startNode(t, o, "")
	a := getAsync(n, "/v", "Accept-Encoding", "gzip")
	eventually(t, 5*time.Second, "the gzip fill reaches the origin", func() bool { return o.count("gzip") == 1 })
	return n, o, a
}

// checkVaryFills releases the origin and checks every client got the whole
// body, the origin saw no request cancelled, and the identity variant was
// fetched once.
func checkVaryFills(t *testing.T, o *varyOrigin, clients map[string]<-chan string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // let the last client join the stream
	close(o.release)
	for who, c := range clients {
		if got := <-c; got != "first;second" {
			t.Errorf("%s got %q, want %q", who, got, "first;second")
		}
	}
	if k := o.cancelled.Load(); k != 0 {
		t.Errorf("the origin saw %d fill requests cancelled", k)
	}
	if f := o.count(""); f != 1 {
		t.Errorf("%d fetches of the identity variant, want 1", f)
	}
}

// TestUncoalescedFillOutlivesHead: a HEAD starts the uncoalesced fill of
// the identity variant and is answered with the head alone; the fill must
// go on, for the GET that joins it and for the store, instead of ending
// with the HEAD's request.
func TestUncoalescedFillOutlivesHead(t *testing.T) {
	n, o, a := startVaryFills(t)
	if resp, _ := n.do(http.MethodHead, "/v"); resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	c := getAsync(n, "/v")
	checkVaryFills(t, o, map[string]<-chan string{"A (gzip)": a, "C (joined the identity fill)": c})
}

// TestUncoalescedFillOutlivesClient: the client that started the
// uncoalesced fill leaves mid-body while another reads the same fill; the
// fill must go on for the other.
func TestUncoalescedFillOutlivesClient(t *testing.T) {
	n, o, a := startVaryFills(t)
	b, br := dial(t, n)
	io.WriteString(b, "GET /v HTTP/1.1\r\nHost: "+strings.TrimPrefix(n.url, "http://")+"\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	// B fetches its own variant: Cache-Status says vary-miss, or uri-miss
	// when B came before A's stream was registered and met it in the
	// fill instead (the fetch is the same uncoalesced one).
	if s := cacheStatusOf(resp); !strings.Contains(s, "fwd=vary-miss") && !strings.Contains(s, "fwd=uri-miss") {
		t.Fatalf("B: Cache-Status %q, want a miss", s)
	}
	if f := o.count(""); f != 1 {
		t.Fatalf("%d fetches of the identity variant for B, want 1", f)
	}
	c := getAsync(n, "/v")
	time.Sleep(100 * time.Millisecond) // C joins B's fill
	b.Close()                          // and B leaves
	checkVaryFills(t, o, map[string]<-chan string{"A (gzip)": a, "C (joined B's fill)": c})
}
