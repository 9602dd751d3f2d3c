package edge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// browserPage is served by the origin: its script writes the protocol the
// browser fetched it with into the DOM, which --dump-dom prints.
const browserPage = `<!doctype html><html><head><title>popcache h3</title></head><body>
<p id="proto">unknown</p>
<script>
var nav = performance.getEntriesByType("navigation")[0] || performance.getEntries()[0];
document.getElementById("proto").textContent = "proto=" + nav.nextHopProtocol;
</script></body></html>`

// A real browser fetches a page from the node over HTTP/3: Chromium,
// headless, forced onto QUIC for the node's origin and trusting the test
// certificate by its SPKI hash. The page reports the protocol the browser
// used, and the origin sees the node's Via for an HTTP/3 request.
//
// Without Chromium the test is skipped, except in CI (CI=true), where
// .ci/run installs it and its absence is a failure.
func TestBrowserFetchesOverHTTP3(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing (%v): .ci/run must install the chromium package", chromiumPath, err)
		}
		t.Skipf("skipping the HTTP/3 browser test: %s not found (apt-get install -y chromium to run it)", chromiumPath)
	}
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, "browser", "browser", "127.0.0.1", "localhost")
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(pair.Leaf.RawSubjectPublicKeyInfo)

	var mu sync.Mutex
	var vias []string // Via of each request the origin got
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		vias = append(vias, r.Header.Get("Via"))
		mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(browserPage))
	})
	n := startTLSNode(t, origin, "", "", certTOML(certPath, keyPath), "", ca.pool)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	origin443 := fmt.Sprintf("127.0.0.1:%d", n.h3Port)
	cmd := exec.CommandContext(ctx, chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(),
		"--enable-quic",
		"--origin-to-force-quic-on="+origin443,
		"--ignore-certificate-errors-spki-list="+base64.StdEncoding.EncodeToString(spki[:]),
		"--virtual-time-budget=5000",
		"--dump-dom", "https://"+origin443+"/",
	)
	// Chromium starts helper processes: run it in its own process group
	// and kill the whole group when done or out of time.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	err = cmd.Wait()
	dom := stdout.String()
	if err != nil && !strings.Contains(dom, "proto=") {
		t.Fatalf("chromium: %v\nstdout:\n%s\nstderr (tail):\n%s", err, dom, tail(stderr.String(), 3000))
	}

	m := regexp.MustCompile(`proto=([a-z0-9/.-]*)`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page did not report its protocol; DOM:\n%s\nstderr (tail):\n%s", dom, tail(stderr.String(), 3000))
	}
	if m[1] != "h3" {
		t.Errorf("the browser fetched the page with %q, want h3", m[1])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(vias) == 0 || vias[0] != "3 popcache" {
		t.Errorf("the origin saw Via %q, want \"3 popcache\" (an HTTP/3 request to the node)", vias)
	}
	if got := n.metric("popcache_protocol_requests_total", "protocol", "h3", "tls", "true"); got < 1 {
		t.Errorf("no HTTP/3 request counted")
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
