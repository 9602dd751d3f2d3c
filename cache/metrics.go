package cache

import "github.com/prometheus/client_golang/prometheus"

// storeMetrics exports the tiers' state as functions evaluated on scrape,
// so the hit path updates nothing beyond the disk tier's atomic counters.
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
	gauge := func(name, help string, f func() float64) {
		m.collectors = append(m.collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		m.collectors = append(m.collectors, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge("popcache_memory_bytes", "Bytes held by the memory tier (bodies, headers and overhead).",
		func() float64 { return float64(s.mem.MaxCost() - s.mem.RemainingCost()) })
	gauge("popcache_memory_max_bytes", "Configured hard cap of the memory tier.",
		func() float64 { return float64(s.mem.MaxCost()) })
	gauge("popcache_memory_objects", "Entries in the memory tier (objects, Vary markers, hit-for-miss markers), approximate.",
		func() float64 { return float64(rm.KeysAdded() - rm.KeysEvicted()) })
	counter("popcache_memory_evictions_total", "Entries evicted from the memory tier to stay under its cap.",
		func() float64 { return float64(rm.KeysEvicted()) })
	counter("popcache_memory_rejected_total", "Entries the memory tier's admission policy refused.",
		func() float64 { return float64(rm.SetsRejected()) })
	gauge("popcache_memory_files", "Bodies the memory tier keeps in memory files, for sendfile (cache.sendfile_min_bytes); closed when collected.",
		func() float64 { return float64(s.pages.open.Load()) })
	gauge("popcache_memory_file_bytes", "Bytes of those memory files: outside the Go heap, and in the process's RSS only where their mapping was read.",
		func() float64 { return float64(s.pages.bytes.Load()) })
	gauge("popcache_streams_in_flight", "Fills whose body is being streamed to readers and stored as it arrives.",
		func() float64 {
			s.streamsMu.Lock()
			defer s.streamsMu.Unlock()
			return float64(len(s.running))
		})
	if d := s.disk; d != nil {
		m.diskMetrics(d, gauge, counter)
	}
	for _, c := range m.collectors {
		reg.MustRegister(c)
	}
	return m
}

// diskMetrics adds the disk tier's series.
func (m *storeMetrics) diskMetrics(d *disk, gauge, counter func(name, help string, f func() float64)) {
	st := &d.stats
	load := func(c interface{ Load() uint64 }) func() float64 { return func() float64 { return float64(c.Load()) } }
	counter("popcache_disk_hits_total", "Memory misses served from the disk tier.", load(&st.hits))
	counter("popcache_disk_misses_total", "Memory misses that the disk tier could not serve either.", load(&st.misses))
	gauge("popcache_disk_bytes", "Bytes held by the disk tier (bodies, metadata and keys), against its cap.",
		func() float64 { used, _, _ := d.idx.counts(); return float64(used) })
	gauge("popcache_disk_reserved_bytes", "Bytes reserved under the disk tier's cap by writes in progress.",
		func() float64 { _, r, _ := d.idx.counts(); return float64(r) })
	gauge("popcache_disk_max_bytes", "Configured hard cap of the disk tier.",
		func() float64 { return float64(d.cfg.MaxBytes) })
	gauge("popcache_disk_objects", "Objects and Vary markers in the disk tier.",
		func() float64 { _, _, n := d.idx.counts(); return float64(n) })
	gauge("popcache_disk_files_bytes", "Bytes of the disk tier's files (Pebble's tables and logs, overhead included).",
		func() float64 {
			d.closeMu.RLock()
			defer d.closeMu.RUnlock()
			if d.closed {
				return 0
			}
			return float64(d.db.Metrics().DiskSpaceUsage())
		})
	gauge("popcache_disk_pebble_memory_bytes", "Memory held by Pebble's memtables and block cache (outside the Go heap, except in race builds).",
		func() float64 {
			d.closeMu.RLock()
			defer d.closeMu.RUnlock()
			if d.closed {
				return 0
			}
			m := d.db.Metrics()
			return float64(m.MemTable.Size + uint64(m.BlockCache.Size))
		})
	counter("popcache_disk_evictions_total", "Objects evicted from the disk tier to stay under its cap.", load(&st.evictions))
	counter("popcache_disk_expired_total", "Expired objects deleted from the disk tier in the background.", load(&st.expired))
	counter("popcache_disk_write_errors_total", "Failed or refused disk tier writes (full, nearly full filesystem, I/O errors).", load(&st.writeErrors))
	counter("popcache_disk_checksum_failures_total", "Disk tier objects dropped because a record failed its checksum or did not decode.", load(&st.checksumFailures))
	counter("popcache_disk_read_bytes_total", "Bytes read from the disk tier.", load(&st.bytesRead))
	counter("popcache_disk_written_bytes_total", "Bytes written to the disk tier.", load(&st.bytesWrit))
	counter("popcache_disk_write_stalls_total", "Times Pebble delayed writes for its compactions (hits are not delayed).", load(&st.writeStalls))
	gauge("popcache_disk_load_seconds", "Time the disk tier took to open at start-up (recovery and index load).",
		func() float64 { return d.load.Seconds() })
}

func (m *storeMetrics) unregister() {
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}
