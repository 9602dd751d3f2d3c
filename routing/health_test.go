package routing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRecordProbe(t *testing.T) {
	const rise, fall = 2, 3
	tests := []struct {
		name    string
		results string // s = success, f = failure
		wantUp  bool
	}{
		{"servers start up", "", true},
		{"fewer than fall failures keep it up", "ff", true},
		{"fall failures take it down", "fff", false},
		{"a success breaks a failure run", "ffsff", true},
		{"one success is not enough to rise", "ffffs", false},
		{"rise successes bring it back", "fffss", true},
		{"a failure breaks a success run", "fffsfs", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testServers(1)[0]
			for _, r := range tt.results {
				s.health.Record(r == 's', rise, fall)
			}
			if got := s.health.Up(); got != tt.wantUp {
				t.Errorf("up = %v, want %v", got, tt.wantUp)
			}
		})
	}
}

// healthOrigin returns an origin checked every 10ms at /health.
func healthOrigin(t *testing.T, urls ...string) conf.Origin {
	o := testOrigin(t, "o", urls...)
	o.Health = conf.HealthCheck{
		Path:     "/health",
		Interval: conf.Duration(10 * time.Millisecond),
		Timeout:  conf.Duration(time.Second),
		Rise:     2,
		Fall:     2,
	}
	return o
}

// switchable answers /health with the status in code, and counts probes.
func switchable(t *testing.T, code *atomic.Int64, probes *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		probes.Add(1)
		w.WriteHeader(int(code.Load()))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// run starts tbl.Run and returns a func that stops it and waits for it.
func run(t *testing.T, tbl *Table) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		tbl.Run(ctx)
		close(done)
	}()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
}

// TestActiveChecks flips a server unhealthy and back and watches the
// verdict, the gauge and the picks follow.
func TestActiveChecks(t *testing.T) {
	var code, probes atomic.Int64
	code.Store(http.StatusOK)
	checked := switchable(t, &code, &probes)
	other := newEcho(t, "other")
	reg := prometheus.NewPedanticRegistry()
	tbl := testTable(t, nil, Options{Registerer: reg}, healthOrigin(t, checked.URL, other.srv.URL))
	p := tbl.Pool("o")
	s := p.servers[0]
	gauge := map[string]string{"server": s.label}
	stop := run(t, tbl)
	defer stop()

	waitFor(t, "a first probe", func() bool { return probes.Load() >= 1 })
	if !s.health.Up() {
		t.Fatal("healthy server marked down")
	}

	code.Store(http.StatusInternalServerError)
	waitFor(t, "the server to be marked down", func() bool { return !s.health.Up() })
	if got := counterValue(t, reg, "popcache_upstream_server_up", gauge); got != 0 {
		t.Errorf("up gauge = %v, want 0", got)
	}
	for range 4 {
		if h := do(t, p, outgoing(t, http.MethodGet, ""), ""); h.Get("X-Server") != "other" {
			t.Fatalf("request went to %q while the checked server is down", h.Get("X-Server"))
		}
	}

	code.Store(http.StatusNoContent)
	waitFor(t, "the server to be marked up", func() bool { return s.health.Up() })
	if got := counterValue(t, reg, "popcache_upstream_server_up", gauge); got != 1 {
		t.Errorf("up gauge = %v, want 1", got)
	}
	stop()
	n := probes.Load()
	if !tbl.runMu.TryLock() {
		t.Fatal("Run still holds its lock after returning")
	}
	tbl.runMu.Unlock()
	if probes.Load() != n {
		t.Error("probes continue after Run returned")
	}
}

func TestExpectCode(t *testing.T) {
	tests := []struct {
		name   string
		expect int
		code   int
		wantUp bool
	}{
		{"2xx passes by default", 0, http.StatusOK, true},
		{"3xx passes by default", 0, http.StatusFound, true},
		{"4xx fails by default", 0, http.StatusNotFound, false},
		{"expect_code must match exactly", http.StatusNoContent, http.StatusOK, false},
		{"expect_code met", http.StatusTeapot, http.StatusTeapot, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var code, probes atomic.Int64
			code.Store(int64(tt.code))
			srv := switchable(t, &code, &probes)
			o := healthOrigin(t, srv.URL)
			o.Health.ExpectCode = tt.expect
			p := testTable(t, nil, Options{}, o).Pool("o")
			if got := p.probe(context.Background(), p.servers[0]); got != tt.wantUp {
				t.Errorf("probe = %v, want %v", got, tt.wantUp)
			}
		})
	}
}

// TestProbeTimeout: a server slower than Timeout fails its probe.
func TestProbeTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer slow.Close()
	defer close(release)
	o := healthOrigin(t, slow.URL)
	o.Health.Timeout = conf.Duration(20 * time.Millisecond)
	p := testTable(t, nil, Options{}, o).Pool("o")
	if p.probe(context.Background(), p.servers[0]) {
		t.Error("probe passed past its timeout")
	}
}

// TestRunWithoutChecks returns when ctx is done even with nothing to run.
func TestRunWithoutChecks(t *testing.T) {
	tbl := testTable(t, nil, Options{}, testOrigin(t, "o", "http://127.0.0.1:1"))
	stop := run(t, tbl)
	stop()
}

// TestProbeNotQueuedBehindTraffic: with max_conns reached by proxied
// requests, health checks still get through on their own connections.
func TestProbeNotQueuedBehindTraffic(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-release // hold the connection busy
	}))
	defer srv.Close()
	defer close(release)
	o := healthOrigin(t, srv.URL)
	o.MaxConns = 1
	o.Health.Timeout = conf.Duration(200 * time.Millisecond)
	p := testTable(t, nil, Options{}, o).Pool("o")
	resp, err := p.RoundTrip(outgoing(t, http.MethodGet, ""), "")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !p.probe(context.Background(), p.servers[0]) {
		t.Error("probe failed while the only allowed connection was busy")
	}
}
