package edge

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestAdminHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "popcache_test_total", Help: "t"})
	reg.MustRegister(c)
	var unhealthy error
	cases := []struct {
		name     string
		pprof    bool
		path     string
		sick     error
		wantCode int
		wantBody string
	}{
		{"metrics", false, "/metrics", nil, 200, "popcache_test_total"},
		{"healthz ok", false, "/healthz", nil, 200, "ok"},
		{"healthz failing", false, "/healthz", errors.New("bus down"), 503, "bus down"},
		{"pprof off by default", false, "/debug/pprof/", nil, 404, ""},
		{"pprof when enabled", true, "/debug/pprof/", nil, 200, "goroutine"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			unhealthy = tc.sick
			h := AdminHandler(reg, func() error { return unhealthy }, tc.pprof)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("%s: %d %q, want %d containing %q", tc.path, rec.Code, rec.Body.String(), tc.wantCode, tc.wantBody)
			}
		})
	}
}
