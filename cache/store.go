package cache

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/popcache/popcache/conf"
)

// Outcome is what a lookup found.
type Outcome uint8

const (
	// URIMiss: nothing is stored for the key (Cache-Status fwd=uri-miss).
	URIMiss Outcome = iota
	// VaryMiss: responses are stored for the URL, but none for this
	// request's values of the Vary fields (fwd=vary-miss).
	VaryMiss
	// Found: a stored response matches; its freshness is the caller's call.
	Found
	// Pass: the URL recently answered with an uncacheable response
	// (hit-for-miss); go upstream directly, without coalescing.
	Pass
)

// Options are a Store's dependencies.
type Options struct {
	// Registerer receives the memory tier's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Store is the cache: a memory tier holding Objects under primary keys,
// Vary variants under derived keys, and miss coalescing. It is safe for
// concurrent use.
type Store struct {
	cfg     conf.Cache
	mem     *ristretto.Cache[string, *entry]
	flights singleflight.Group
	gen     atomic.Uint64 // source of Vary marker generations
	metrics *storeMetrics
}

// New returns a Store sized by cfg.MemoryMaxBytes, a hard cap.
func New(cfg conf.Cache, opts Options) (*Store, error) {
	maxCost := int64(cfg.MemoryMaxBytes)
	if maxCost <= 0 {
		return nil, fmt.Errorf("cache: new store: memory_max_bytes must be positive, got %d", maxCost)
	}
	// Ristretto wants ~10 counters per expected item; assume 4 KiB objects
	// on average, within sane bounds.
	counters := min(max(maxCost/4096*10, 10_000), 50_000_000)
	mem, err := ristretto.NewCache(&ristretto.Config[string, *entry]{
		NumCounters:        counters,
		MaxCost:            maxCost,
		BufferItems:        64,
		Metrics:            true,
		IgnoreInternalCost: true, // entry.cost already counts an overhead
	})
	if err != nil {
		return nil, fmt.Errorf("cache: new memory tier: %w", err)
	}
	s := &Store{cfg: cfg, mem: mem}
	s.metrics = newStoreMetrics(s, opts.Registerer)
	return s, nil
}

// Close releases the memory tier.
func (s *Store) Close() {
	s.metrics.unregister()
	s.mem.Close()
}

// Lookup finds what is stored for the primary key and the request header.
// It does not judge freshness.
func (s *Store) Lookup(key string, req http.Header, now time.Time) (*Object, Outcome) {
	e, ok := s.mem.Get(key)
	if !ok || now.After(e.until) {
		return nil, URIMiss
	}
	switch e.kind {
	case kindPass:
		return nil, Pass
	case kindVaryMarker:
		v, ok := s.mem.Get(variantKey(key, e.gen, VaryKey(e.fields, req)))
		if !ok || v.kind != kindObject || now.After(v.until) {
			return nil, VaryMiss
		}
		return v.obj, Found
	}
	return e.obj, Found
}

// Put stores obj under the primary key, as a Vary variant when
// obj.Meta.VaryFields is set, until obj.Meta.KeepUntil(). It reports
// whether the memory tier accepted it (the admission policy may refuse).
// A variant that was stored (Put returns true) is visible to Lookup once
// Put returns.
func (s *Store) Put(key string, obj *Object, now time.Time) bool {
	until := obj.Meta.KeepUntil()
	ttl := until.Sub(now)
	if ttl <= 0 {
		return false
	}
	e := &entry{kind: kindObject, obj: obj, until: until}
	storeKey := key
	if len(obj.Meta.VaryFields) > 0 {
		gen := s.varyGeneration(key, obj.Meta.VaryFields, until, now)
		storeKey = variantKey(key, gen, obj.Meta.VaryKey)
	}
	ok := s.mem.SetWithTTL(storeKey, e, e.cost(), ttl)
	s.mem.Wait()
	return ok
}

// varyGeneration returns the generation of the key's Vary marker for
// fields, writing a new marker when there is none, it has other fields,
// or it would expire before until.
func (s *Store) varyGeneration(key string, fields []string, until, now time.Time) uint64 {
	cur, ok := s.mem.Get(key)
	if ok && cur.kind == kindVaryMarker && slices.Equal(cur.fields, fields) && !now.After(cur.until) {
		if !until.After(cur.until) {
			return cur.gen
		}
		m := &entry{kind: kindVaryMarker, fields: cur.fields, gen: cur.gen, until: until}
		s.mem.SetWithTTL(key, m, m.cost(), until.Sub(now))
		return cur.gen
	}
	m := &entry{kind: kindVaryMarker, fields: fields, gen: s.gen.Add(1), until: until}
	s.mem.SetWithTTL(key, m, m.cost(), until.Sub(now))
	return m.gen
}

// MarkPass remembers key as uncacheable for the hit-for-miss TTL, unless a
// response is stored under it.
func (s *Store) MarkPass(key string, now time.Time) {
	ttl := s.cfg.HitForMissTTL.D()
	if ttl <= 0 {
		return
	}
	e := &entry{kind: kindPass, until: now.Add(ttl)}
	s.mem.SetWithTTL(key, e, e.cost(), ttl)
	s.mem.Wait()
}

// Invalidate removes everything stored for the primary key, all Vary
// variants included (they become unreachable with their marker and age out).
func (s *Store) Invalidate(key string) {
	s.mem.Del(key)
	s.mem.Wait()
}

// variantKey derives the key of one Vary variant.
func variantKey(key string, gen uint64, varyKey string) string {
	b := make([]byte, 0, len(key)+len(varyKey)+24)
	b = append(b, key...)
	b = append(b, "\x00v"...)
	b = strconv.AppendUint(b, gen, 36)
	b = append(b, 0)
	b = append(b, varyKey...)
	return string(b)
}
