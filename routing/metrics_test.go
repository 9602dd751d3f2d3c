package routing

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterValue sums the samples of family name whose labels include want.
func counterValue(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, want) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestMetrics(t *testing.T) {
	up := newEcho(t, "a")
	reg := prometheus.NewPedanticRegistry()
	p := testTable(t, nil, Options{Registerer: reg}, testOrigin(t, "o", up.srv.URL)).Pool("o")
	do(t, p, outgoing(t, http.MethodGet, ""), "")
	do(t, p, outgoing(t, http.MethodGet, ""), "")
	server := map[string]string{"pool": "o", "server": "http://" + up.srv.Listener.Addr().String()}
	ok := map[string]string{"pool": "o", "server": server["server"], "outcome": "ok"}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"popcache_upstream_requests_total", ok, 2},
		{"popcache_upstream_server_up", server, 1},
		{"popcache_upstream_ejections_total", server, 0},
		{"popcache_upstream_retries_total", map[string]string{"pool": "o"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := counterValue(t, reg, tt.name, tt.labels); got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
			}
		})
	}
}

// TestMetricsReload: a second table on the same registry (a config reload)
// shares the collectors instead of failing.
func TestMetricsReload(t *testing.T) {
	up := newEcho(t, "a")
	reg := prometheus.NewPedanticRegistry()
	first := testTable(t, nil, Options{Registerer: reg}, testOrigin(t, "o", up.srv.URL)).Pool("o")
	second := testTable(t, nil, Options{Registerer: reg}, testOrigin(t, "o", up.srv.URL)).Pool("o")
	do(t, first, outgoing(t, http.MethodGet, ""), "")
	do(t, second, outgoing(t, http.MethodGet, ""), "")
	if got := counterValue(t, reg, "popcache_upstream_requests_total", map[string]string{"outcome": "ok"}); got != 2 {
		t.Errorf("requests = %v, want 2 across both tables", got)
	}
}

// TestMetricsConflict: a foreign collector under one of our names is an
// error from New, not a panic or a silent loss.
func TestMetricsConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "popcache_upstream_retries_total", Help: "x"}))
	if _, err := newMetrics(reg); err == nil {
		t.Error("newMetrics succeeded over a conflicting collector")
	}
}
