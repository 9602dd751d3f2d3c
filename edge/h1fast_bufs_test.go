package edge

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFastPathBuffersNotShared runs short and long connections at once,
// hits, misses (handed to net/http and taken back) and pipelined batches,
// so that buffers go back to the pool and out again all the time: every
// answer must be its own request's, whole.
func TestFastPathBuffersNotShared(t *testing.T) {
	fast, _, _ := startFastPair(t, "")
	const clients, conns = 8, 40
	for i := range 4 {
		fast.get(fmt.Sprintf("/hot%d", i), "Host", "a.test")
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for cl := range clients {
		wg.Go(func() {
			for n := range conns {
				if err := bufsExchange(t, fast, cl, n); err != nil {
					errs <- err
					return
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

// bufsExchange is connection n of client cl: a few requests, pipelined
// or not, for hot objects and new ones, the last one closing.
func bufsExchange(t *testing.T, fast *node, cl, n int) error {
	c, br := dial(t, fast)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var paths []string
	for i := range 1 + (cl+n)%4 {
		p := fmt.Sprintf("/hot%d", (cl+n+i)%4)
		if (cl+n+i)%3 == 0 {
			p = fmt.Sprintf("/miss-%d-%d-%d", cl, n, i)
		}
		paths = append(paths, p)
	}
	var batch strings.Builder
	for i, p := range paths {
		close := ""
		if i == len(paths)-1 && n%2 == 0 {
			close = "Connection: close\r\n"
		}
		fmt.Fprintf(&batch, "GET %s HTTP/1.1\r\nHost: a.test\r\nX-Pad: %s\r\n%s\r\n", p, strings.Repeat("p", (cl*97+n*31)%3000), close)
		if n%3 != 0 { // not pipelined: one at a time
			if _, err := io.WriteString(c, batch.String()); err != nil {
				return err
			}
			batch.Reset()
			if err := bufsCheck(br, p); err != nil {
				return err
			}
		}
	}
	if batch.Len() > 0 {
		if _, err := io.WriteString(c, batch.String()); err != nil {
			return err
		}
		for _, p := range paths {
			if err := bufsCheck(br, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// bufsCheck reads one answer from br and checks it is path's: a 200
// with the origin's body for that path.
func bufsCheck(br *bufio.Reader, path string) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(b) != "body of "+path {
		return fmt.Errorf("%s: %d %q (%v)", path, resp.StatusCode, b, err)
	}
	return nil
}
