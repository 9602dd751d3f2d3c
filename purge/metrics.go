package purge

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a Service's collectors; every field is usable when no
// registerer was given (then nothing is exported).
//
//   - popcache_purge_api_requests_total{code}: answers of the purge API and
//     of the PURGE method.
//   - popcache_purge_published_total{kind}: purges this node published, by
//     kind (a purge of URLs and tags counts under both).
//   - popcache_purge_applied_total{kind}: purge rules this node applied,
//     by kind (url, prefix, host, tag, all).
//   - popcache_purge_objects_removed_total, popcache_purge_objects_stale_total:
//     objects a purge turned into misses (removed) or marked stale, counted
//     as lookups meet them, plus keys removed at once by URL purges.
//   - popcache_purge_apply_latency_seconds: from the purge's storage on
//     the stream to its application on this node.
//   - popcache_purge_consumer_lag: purges on the stream this node has
//     still to apply, as of the last one it received.
//   - popcache_purge_applied_seq: the last stream sequence applied.
//   - popcache_purge_bus_connected: 1 while connected to NATS.
//   - popcache_purge_caught_up: 1 once the backlog found at the last
//     (re)connection is applied.
//   - popcache_purge_rule_entries: index entries of live purge rules.
//   - popcache_purge_revalidate_all_total: times the node could not know
//     which purges it missed and revalidated everything it had.
//   - popcache_purge_errors_total{op}: failures (publish, journal, attach,
//     decode, ack).
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	api        *prometheus.CounterVec
	published  *prometheus.CounterVec
	applied    *prometheus.CounterVec
	latency    prometheus.Histogram
	lag        prometheus.Gauge
	appliedSeq prometheus.Gauge
	revalidate prometheus.Counter
	errors     *prometheus.CounterVec
}

func newMetrics(s *Service, reg prometheus.Registerer) *metrics {
	m := &metrics{
		reg: reg,
		api: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "popcache_purge_api_requests_total",
			Help: "Answers of the purge API and the PURGE method, by status code.",
		}, []string{"code"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "popcache_purge_published_total",
			Help: "Purges this node published, by kind.",
		}, []string{"kind"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "popcache_purge_applied_total",
			Help: "Purge rules this node applied, by kind.",
		}, []string{"kind"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "popcache_purge_apply_latency_seconds",
			Help:    "Time from a purge's storage on the stream to its application on this node.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "popcache_purge_consumer_lag",
			Help: "Purges on the stream this node has still to apply, as of the last one it received.",
		}),
		appliedSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "popcache_purge_applied_seq",
			Help: "The last stream sequence this node applied.",
		}),
		revalidate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "popcache_purge_revalidate_all_total",
			Help: "Times this node could not know which purges it missed and revalidated everything it had.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "popcache_purge_errors_total",
			Help: "Purge failures, by operation.",
		}, []string{"op"}),
	}
	if reg == nil {
		return m
	}
	m.collectors = []prometheus.Collector{
		m.api, m.published, m.applied, m.latency, m.lag, m.appliedSeq, m.revalidate, m.errors,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "popcache_purge_objects_removed_total",
			Help: "Objects purges removed: hard-purged objects met by lookups, plus keys removed at once by URL purges.",
		}, func() float64 { return float64(s.cache.PurgeStats().Removed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "popcache_purge_objects_stale_total",
			Help: "Objects soft purges marked stale, as lookups met them.",
		}, func() float64 { return float64(s.cache.PurgeStats().Stale) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "popcache_purge_rule_entries",
			Help: "Index entries of the purge rules in force (distinct URLs, prefixes, hosts, tags, and all).",
		}, func() float64 { return float64(s.cache.PurgeStats().Entries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "popcache_purge_bus_connected",
			Help: "1 while this node is connected to the purge bus (NATS).",
		}, func() float64 { return boolFloat(s.bus != nil && s.bus.connected.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "popcache_purge_caught_up",
			Help: "1 once this node has applied the backlog found when it last attached to the stream.",
		}, func() float64 { return boolFloat(s.caughtUp.Load()) }),
	}
	for _, c := range m.collectors {
		reg.MustRegister(c)
	}
	return m
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}
