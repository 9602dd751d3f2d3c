package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
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

// Options are a Store's dependencies. The zero value is usable.
type Options struct {
	// Registerer receives the tiers' metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives the disk tier's problems (failed writes, corrupt
	// objects, a nearly full filesystem); nil discards.
	Logger *slog.Logger
}

// Store is the cache: a memory tier (the hot tier) in front of an
// optional disk tier, Vary variants under derived keys, fills in progress
// and miss coalescing. It is safe for concurrent use.
//
// A memory miss that hits disk is served from disk and promoted to memory:
// the whole object when its body fits the memory tier, its meta alone
// otherwise (the body is then read from disk on every hit).
type Store struct {
	cfg     conf.Cache
	mem     *ristretto.Cache[string, *entry]
	disk    *disk // nil when the disk tier is off
	flights singleflight.Group
	gen     atomic.Uint64 // source of object and Vary generations; never repeats
	metrics *storeMetrics
	log     *slog.Logger

	streamsMu sync.Mutex
	streams   map[string]*stream   // joinable fills in progress by primary key; protected by streamsMu
	running   map[*stream]struct{} // every pump running; protected by streamsMu
	pumps     sync.WaitGroup
	quit      chan struct{} // closed by Close
	joinGrace time.Duration // defaultJoinGrace; longer in tests
	closeOnce sync.Once
	// closeMu orders Stream's setup before Close: Stream holds it for
	// reading while it opens a disk writer and counts its pump; Close
	// sets closed under it, so a later Stream stores nothing.
	closeMu sync.RWMutex
	closed  bool
	// users counts the changes to the tiers in progress (use): Close
	// waits for them before it releases the memory tier, which
	// ristretto does not allow to be used after, and fills that outlive
	// their clients may still be storing when a node stops.
	users sync.WaitGroup

	purges purgeIndex // purge rules (purge.go); the zero value has none

	pages pageFiles // bodies kept in memory files (pages.go)
}

// New returns a Store sized by cfg.MemoryMaxBytes, a hard cap, with the
// disk tier of cfg.Disk when cfg.Disk.Dir is set (by conf's Validate). It
// opens the disk tier and loads its index (markers only: a few dozen
// bytes per object); objects whose write a crash interrupted are deleted.
func New(cfg conf.Cache, opts Options) (*Store, error) {
	maxCost := int64(cfg.MemoryMaxBytes)
	if maxCost <= 0 {
		return nil, fmt.Errorf("cache: new store: memory_max_bytes must be positive, got %d", maxCost)
	}
	if cfg.Disk.Dir != "" && (cfg.Disk.ChunkBytes <= 0 || cfg.Disk.MaxBytes <= 0 || cfg.Disk.MaxObjectBytes <= 0) {
		return nil, errors.New("cache: new store: the disk tier needs positive max_bytes, max_object_bytes and chunk_bytes")
	}
	if cfg.Disk.ChunkBytes <= 0 {
		cfg.Disk.ChunkBytes = 256 << 10 // streams without a disk tier chunk too
	}
	// Ristretto wants ~10 counters per expected item; assume 4 KiB objects
	// on average, within sane bounds.
	counters := min(max(maxCost/4096*10, 10_000), 50_000_000)
	mem, err := ristretto.NewCache(&ristretto.Config[string, *entry]{
		NumCounters: counters,
		MaxCost:     maxCost,
		// Reads reach the admission policy in batches of BufferItems,
		// each waking its goroutine. Ristretto suggests 64: at 140k hits
		// a second that woke it 2,200 times a second, on the cores the
		// event loops need, and the saturated hits did 125k-128k req/s
		// against 140k-143k with 512, alternated by hand. 1024 did no
		// better, and lost a hot object's counts when collections came
		// often (sync.Pool drops the batches being filled):
		// TestMemoryTierKeepsHotObjectsThroughAScan.
		BufferItems:        512,
		Metrics:            true,
		IgnoreInternalCost: true, // entry.cost already counts an overhead
	})
	if err != nil {
		return nil, fmt.Errorf("cache: new memory tier: %w", err)
	}
	s := &Store{
		cfg:     cfg,
		mem:     mem,
		log:     opts.Logger,
		streams: make(map[string]*stream),
		running: make(map[*stream]struct{}),
		quit:    make(chan struct{}),

		joinGrace: defaultJoinGrace,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if m := cfg.SendfileMinBytes; m != nil && *m > 0 {
		s.pages.min, s.pages.limit = int64(*m), fileLimit()
	}
	// Generations start at the clock so that they do not repeat across
	// restarts; the disk tier moves them past any it has stored.
	s.gen.Store(uint64(time.Now().UnixNano()))
	if cfg.Disk.Dir != "" {
		if s.disk, err = openDisk(cfg.Disk, &s.gen, s.log); err != nil {
			mem.Close()
			return nil, err
		}
	}
	s.metrics = newStoreMetrics(s, opts.Registerer)
	return s, nil
}

// MaxObjectBytes is the largest body a tier stores: the disk tier's
// limit when there is one and it is larger, else the memory tier's.
func (s *Store) MaxObjectBytes() int64 {
	n := int64(s.cfg.MaxObjectBytes)
	if s.disk != nil {
		n = max(n, int64(s.cfg.Disk.MaxObjectBytes))
	}
	return n
}

// ChunkBytes is the size of the chunks in which bodies are streamed and
// stored on disk.
func (s *Store) ChunkBytes() int64 { return int64(s.cfg.Disk.ChunkBytes) }

// LoadTime is how long opening the disk tier took (Pebble's recovery and
// the index load); zero without a disk tier.
func (s *Store) LoadTime() time.Duration {
	if s.disk == nil {
		return 0
	}
	return s.disk.load
}

// Run deletes expired objects from the disk tier every
// cfg.Disk.ExpiryInterval until ctx is done. Lookups never serve an
// expired object either way; Run gives their space back. Without a disk
// tier it just waits for ctx.
func (s *Store) Run(ctx context.Context) {
	if s.disk == nil {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(s.cfg.Disk.ExpiryInterval.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.quit:
			return
		case now := <-t.C:
			s.disk.expire(now)
		}
	}
}

// Close stops the fills in progress (their readers get an incomplete
// body), closes the disk tier, flushing what it holds, and releases the
// memory tier. The Store must not be used afterwards.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		close(s.quit)
		s.streamsMu.Lock()
		for st := range s.running {
			st.body.Close()
		}
		s.streamsMu.Unlock()
		s.pumps.Wait()
		s.users.Wait()
		if s.disk != nil {
			err = s.disk.close()
		}
		s.metrics.unregister()
		s.mem.Close()
	})
	return err
}

// Lookup finds what is stored for the primary key and the request header:
// in memory, then among the fills in progress, then on disk. It does not
// judge freshness. A memory hit allocates nothing. Once the store is
// closed, nothing is found (URIMiss).
func (s *Store) Lookup(key string, req http.Header, now time.Time) (*Object, Outcome) {
	if !s.reading() {
		return nil, URIMiss
	}
	defer s.closeMu.RUnlock()
	return s.lookup(key, req, now)
}

// reading holds closeMu for reading, unless the store is closed (false,
// not held): a lookup reads and promotes into the memory tier, which
// ristretto does not allow once Close has released it, and Close takes
// closeMu exclusively first. Nothing under it may take closeMu again.
func (s *Store) reading() bool {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return false
	}
	return true
}

// lookup is Lookup with closeMu held.
func (s *Store) lookup(key string, req http.Header, now time.Time) (*Object, Outcome) {
	obj, pass, vk := s.memGet(key, req, now)
	switch {
	case pass:
		return nil, Pass
	case obj != nil:
		obj.touch()
		return obj, Found
	case vk != "":
		if obj := s.lookupVariant(key, vk, req, now); obj != nil {
			return obj, Found
		}
		return nil, VaryMiss
	}
	return s.lookupSlow(key, req, now)
}

// memGet reads the memory tier for the primary key and the request
// header: the live object it holds (nil if none), or pass for a
// hit-for-miss entry, or, for a Vary marker whose variant it does not
// hold, the variant's key vk, to look for further.
func (s *Store) memGet(key string, req http.Header, now time.Time) (obj *Object, pass bool, vk string) {
	e, ok := s.mem.Get(key)
	if !ok || now.After(e.until) {
		return nil, false, ""
	}
	switch e.kind {
	case kindPass:
		return nil, true, ""
	case kindVaryMarker:
		vk = variantKey(key, e.gen, VaryKey(e.fields, req))
		if v, ok := s.mem.Get(vk); ok && v.kind == kindObject && !now.After(v.until) && v.obj.live() {
			return v.obj, false, ""
		}
		return nil, false, vk
	}
	if e.obj.live() {
		return e.obj, false, ""
	}
	return nil, false, ""
}

// lookupSlow looks past the memory tier: fills in progress, then disk.
func (s *Store) lookupSlow(key string, req http.Header, now time.Time) (*Object, Outcome) {
	if st := s.streamFor(key); st != nil {
		m := &st.obj.Meta
		if len(m.VaryFields) > 0 && VaryKey(m.VaryFields, req) != m.VaryKey {
			return nil, VaryMiss
		}
		return st.obj, Found
	}
	if s.disk == nil {
		return nil, URIMiss
	}
	e := s.disk.idx.get(hashKey(key))
	if e == nil || e.until < now.UnixNano() {
		s.disk.stats.misses.Add(1)
		return nil, URIMiss
	}
	if e.kind != markerVary {
		if obj := s.loadDisk(key, e, now); obj != nil {
			return obj, Found
		}
		return nil, URIMiss
	}
	// A Vary marker: bring it to memory, then look for the variant.
	until := time.Unix(0, e.until)
	m := &entry{kind: kindVaryMarker, fields: e.fields, gen: e.gen, until: until}
	s.mem.SetWithTTL(key, m, m.cost(), until.Sub(now))
	vk := variantKey(key, e.gen, VaryKey(e.fields, req))
	if ve := s.disk.idx.get(hashKey(vk)); ve != nil && ve.kind == markerObject && ve.until >= now.UnixNano() {
		if obj := s.loadDisk(vk, ve, now); obj != nil {
			return obj, Found
		}
	} else {
		s.disk.stats.misses.Add(1)
	}
	return nil, VaryMiss
}

// lookupVariant looks for a variant missing from memory among the fills
// in progress, then on disk.
func (s *Store) lookupVariant(key, vk string, req http.Header, now time.Time) *Object {
	if st := s.streamFor(key); st != nil {
		if m := &st.obj.Meta; len(m.VaryFields) > 0 && VaryKey(m.VaryFields, req) == m.VaryKey {
			return st.obj
		}
	}
	if s.disk == nil {
		return nil
	}
	e := s.disk.idx.get(hashKey(vk))
	if e == nil || e.kind != markerObject || e.until < now.UnixNano() {
		s.disk.stats.misses.Add(1)
		return nil
	}
	return s.loadDisk(vk, e, now)
}

// loadDisk reads the object of entry e stored under storeKey and promotes
// it to memory: whole when its body fits the memory tier, else its meta.
// A corrupt object is dropped; nil means a miss.
func (s *Store) loadDisk(storeKey string, e *diskEntry, now time.Time) *Object {
	d := s.disk
	mr, err := d.readMeta(e.gen, storeKey)
	if err != nil {
		d.stats.misses.Add(1)
		d.readFailed(e, err)
		return nil
	}
	loc := &diskLoc{d: d, entry: e, gen: e.gen, size: e.bodySize, chunkBytes: e.chunkBytes}
	obj := &Object{Meta: mr.meta, loc: loc}
	if e.bodySize <= int64(s.cfg.MaxObjectBytes) {
		if obj.Body, err = d.readBody(loc); err != nil {
			d.stats.misses.Add(1)
			d.readFailed(e, err)
			return nil
		}
	} else {
		obj.src = loc
	}
	d.stats.hits.Add(1)
	e.touch()
	until := time.Unix(0, e.until)
	pe := &entry{kind: kindObject, obj: s.inPages(obj), until: until}
	s.mem.SetWithTTL(storeKey, pe, pe.cost(), until.Sub(now))
	return obj
}

// Put stores obj under the primary key, as a Vary variant when
// obj.Meta.VaryFields is set, until obj.Meta.KeepUntil(): in memory when
// its body fits the memory tier, and on disk when the disk tier takes it.
// An object made with [Object.WithMeta] from a stored one has only its
// meta rewritten on disk. Put must be called before obj is shared; it
// reports whether a tier took it. An object Put stored in memory is
// visible to Lookup once Put returns.
func (s *Store) Put(key string, obj *Object, now time.Time) bool {
	until := obj.Meta.KeepUntil()
	if !until.After(now) || !s.use() {
		return false
	}
	defer s.users.Done()
	storeKey := key
	if len(obj.Meta.VaryFields) > 0 {
		gen := s.varyGeneration(key, obj.Meta.VaryFields, until, now)
		storeKey = variantKey(key, gen, obj.Meta.VaryKey)
	}
	onDisk := s.putDisk(storeKey, obj, until, now)
	inMem := s.putMemory(storeKey, obj, until, now)
	return inMem || onDisk
}

// putDisk writes obj, or rewrites its meta, on the disk tier.
func (s *Store) putDisk(storeKey string, obj *Object, until, now time.Time) bool {
	if s.disk == nil {
		return false
	}
	if obj.loc != nil {
		err := s.disk.rewriteMeta(obj.loc, storeKey, &obj.Meta, until, now)
		if err == nil {
			return true
		}
		obj.loc = nil // stale: the disk holds another object by now
		if !errors.Is(err, errGone) {
			return false
		}
	}
	body := obj.Body
	if p := obj.Pages(); p != nil && p.Len() <= int64(s.cfg.Disk.MaxObjectBytes) {
		body = p.bytes() // freshened, and the disk copy gone: written again from memory
	} else if obj.src != nil || int64(len(obj.Body)) > int64(s.cfg.Disk.MaxObjectBytes) {
		return false
	}
	loc, err := s.disk.put(storeKey, &obj.Meta, body, until, now)
	obj.loc = loc
	return err == nil
}

// putMemory stores obj in the memory tier: whole if its body is in memory
// and fits (in a memory file from pages.min bytes: see inPages), as meta
// alone if its body is on disk.
func (s *Store) putMemory(storeKey string, obj *Object, until, now time.Time) bool {
	switch {
	case obj.src == nil && int64(len(obj.Body)) <= int64(s.cfg.MaxObjectBytes):
		obj = s.inPages(obj)
	case obj.Pages() != nil: // freshened: the same body
	case obj.loc != nil:
		if obj.src == nil || obj.src != bodySource(obj.loc) {
			obj = &Object{Meta: obj.Meta, src: obj.loc, loc: obj.loc}
		}
	default:
		return false
	}
	e := &entry{kind: kindObject, obj: obj, until: until}
	ok := s.mem.SetWithTTL(storeKey, e, e.cost(), until.Sub(now))
	s.mem.Wait()
	return ok
}

// inPages returns obj, whose body is in the heap, as the memory tier
// keeps it: with its body moved to a memory file when it is large enough
// and one can be had (see [Pages]), else obj itself. The caller may go on
// serving obj, which is unchanged.
func (s *Store) inPages(obj *Object) *Object {
	if obj.src != nil {
		return obj
	}
	p := s.pages.pagesFor(obj.Body)
	if p == nil {
		return obj
	}
	return &Object{Meta: obj.Meta, src: p, loc: obj.loc}
}

// varyGeneration returns the generation of the key's Vary marker for
// fields, writing a new marker when there is none (in memory or on disk),
// it has other fields, or it would expire before until.
func (s *Store) varyGeneration(key string, fields []string, until, now time.Time) uint64 {
	cur, ok := s.mem.Get(key)
	if ok && cur.kind == kindVaryMarker && slices.Equal(cur.fields, fields) && !now.After(cur.until) {
		if !until.After(cur.until) {
			return cur.gen
		}
		s.setVaryMarker(key, cur.fields, cur.gen, until, now)
		return cur.gen
	}
	if s.disk != nil {
		if e := s.disk.idx.get(hashKey(key)); e != nil && e.kind == markerVary && slices.Equal(e.fields, fields) && e.until >= now.UnixNano() {
			s.setVaryMarker(key, e.fields, e.gen, time.Unix(0, max(e.until, until.UnixNano())), now)
			return e.gen
		}
	}
	gen := s.gen.Add(1)
	s.setVaryMarker(key, fields, gen, until, now)
	return gen
}

// setVaryMarker writes a Vary marker in memory and on disk.
func (s *Store) setVaryMarker(key string, fields []string, gen uint64, until, now time.Time) {
	m := &entry{kind: kindVaryMarker, fields: fields, gen: gen, until: until}
	s.mem.SetWithTTL(key, m, m.cost(), until.Sub(now))
	if s.disk != nil {
		s.disk.putVary(key, fields, gen, until)
	}
}

// MarkPass remembers key as uncacheable for the hit-for-miss TTL, unless a
// response is stored under it. Only the memory tier remembers.
func (s *Store) MarkPass(key string, now time.Time) {
	ttl := s.cfg.HitForMissTTL.D()
	if ttl <= 0 {
		return
	}
	if !s.use() {
		return
	}
	defer s.users.Done()
	e := &entry{kind: kindPass, until: now.Add(ttl)}
	s.mem.SetWithTTL(key, e, e.cost(), ttl)
	s.mem.Wait()
}

// use counts a change to the tiers in progress, for Close to wait for,
// unless the store is closed (false: the change is not made). The
// caller calls s.users.Done when done.
func (s *Store) use() bool {
	if !s.reading() {
		return false
	}
	s.users.Add(1)
	s.closeMu.RUnlock()
	return true
}

// Invalidate removes everything stored for the primary key from both
// tiers, all Vary variants included (they become unreachable with their
// marker and age out), and keeps a fill in progress from being stored.
func (s *Store) Invalidate(key string) {
	if !s.use() {
		return
	}
	defer s.users.Done()
	s.streamsMu.Lock()
	if st := s.streams[key]; st != nil {
		st.invalidated.Store(true)
		delete(s.streams, key)
	}
	s.streamsMu.Unlock()
	s.mem.Del(key)
	s.mem.Wait()
	if s.disk != nil {
		s.disk.invalidate(key)
	}
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
