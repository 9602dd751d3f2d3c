package shield

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/popcache/popcache/routing"
)

// failingBody gives some bytes, then fails, as a client's malformed
// chunked body does under the edge.
type failingBody struct{ r io.Reader }

func (b *failingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errors.New("bad chunk")
	}
	return n, err
}

// A request body that cannot be read is the client's failure: the
// shield's circuit stays closed, no failure is counted and nothing fails
// over, even with max_fails = 1.
func TestRequestBodyErrorIsNotAShieldFailure(t *testing.T) {
	home := newFakeShield(t, "home")
	home.set(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "read")
	})
	next := newFakeShield(t, "next")
	c, reg, _ := testClient(t, []string{home.URL, next.URL}, "[shield.breaker]\nmax_fails = 1\n")
	key := keyHomedAt(t, c, home.URL)
	for range 3 {
		body := routing.GuardRequestBody(io.NopCloser(&failingBody{strings.NewReader("some of the body")}))
		req, _ := http.NewRequest(http.MethodPost, "http://example.com/x", body)
		req.ContentLength = -1
		resp, err := c.Tier(nil).RoundTrip(req, key)
		if err == nil {
			resp.Body.Close()
			t.Fatal("no error for a body that failed")
		}
		if !routing.IsRequestBodyError(err) {
			t.Fatalf("error %v is not a request body error", err)
		}
	}
	if c.peers[0].br.current() != Closed || c.peers[1].br.current() != Closed {
		t.Errorf("bad request bodies opened a circuit")
	}
	if next.hits.Load() != 0 {
		t.Errorf("a bad request body failed over (%d requests to the next shield)", next.hits.Load())
	}
	for _, reason := range []string{reasonConnect, reasonTimeout, reasonError, reasonBody} {
		if got := counter(t, reg, "popcache_shield_failures_total", "shield", home.URL, "reason", reason); got != 0 {
			t.Errorf("%v failures counted as %s", got, reason)
		}
	}
}
