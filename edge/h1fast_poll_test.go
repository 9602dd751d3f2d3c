//go:build linux

package edge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitingConns is the event loop connections gauge of n.
func waitingConns(t *testing.T, n *node) float64 {
	t.Helper()
	return gatheredValue(t, n.reg, "popcache_h1_event_loop_connections")
}

// waitFor polls cond every 10 ms for at most 10 s, and reports whether
// it came true.
func waitFor(cond func() bool) bool {
	for range 1000 {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// settle closes the test client's idle connections to n, and waits
// until n's event loops have none left, so that the gauge counts only
// the connections a test opens after.
func settle(t *testing.T, n *node) {
	t.Helper()
	testClient.CloseIdleConnections()
	if !waitFor(func() bool { return waitingConns(t, n) == 0 }) {
		t.Fatalf("%v connections left in the event loops", waitingConns(t, n))
	}
}

// startLoopPair starts two edges in front of one origin with the same
// config: loops with the event loops on, goroutines with them off.
func startLoopPair(t *testing.T, server string) (loops, goroutines *node) {
	t.Helper()
	clk := newClock()
	o := httptest.NewServer(fastOrigin(clk, &counter{}))
	t.Cleanup(o.Close)
	loops, _ = launch(t, catchAllConfig(t, o, "[server]\n"+server), o, clk)
	goroutines, _ = launch(t, catchAllConfig(t, o, "[server]\nevent_loops = -1\n"+server), o, clk)
	return loops, goroutines
}

// TestEventLoopsAnswerAsGoroutines plays one long connection, with hits,
// pipelines, misses, a head sent in pieces and a close, against an edge
// with event loops and one without: every answer must be the same, and
// the connection must be back in the loops' set between requests.
func TestEventLoopsAnswerAsGoroutines(t *testing.T) {
	loops, goroutines := startLoopPair(t, "")
	hit := "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n"
	steps := []struct {
		name   string
		writes []string // written with a pause between them
		n      int      // responses to read
		head   bool     // the responses are to HEAD
	}{
		{"hit", []string{hit}, 1, false},
		{"three pipelined hits", []string{hit + "GET /b HTTP/1.1\r\nHost: a.test\r\n\r\n" + hit}, 3, false},
		{"HEAD", []string{"HEAD /a HTTP/1.1\r\nHost: a.test\r\n\r\n"}, 1, true},
		{"304", []string{"GET /a HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: \"x\"\r\n\r\n"}, 1, false},
		{"a miss: handed off, then taken back", []string{"GET /miss HTTP/1.1\r\nHost: a.test\r\n\r\n"}, 1, false},
		{"a hit after the miss", []string{hit}, 1, false},
		{"a head in three pieces", []string{"GET /a HT", "TP/1.1\r\nHost: a.", "test\r\n\r\n"}, 1, false},
		{"a hit and a miss pipelined", []string{hit + "GET /miss2 HTTP/1.1\r\nHost: a.test\r\n\r\n"}, 2, false},
		// A large answer keeps the connection on its goroutine for the next
		// fastStayLarge requests.
		{"100 KiB, then small hits", []string{"GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n" + strings.Repeat(hit, fastStayLarge)}, 1 + fastStayLarge, false},
		{"HTTP/1.0 keep-alive", []string{"GET /a HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n"}, 1, false},
	}
	for _, n := range []*node{loops, goroutines} {
		for _, p := range []string{"/a", "/b", "/big", "/mid"} {
			n.get(p, "Host", "a.test")
		}
	}
	settle(t, loops)
	lc, lbr := dial(t, loops)
	gc, gbr := dial(t, goroutines)
	for _, st := range steps {
		var answers [2]string
		for i, side := range []struct {
			c  net.Conn
			br *bufio.Reader
		}{{lc, lbr}, {gc, gbr}} {
			side.c.SetDeadline(time.Now().Add(10 * time.Second))
			for j, w := range st.writes {
				if j > 0 {
					time.Sleep(50 * time.Millisecond)
				}
				if _, err := io.WriteString(side.c, w); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
			}
			for range st.n {
				h, b := readResponse(t, side.br, st.head)
				answers[i] += h + b
			}
		}
		if answers[0] != answers[1] {
			t.Errorf("%s: with event loops\n%.600s\nwithout\n%.600s", st.name, answers[0], answers[1])
		}
		if !waitFor(func() bool { return waitingConns(t, loops) == 1 }) {
			t.Errorf("%s: the connection did not come back to the event loops", st.name)
		}
	}
	if got := waitingConns(t, goroutines); got != 0 {
		t.Errorf("event_loops = -1: %v connections in event loops", got)
	}
	// A close is answered, then the connection closed, on both.
	for _, side := range []struct {
		c  net.Conn
		br *bufio.Reader
	}{{lc, lbr}, {gc, gbr}} {
		io.WriteString(side.c, "GET /a HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
		readResponse(t, side.br, false)
		if _, err := side.br.ReadByte(); err != io.EOF {
			t.Errorf("after Connection: close: %v, want EOF", err)
		}
	}
	if !waitFor(func() bool { return waitingConns(t, loops) == 0 }) {
		t.Errorf("a closed connection is still counted in the event loops")
	}
}

// TestEventLoopTimeouts: a connection that never sends a request is
// closed past the header timeout (it never enters the loops' set), one
// waiting in the set after a request past the idle timeout, and a client
// that does not read its answers is cut off at the write timeout.
func TestEventLoopTimeouts(t *testing.T) {
	loops, _ := startLoopPair(t, "read_header_timeout = \"200ms\"\nidle_timeout = \"300ms\"\nwrite_timeout = \"300ms\"\n")
	loops.get("/mid", "Host", "a.test")
	loops.get("/a", "Host", "a.test")
	settle(t, loops)
	closedWithin := func(c net.Conn, br *bufio.Reader) error {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("read %v, want EOF", err)
	}

	silent, sbr := dial(t, loops)
	if err := closedWithin(silent, sbr); err != nil {
		t.Errorf("no request: %v", err)
	}

	idle, ibr := dial(t, loops)
	rawExchange(t, idle, ibr, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if err := closedWithin(idle, ibr); err != nil {
		t.Errorf("idle after a hit: %v", err)
	}

	// 400 answers of 16 KiB, not read: far more than the socket buffers
	// take, so the rest waits for room in the set until the write timeout.
	stuck, stbr := dial(t, loops)
	stuck.(*net.TCPConn).SetReadBuffer(64 << 10)
	rawExchange(t, stuck, stbr, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if !waitFor(func() bool { return waitingConns(t, loops) == 1 }) {
		t.Fatal("the connection is not in the event loops")
	}
	io.WriteString(stuck, strings.Repeat("GET /mid HTTP/1.1\r\nHost: a.test\r\n\r\n", 400))
	time.Sleep(time.Second)
	stuck.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.Copy(io.Discard, stbr)
	if errors.Is(err, syscall.ECONNRESET) {
		err = nil // closed with requests still unread: RST, not FIN
	}
	if err != nil || got >= 400*fastCopyMax {
		t.Errorf("a client not reading: read %d bytes (%v), want fewer than the 400 answers then the end", got, err)
	}
	if !waitFor(func() bool { return waitingConns(t, loops) == 0 }) {
		t.Errorf("%v connections still in the event loops", waitingConns(t, loops))
	}
}

// TestEventLoopWritesWaitForRoom pipelines 400 requests for 16 KiB
// (more than the 4 KiB read buffer holds, so heads end mid-buffer) without
// reading, then reads: answers that did not fit the socket wait for room
// in the set, and all arrive whole and in order. A 100 KiB answer sends
// the connection to its goroutine, and fastStayLarge small ones bring it back.
func TestEventLoopWritesWaitForRoom(t *testing.T) {
	loops, _ := startLoopPair(t, "")
	_, mid := loops.get("/mid", "Host", "a.test")
	_, small := loops.get("/a", "Host", "a.test")
	_, big := loops.get("/big", "Host", "a.test")
	settle(t, loops)
	c, br := dial(t, loops)
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	// A first request, which its goroutine reads: then it waits in the set.
	rawExchange(t, c, br, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if !waitFor(func() bool { return waitingConns(t, loops) == 1 }) {
		t.Fatal("the connection is not in the event loops")
	}
	var reqs strings.Builder
	for i := range 400 {
		if i%10 == 9 {
			reqs.WriteString("GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
			continue
		}
		reqs.WriteString("GET /mid HTTP/1.1\r\nHost: a.test\r\n\r\n")
	}
	io.WriteString(c, reqs.String())
	time.Sleep(300 * time.Millisecond)
	if waitingConns(t, loops) != 1 {
		t.Errorf("the connection waits for room elsewhere than in the event loops")
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := range 400 {
		_, body := readResponse(t, br, false)
		if w := map[bool]string{true: small, false: mid}[i%10 == 9]; body != w {
			t.Fatalf("answer %d: %d bytes, want %d", i, len(body), len(w))
		}
	}
	if _, body := rawExchange(t, c, br, "GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n"); body != big {
		t.Fatalf("100 KiB: %d bytes, want %d", len(body), len(big))
	}
	time.Sleep(100 * time.Millisecond)
	if got := waitingConns(t, loops); got != 0 {
		t.Errorf("after a 100 KiB answer: %v connections in the event loops, want 0", got)
	}
	for range fastStayLarge - 1 {
		rawExchange(t, c, br, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
	}
	time.Sleep(100 * time.Millisecond)
	if got := waitingConns(t, loops); got != 0 {
		t.Errorf("after %d small answers: %v connections in the event loops, want 0", fastStayLarge-1, got)
	}
	rawExchange(t, c, br, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if !waitFor(func() bool { return waitingConns(t, loops) == 1 }) {
		t.Errorf("%d small answers did not bring the connection back to the event loops", fastStayLarge)
	}
}

// TestEventLoopsUnderLoad runs 32 connections of 100 requests each, hits
// on three objects pipelined in twos with a miss now and then, and
// checks every answer (and, under -race, the loops' hand-offs).
func TestEventLoopsUnderLoad(t *testing.T) {
	loops, _ := startLoopPair(t, "")
	paths := []string{"/a", "/b", "/big"}
	want := map[string]string{}
	for _, p := range paths {
		_, want[p] = loops.get(p, "Host", "a.test")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Go(func() {
			c, err := net.Dial("tcp", strings.TrimPrefix(loops.url, "http://"))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			br := bufio.NewReader(c)
			for i := 0; i < 100; i += 2 {
				p1, p2 := paths[(g+i)%3], paths[(g+i+1)%3]
				if i%25 == 0 {
					p2 = fmt.Sprintf("/miss/%d/%d", g, i)
				}
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: a.test\r\n\r\nGET %s HTTP/1.1\r\nHost: a.test\r\n\r\n", p1, p2)
				for _, p := range []string{p1, p2} {
					_, body := readResponse(t, br, false)
					w, ok := want[p]
					if !ok {
						w = "body of " + p
					}
					if body != w {
						errs <- fmt.Errorf("conn %d, request %d for %s: %d bytes, want %d", g, i, p, len(body), len(w))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestEventLoopsShutdown: shutdown closes the connections waiting in the
// loops' set at once, rather than waiting out shutdown_timeout for them.
func TestEventLoopsShutdown(t *testing.T) {
	clk := newClock()
	o := httptest.NewServer(fastOrigin(clk, &counter{}))
	t.Cleanup(o.Close)
	n, stop := launch(t, catchAllConfig(t, o, "[server]\nshutdown_timeout = \"25s\"\n"), o, clk)
	n.get("/a", "Host", "a.test")
	settle(t, n)
	c, br := dial(t, n)
	rawExchange(t, c, br, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if !waitFor(func() bool { return waitingConns(t, n) == 1 }) {
		t.Fatal("the connection is not in the event loops")
	}
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown waits for a connection idle in the event loops")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after shutdown: %v, want EOF", err)
	}
}

// TestEventLoopsHalfClose: a client that sends its request and shuts
// its side down gets its answer, then the end of the connection, as from
// the goroutine path, not after the idle timeout (an hour here): its
// FIN came with the request, in a read the loop could take for the last.
func TestEventLoopsHalfClose(t *testing.T) {
	loops, goroutines := startLoopPair(t, "idle_timeout = \"1h\"\n")
	for _, n := range []*node{loops, goroutines} {
		n.get("/a", "Host", "a.test")
		for i := range 5 {
			c, br := dial(t, n)
			rawExchange(t, c, br, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
			time.Sleep(20 * time.Millisecond) // parked between requests
			io.WriteString(c, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
			c.(*net.TCPConn).CloseWrite()
			readResponse(t, br, false)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("%s, #%d: after the answer to a half-closed connection: %v, want EOF", n.url, i, err)
			}
			c.Close()
		}
	}
}

// TestEventLoopWriteTimeoutIsNotIdle: answers waiting for room are cut
// off at the write timeout from when they began to wait, however often
// the client sends a byte meanwhile (each one an event of its own).
func TestEventLoopWriteTimeoutIsNotIdle(t *testing.T) {
	loops, goroutines := startLoopPair(t, "write_timeout = \"300ms\"\nidle_timeout = \"1h\"\nread_header_timeout = \"1h\"\n")
	for _, n := range []*node{loops, goroutines} {
		n.get("/mid", "Host", "a.test")
		c, br := dial(t, n)
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		rawExchange(t, c, br, "GET /mid HTTP/1.1\r\nHost: a.test\r\n\r\n")
		time.Sleep(50 * time.Millisecond) // in the set, with event loops
		io.WriteString(c, strings.Repeat("GET /mid HTTP/1.1\r\nHost: a.test\r\n\r\n", 400))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { // a byte every 50 ms, until the test is done
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					if _, err := c.Write([]byte("\r")); err != nil {
						return
					}
				}
			}
		})
		time.Sleep(time.Second)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, br)
		close(stop)
		wg.Wait()
		c.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: answers not read for 11 s, write_timeout 300ms: still open", n.url)
		}
	}
}

// TestEventLoopFirstHeadTimeout: with event loops as without, a first
// request begun late is due within the header timeout of the
// connection's opening, not of its first byte.
func TestEventLoopFirstHeadTimeout(t *testing.T) {
	loops, goroutines := startLoopPair(t, "read_header_timeout = \"1s\"\n")
	for _, n := range []*node{loops, goroutines} {
		start := time.Now()
		c, br := dial(t, n)
		time.Sleep(900 * time.Millisecond)
		io.WriteString(c, "GET /a HTTP/1.1\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br.ReadByte()
		if el := time.Since(start); el > 1600*time.Millisecond {
			t.Errorf("%s: a first head begun 0.9 s after opening cut off %v after it, header timeout 1s", n.url, el.Round(10*time.Millisecond))
		}
		c.Close()
	}
}

// TestEventLoopsParkCycles drives connections in and out of the set for
// 3 s: heads in two pieces (to the goroutine and back), pipelined hits,
// misses (handed off and resumed), half-closes; every answer is checked.
func TestEventLoopsParkCycles(t *testing.T) {
	loops, _ := startLoopPair(t, "")
	_, want := loops.get("/a", "Host", "a.test")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	deadline := time.Now().Add(3 * time.Second)
	hit := "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n"
	for g := range 16 {
		wg.Go(func() {
			for round := 0; time.Now().Before(deadline); round++ {
				c, err := net.Dial("tcp", strings.TrimPrefix(loops.url, "http://"))
				if err != nil {
					errs <- err
					return
				}
				c.SetDeadline(time.Now().Add(20 * time.Second))
				br := bufio.NewReader(c)
				for i := range 20 {
					n := 1
					switch i % 4 {
					case 0:
						io.WriteString(c, hit[:10])
						time.Sleep(time.Duration(g%3) * 100 * time.Microsecond)
						io.WriteString(c, hit[10:])
					case 1:
						io.WriteString(c, hit+hit)
						n = 2
					case 2:
						fmt.Fprintf(c, "GET /miss/%d/%d/%d HTTP/1.1\r\nHost: a.test\r\n\r\n", g, round, i)
					case 3:
						io.WriteString(c, hit)
					}
					for range n {
						if _, body := readResponse(t, br, false); i%4 != 2 && body != want {
							errs <- fmt.Errorf("conn %d, request %d: %q", g, i, body)
							c.Close()
							return
						}
					}
				}
				if g%2 == 0 {
					c.(*net.TCPConn).CloseWrite()
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
}

// TestEventLoopIdleTimeoutAfterLeaving sends a connection out of the
// loops with a large answer, after it had an idle deadline on its first
// net.Conn: its goroutine must still close it at the idle timeout, on
// the net.Conn it was given when it left (h1fast_poll_detach_linux.go).
func TestEventLoopIdleTimeoutAfterLeaving(t *testing.T) {
	loops, _ := startLoopPair(t, "idle_timeout = \"2s\"\n")
	loops.get("/big", "Host", "a.test")
	loops.get("/a", "Host", "a.test")
	settle(t, loops)
	c, br := dial(t, loops)
	// A large answer keeps the connection on its goroutine, which sets
	// the idle deadline; small ones then send it to the loops.
	rawExchange(t, c, br, "GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n")
	for range fastStayLarge {
		rawExchange(t, c, br, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
	}
	if !waitFor(func() bool { return waitingConns(t, loops) == 1 }) {
		t.Fatal("the connection is not in the event loops")
	}
	rawExchange(t, c, br, "GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if !waitFor(func() bool { return waitingConns(t, loops) == 0 }) {
		t.Fatal("the connection did not leave the event loops")
	}
	start := time.Now()
	c.SetReadDeadline(start.Add(10 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("read %v after %v, want EOF at the idle timeout", err, time.Since(start))
	}
}

// TestEventLoopLeavingAtDescriptorLimit parks a connection, then sends
// it a miss while the process may open no descriptor: leaving the loops
// needs one for a moment (net.FileConn), so the connection waits for
// one instead of being dropped, and is answered once the limit is
// raised again.
func TestEventLoopLeavingAtDescriptorLimit(t *testing.T) {
	loops, _ := startLoopPair(t, "")
	loops.get("/a", "Host", "a.test")
	loops.get("/warm", "Host", "a.test") // an idle upstream connection for the miss
	settle(t, loops)
	c, br := dial(t, loops)
	rawExchange(t, c, br, "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if !waitFor(func() bool { return waitingConns(t, loops) == 1 }) {
		t.Fatal("the connection is not in the event loops")
	}

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	lowest := -1
	raw.Control(func(fd uintptr) { lowest, err = syscall.Dup(int(fd)) })
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(lowest)
	low := lim
	low.Cur = uint64(lowest) // no new descriptor fits under it
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	var dupErr error
	raw.Control(func(fd uintptr) {
		var d int
		if d, dupErr = syscall.Dup(int(fd)); dupErr == nil {
			syscall.Close(d)
		}
	})
	if dupErr == nil {
		t.Fatal("the lowered limit does not hold")
	}
	io.WriteString(c, "GET /miss HTTP/1.1\r\nHost: a.test\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	restore()
	head, body := readResponse(t, br, false)
	if !strings.HasPrefix(head, "HTTP/1.1 200 ") || body != "body of /miss" {
		t.Errorf("got %q %q, want the miss answered", head, body)
	}
}
