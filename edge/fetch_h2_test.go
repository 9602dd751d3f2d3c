package edge

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// TestFillFromHTTP2OriginEndsItsStreams fills from an HTTP/2 origin that
// sends its whole announced body, then ends the stream a little later (as
// one that flushes and then finishes does): the fill must read to the
// stream's end, not close the body after Content-Length bytes, which
// resets the stream (RST_STREAM CANCEL) under the origin.
func TestFillFromHTTP2OriginEndsItsStreams(t *testing.T) {
	var resets atomic.Int64
	body := strings.Repeat("b", 1000)
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write([]byte(body))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			resets.Add(1)
		case <-time.After(100 * time.Millisecond):
		}
	}))
	o.EnableHTTP2 = true
	o.StartTLS()
	t.Cleanup(o.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Parse("test.toml", []byte(fmt.Sprintf(`
[[origins]]
name = "o"
servers = [{ url = %q }]
[origins.tls]
ca_file = %q
[[routes]]
name = "all"
origin = "o"
`, o.URL, ca)))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := launch(t, cfg, o, newClock())
	for i := range 3 {
		resp, got := n.get(fmt.Sprintf("/h2/%d", i))
		if resp.StatusCode != http.StatusOK || got != body || resp.ProtoMajor != 1 {
			t.Fatalf("fill %d: %d, %d bytes", i, resp.StatusCode, len(got))
		}
		if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "stored") {
			t.Errorf("fill %d: Cache-Status %q, want stored", i, cs)
		}
	}
	// The origin's handlers are done once their streams ended, one way or
	// the other: close waits for them.
	o.Close()
	if got := resets.Load(); got != 0 {
		t.Errorf("%d of 3 origin streams reset by the fill", got)
	}
}
