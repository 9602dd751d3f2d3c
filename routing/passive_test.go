package routing

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRecordPassive(t *testing.T) {
	const maxFails = 3
	tests := []struct {
		name    string
		results string // f = failure, s = success
		ejected int    // ejections caused
	}{
		{"below the threshold", "ff", 0},
		{"at the threshold", "fff", 1},
		{"a success resets the count", "ffsff", 0},
		{"the ejection resets the count", "fffff", 1},
		{"twice the threshold ejects twice", "ffffff", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testServers(1)[0]
			n := 0
			for _, r := range tt.results {
				if s.recordPassive(r == 'f', maxFails, time.Minute, time.Now()) {
					n++
				}
			}
			if n != tt.ejected {
				t.Errorf("ejections = %d, want %d", n, tt.ejected)
			}
		})
	}
}

// flaky answers with the status in code.
func flaky(t *testing.T, code *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server", "flaky")
		w.WriteHeader(int(code.Load()))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPassiveEjection: consecutive 503s eject a server for Eject; when the
// (injected) clock passes it, the server is picked again.
func TestPassiveEjection(t *testing.T) {
	var code atomic.Int64
	code.Store(http.StatusServiceUnavailable)
	bad := flaky(t, &code)
	good := newEcho(t, "good")
	o := testOrigin(t, "o", bad.URL, good.srv.URL)
	o.Passive.MaxFails = 2
	o.Passive.Eject = conf.Duration(10 * time.Second)
	clock := newFakeClock()
	reg := prometheus.NewPedanticRegistry()
	p := testTable(t, clock, Options{Registerer: reg}, o).Pool("o")

	servers := func(n int) string {
		var got []string
		for range n {
			got = append(got, do(t, p, outgoing(t, http.MethodGet, ""), "").Get("X-Server"))
		}
		return strings.Join(got, " ")
	}
	// Round robin: flaky fails twice, then it is ejected.
	if got, want := servers(6), "flaky good flaky good good good"; got != want {
		t.Errorf("before ejection expires: %s, want %s", got, want)
	}
	if got := counterValue(t, reg, "popcache_upstream_ejections_total", nil); got != 1 {
		t.Errorf("ejections = %v, want 1", got)
	}
	clock.Advance(9 * time.Second)
	if got := servers(2); strings.Contains(got, "flaky") {
		t.Errorf("flaky picked while still ejected: %s", got)
	}
	code.Store(http.StatusOK)
	clock.Advance(time.Second)
	if got := servers(4); strings.Count(got, "flaky") != 2 {
		t.Errorf("after the ejection: %s, want flaky back in rotation", got)
	}
}

// TestAllEjectedAllUp: with every server ejected the pool still sends,
// rather than fail closed.
func TestAllEjectedAllUp(t *testing.T) {
	var code atomic.Int64
	code.Store(http.StatusBadGateway)
	a, b := flaky(t, &code), flaky(t, &code)
	o := testOrigin(t, "o", a.URL, b.URL)
	o.Passive.MaxFails = 1
	clock := newFakeClock()
	p := testTable(t, clock, Options{}, o).Pool("o")
	for i := range 6 {
		resp, err := p.RoundTrip(outgoing(t, http.MethodGet, ""), "")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("request %d: status %d, want the upstream's 502", i, resp.StatusCode)
		}
	}
	for _, s := range p.servers {
		if s.available(clock.Now()) {
			t.Errorf("%s not ejected", s.label)
		}
	}
}

func TestPassiveDisabled(t *testing.T) {
	var code atomic.Int64
	code.Store(http.StatusGatewayTimeout)
	bad := flaky(t, &code)
	o := testOrigin(t, "o", bad.URL)
	o.Passive.MaxFails = 1
	o.Passive.Disabled = true
	p := testTable(t, nil, Options{}, o).Pool("o")
	for range 3 {
		do(t, p, outgoing(t, http.MethodGet, ""), "")
	}
	if s := p.servers[0]; s.ejectedUntil.Load() != 0 || s.fails.Load() != 0 {
		t.Error("server counted or ejected with passive checks disabled")
	}
}
