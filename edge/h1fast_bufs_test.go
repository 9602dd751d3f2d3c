package edge

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tests of the pooled connection buffers (h1fast_bufs.go): they try to
// make two connections share a buffer, with connections coming and going
// all the time, and check that every answer a client reads is its own
// request's, whole.

// rvReq is one request of a review exchange.
type rvReq struct {
	method string
	uri    string
	pad    int  // bytes of X-Pad: over 4 KiB grows the read buffer
	close  bool // Connection: close
}

// wire is r as a client writes it.
func (r rvReq) wire(host string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.method, r.uri, host)
	if r.pad > 0 {
		fmt.Fprintf(&b, "X-Pad: %s\r\n", strings.Repeat("p", r.pad))
	}
	if r.close {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// rvWrong is a wrong answer: the failure these tests look for.
type rvWrong struct{ msg string }

func (e *rvWrong) Error() string { return e.msg }

// rvTraffic describes the objects of a node and what their bodies are.
type rvTraffic struct {
	host   string
	hot    []string          // cached paths
	bodies map[string]string // path -> body, for hot paths
	body   func(uri string) string
}

// plan makes a random list of requests for connection id.
func (tr *rvTraffic) plan(rng *rand.Rand, id int, big bool) []rvReq {
	n := 1 + rng.IntN(8)
	reqs := make([]rvReq, 0, n)
	for i := range n {
		r := rvReq{method: http.MethodGet}
		switch k := rng.IntN(10); {
		case k < 5:
			r.uri = tr.hot[rng.IntN(len(tr.hot))]
		case k < 7:
			r.uri = fmt.Sprintf("/miss-%d-%d?x=%d", id, i, rng.Uint32())
		case k < 8:
			r.uri = tr.hot[rng.IntN(len(tr.hot))]
			r.method = http.MethodHead
		default:
			if big {
				r.uri = []string{"/mid", "/big"}[rng.IntN(2)]
			} else {
				r.uri = tr.hot[rng.IntN(len(tr.hot))]
			}
		}
		switch k := rng.IntN(10); {
		case k < 6:
		case k < 9:
			r.pad = rng.IntN(3000)
		default:
			r.pad = 4000 + rng.IntN(12000) // grows rbuf (max head 64 KiB)
		}
		reqs = append(reqs, r)
	}
	if rng.IntN(3) == 0 {
		reqs[len(reqs)-1].close = true
	}
	return reqs
}

// exchange plays reqs on c, pipelined in batches, with optional idle
// pauses between batches; every answer is checked.
func (tr *rvTraffic) exchange(c net.Conn, rng *rand.Rand, reqs []rvReq, pause func() time.Duration) (answered int, err error) {
	br := bufio.NewReaderSize(c, 1<<10)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	for i := 0; i < len(reqs); {
		j := i + 1 + rng.IntN(len(reqs)-i) // batch reqs[i:j], pipelined
		var batch strings.Builder
		for _, r := range reqs[i:j] {
			batch.WriteString(r.wire(tr.host))
		}
		werr := make(chan error, 1)
		go func() { // the batch may be larger than the socket takes unread
			_, err := io.WriteString(c, batch.String())
			werr <- err
		}()
		for _, r := range reqs[i:j] {
			if err := tr.check(br, r); err != nil {
				<-werr
				return answered, err
			}
			answered++
		}
		if err := <-werr; err != nil {
			return answered, err
		}
		i = j
		if pause != nil && i < len(reqs) {
			time.Sleep(pause())
		}
	}
	return answered, nil
}

// check reads one answer and checks it is r's.
func (tr *rvTraffic) check(br *bufio.Reader, r rvReq) error {
	req, _ := http.NewRequest(r.method, "http://"+tr.host+r.uri, nil)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isConnErr(err) {
			return err
		}
		return &rvWrong{fmt.Sprintf("%s %s: unreadable answer: %v", r.method, r.uri, err)}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	want := tr.body(r.uri)
	if r.method == http.MethodHead {
		want = ""
	}
	if resp.StatusCode != http.StatusOK || string(b) != want {
		got := string(b)
		if len(got) > 200 {
			got = got[:200] + "..."
		}
		return &rvWrong{fmt.Sprintf("%s %s (pad %d): %d %q, want %.80q", r.method, r.uri, r.pad, resp.StatusCode, got, want)}
	}
	return nil
}

// isConnErr reports whether err is the connection's end rather than a
// wrong answer.
func isConnErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// fastTraffic warms the hot paths of a fastOrigin node.
func fastTraffic(t *testing.T, n *node, hot int) *rvTraffic {
	t.Helper()
	tr := &rvTraffic{host: "a.test", bodies: map[string]string{}}
	paths := []string{"/mid", "/big"}
	for i := range hot {
		paths = append(paths, fmt.Sprintf("/hot%02d", i))
	}
	for _, p := range paths {
		resp, body := n.get(p, "Host", tr.host)
		if resp.StatusCode != 200 {
			t.Fatalf("warming %s: %d", p, resp.StatusCode)
		}
		tr.bodies[p] = body
		if strings.HasPrefix(p, "/hot") {
			tr.hot = append(tr.hot, p)
		}
	}
	tr.body = func(uri string) string {
		if b, ok := tr.bodies[uri]; ok {
			return b
		}
		return "body of " + uri
	}
	return tr
}

// rvRun runs clients at once, conns connections each, one after the
// other, until stop is closed (nil: never) or every client is done; it
// returns the wrong answers (and, unless tolerate, every error) and the
// count of answers checked.
func rvRun(t *testing.T, tr *rvTraffic, dialer func() (net.Conn, error), clients, conns int, big bool, pause func(*rand.Rand) time.Duration, stop <-chan struct{}, tolerate bool) (wrong []error, answers int64) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total atomic.Int64
	for cl := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(cl), uint64(time.Now().UnixNano())))
			for n := range conns {
				select {
				case <-stop:
					return
				default:
				}
				c, err := dialer()
				if err != nil {
					if !tolerate {
						mu.Lock()
						wrong = append(wrong, fmt.Errorf("dial: %v", err))
						mu.Unlock()
					}
					return
				}
				var pf func() time.Duration
				if pause != nil {
					pf = func() time.Duration { return pause(rng) }
				}
				k, err := tr.exchange(c, rng, tr.plan(rng, cl*100000+n, big), pf)
				c.Close()
				total.Add(int64(k))
				var w *rvWrong
				if errors.As(err, &w) || (err != nil && !tolerate) {
					mu.Lock()
					wrong = append(wrong, fmt.Errorf("client %d conn %d: %v", cl, n, err))
					mu.Unlock()
					if len(wrong) > 5 {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return wrong, total.Load()
}

// tcpDialer dials addr.
func tcpDialer(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.Dial("tcp", addr) }
}

// TestFastPathBuffersNotShared runs many connections at once, on the event
// loops (the default) and on goroutines alone, mixing hits, misses (handoffs, with pipelined requests
// after them, so that the replay and the resumption carry bytes), large
// heads, HEADs, 16 KiB and 100 KiB answers, pipelined batches that grow
// the write buffer past fastWriteCap, and closes.
func TestFastPathBuffersNotShared(t *testing.T) {
	for _, loops := range []string{"", "event_loops = -1\n"} {
		name := "loops"
		if loops != "" {
			name = "goroutines"
		}
		t.Run(name, func(t *testing.T) {
			fast, _, _ := startFastPair(t, "[server]\n"+loops)
			tr := fastTraffic(t, fast, 24)
			wrong, n := rvRun(t, tr, tcpDialer(strings.TrimPrefix(fast.url, "http://")), 12, 30, true, nil, nil, false)
			for _, err := range wrong {
				t.Error(err)
			}
			t.Logf("%d answers checked", n)
		})
	}
}

// TestFastPathBuffersNotSharedTLS runs the same mix over TLS (connections keep their
// goroutines; handoffs wrap the tls.Conn).
func TestFastPathBuffersNotSharedTLS(t *testing.T) {
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, "www", "www", "www.example.com", "127.0.0.1")
	var cf counter
	n := startTLSNode(t, cacheableOrigin(&cf), "", "", certTOML(certPath, keyPath), "", ca.pool)
	tr := &rvTraffic{host: "www.example.com"}
	for i := range 16 {
		tr.hot = append(tr.hot, fmt.Sprintf("/hot%02d", i))
	}
	tr.body = func(uri string) string {
		p, _, _ := strings.Cut(uri, "?")
		return "one object for every protocol: " + p + "\n"
	}
	dialer := func() (net.Conn, error) {
		return tls.Dial("tcp", n.tls, &tls.Config{RootCAs: ca.pool, ServerName: "www.example.com"})
	}
	// Warm: one connection, then each hot path once.
	wrong, _ := rvRun(t, tr, dialer, 1, 1, false, nil, nil, false)
	for _, p := range tr.hot {
		c, err := dialer()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.exchange(c, rand.New(rand.NewPCG(1, 2)), []rvReq{{method: "GET", uri: p}}, nil); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	w2, cnt := rvRun(t, tr, dialer, 8, 20, false, nil, nil, false)
	for _, err := range append(wrong, w2...) {
		t.Error(err)
	}
	t.Logf("%d answers checked", cnt)
}

// TestFastPathBuffersLargeReplay sends a miss followed, in the same write, by
// more than 4 KiB of hits: net/http replays them, and the connection
// comes back with more unread bytes than a pooled buffer holds
// (fastServer.resume's len(unread) > len(c.rbuf)).
func TestFastPathBuffersLargeReplay(t *testing.T) {
	fast, _, _ := startFastPair(t, "")
	tr := fastTraffic(t, fast, 8)
	addr := strings.TrimPrefix(fast.url, "http://")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for cl := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(cl), 7))
			for n := range 25 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- err
					return
				}
				var reqs []rvReq
				for round := range 3 {
					reqs = append(reqs, rvReq{method: "GET", uri: fmt.Sprintf("/rmiss-%d-%d-%d", cl, n, round)})
					for range 2 + rng.IntN(4) {
						reqs = append(reqs, rvReq{method: "GET", uri: tr.hot[rng.IntN(len(tr.hot))], pad: 1500 + rng.IntN(3000)})
					}
				}
				// All in one write.
				br := bufio.NewReader(c)
				c.SetDeadline(time.Now().Add(30 * time.Second))
				var b strings.Builder
				for _, r := range reqs {
					b.WriteString(r.wire(tr.host))
				}
				go io.WriteString(c, b.String())
				for _, r := range reqs {
					if err := tr.check(br, r); err != nil {
						errs <- fmt.Errorf("client %d conn %d: %v", cl, n, err)
						c.Close()
						return
					}
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	h, r := fastCounters(t, fast)
	t.Logf("handoffs %v resumes %v", h, r)
}
