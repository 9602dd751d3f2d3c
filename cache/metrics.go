package cache

import "github.com/prometheus/client_golang/prometheus"

// storeMetrics exports the memory tier's state as gauges computed on
// scrape, so the hit path updates nothing.
type storeMetrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
}

func newStoreMetrics(s *Store, reg prometheus.Registerer) *storeMetrics {
	m := &storeMetrics{reg: reg}
	if reg == nil {
		return m
	}
	rm := s.mem.Metrics
	m.collectors = []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "popcache_memory_bytes",
			Help: "Bytes held by the memory tier (bodies, headers and overhead).",
		}, func() float64 { return float64(s.mem.MaxCost() - s.mem.RemainingCost()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "popcache_memory_max_bytes",
			Help: "Configured hard cap of the memory tier.",
		}, func() float64 { return float64(s.mem.MaxCost()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "popcache_memory_objects",
			Help: "Entries in the memory tier (objects, Vary markers, hit-for-miss markers), approximate.",
		}, func() float64 { return float64(rm.KeysAdded() - rm.KeysEvicted()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "popcache_memory_evictions_total",
			Help: "Entries evicted from the memory tier to stay under its cap.",
		}, func() float64 { return float64(rm.KeysEvicted()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "popcache_memory_rejected_total",
			Help: "Entries the memory tier's admission policy refused.",
		}, func() float64 { return float64(rm.SetsRejected()) }),
	}
	for _, c := range m.collectors {
		reg.MustRegister(c)
	}
	return m
}

func (m *storeMetrics) unregister() {
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}
