package purge

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
)

// Cache is what purging needs of the cache; *cache.Store satisfies it.
type Cache interface {
	// Purge applies rules, O(1) each whatever the number of objects
	// stored: from its return no lookup serves what they match.
	Purge(ctx context.Context, rules []cache.PurgeRule) error
	// RetirePurges folds the rules applied before cutoff into one
	// node-wide revalidation and returns the rules left.
	RetirePurges(cutoff time.Time) []cache.PurgeRule
	// PurgeStats returns the purge counters.
	PurgeStats() cache.PurgeStats
}

// Options are a Service's dependencies. The zero value is usable.
type Options struct {
	// Registerer receives the purge metrics (see metrics); nil registers
	// none.
	Registerer prometheus.Registerer
	// Logger receives bus and journal events; nil discards them.
	Logger *slog.Logger
	// Now is the clock rules are stamped with; nil means time.Now.
	Now func() time.Time
	// Resolve maps a purged URL to its route's key recipe; nil counts
	// every query parameter (see [Resolver]).
	Resolve Resolver
	// OnApply, if set, is called after each purge this node applies, from
	// the goroutine that applies them: keep it short. For tests and
	// benchmarks.
	OnApply func(Applied)
}

// Applied describes one purge applied on this node.
type Applied struct {
	// Seq is the purge's stream sequence; ID its purge ID ("" for a
	// message that could not be decoded, skipped).
	Seq uint64
	ID  string
	// Latency is the time from its storage on the stream to now.
	Latency time.Duration
}

// Service is one node's purging: the purge API, the node's durable
// consumer of the purge stream, its journal, and the embedded NATS server
// when it runs one. Its life: [New] (no side effects), [Service.Start]
// (before the node serves), [Service.Run] in the background,
// [Service.Close].
type Service struct {
	cfg     conf.Purge
	role    string
	nodeID  string
	cache   Cache
	resolve Resolver
	tokens  *tokens
	log     *slog.Logger
	now     func() time.Time
	onApply func(Applied)
	m       *metrics
	bus     *bus // opened by Start

	// viaShields: the node is an edge that fetches through shields, so
	// it applies each purge after the live shields (see tiers.go).
	viaShields bool

	// applyMu serialises applying purges, retiring rules and compacting
	// the journal, and protects journal and state.
	applyMu sync.Mutex
	journal *journal // nil without a purge directory
	state   journalState
	sess    *session    // the attachment to the stream; owned by Start, then Run
	shields shieldWatch // an edge's view of the shields' progress

	serving  atomic.Bool   // Start has returned: the node serves
	attached atomic.Bool   // a session reads the stream
	caughtUp atomic.Bool   // the backlog found at the last attach is applied
	applied  atomic.Uint64 // last stream sequence applied
	holding  atomic.Uint64 // the purge an edge holds until the live shields apply it; 0 for none
	closed   atomic.Bool
}

// New builds the purge service of a node from its validated config.
func New(cfg *conf.Config, c Cache, opts Options) (*Service, error) {
	if cfg == nil || c == nil {
		return nil, errors.New("purge: new service: config and cache are required")
	}
	if cfg.Purge.Disabled {
		return nil, errors.New("purge: new service: purging is disabled (purge.disabled)")
	}
	s := &Service{
		cfg:     cfg.Purge,
		role:    cfg.Role,
		nodeID:  cfg.Purge.NodeID,
		cache:   c,
		resolve: opts.Resolve,
		tokens:  newTokens(cfg.Admin.Credentials),
		log:     opts.Logger,
		now:     opts.Now,
		onApply: opts.OnApply,
		bus:     &bus{},
		state:   journalState{IDs: map[string]time.Time{}},

		viaShields: cfg.Role == conf.RoleEdge && cfg.Shield.HasTier(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.nodeID == "" {
		s.nodeID = defaultNodeID(cfg)
	}
	s.m = newMetrics(s, opts.Registerer)
	return s, nil
}

// NodeID is the node's ID on the bus.
func (s *Service) NodeID() string { return s.nodeID }

// BusURL is the embedded NATS server's client URL, for other nodes on the
// host to join; "" when the node joins servers by URL. Valid after Start.
func (s *Service) BusURL() string { return s.bus.clientURL() }

// defaultNodeID derives a node ID from the host name, the node's name and
// a hash of its purge directory (or of its listen addresses).
func defaultNodeID(cfg *conf.Config) string {
	host, _ := os.Hostname()
	h := fnv.New32a()
	if cfg.Purge.JournalDir != "" {
		h.Write([]byte(cfg.Purge.JournalDir))
	} else {
		h.Write([]byte(strings.Join(cfg.Server.Listen, ",") + "|" + cfg.Admin.Listen))
	}
	id := fmt.Sprintf("%s-%s-%08x", sanitize(host), sanitize(cfg.Server.Name), h.Sum32())
	if len(id) > 64 {
		id = id[len(id)-64:]
	}
	return id
}

// sanitize keeps the characters allowed in a node ID, replacing others.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 24 {
		b = b[:24]
	}
	return string(b)
}

// Start readies purging before the node serves: it replays the journal
// into the cache, opens the bus (starting the embedded server), attaches
// to the stream and applies the purges the node missed, within
// purge.bus.catch_up_timeout. When the backlog cannot be applied in time
// (the bus is unreachable, or slow), the node revalidates everything it
// has before serving (see [cache.PurgeRevalidate]) and catches up in Run.
// Only a broken journal or an embedded server that cannot start fail it.
func (s *Service) Start(ctx context.Context) error {
	if s.cfg.JournalDir != "" {
		j, st, err := openJournal(s.cfg.JournalDir)
		if err != nil {
			return err
		}
		s.journal, s.state = j, st
		if err := s.cache.Purge(ctx, st.Rules); err != nil {
			return fmt.Errorf("purge: restore rules: %w", err)
		}
		s.applied.Store(st.Seq)
		s.m.appliedSeq.Set(float64(st.Seq))
		s.log.Info("purge journal replayed", "dir", s.cfg.JournalDir, "seq", st.Seq, "rules", len(st.Rules))
		s.applyMu.Lock()
		err = s.retireLocked()
		s.applyMu.Unlock()
		if err != nil {
			return err
		}
	}
	if err := s.bus.open(s.cfg.Bus, s.cfg.Retention.D(), s.cfg.JournalDir, s.nodeID, s.log); err != nil {
		return err
	}
	if s.viaShields {
		if _, err := s.shields.watch(s.bus.nc, s.appliedSubject()); err != nil {
			return fmt.Errorf("purge: subscribe to the shields' progress: %w", err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Bus.CatchUpTimeout.D())
	defer cancel()
	err := s.catchUp(cctx)
	if err != nil || !s.caughtUp.Load() {
		s.detach() // Run attaches afresh, from the journal's checkpoint
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("purge: could not apply the purges missed before serving; revalidating everything stored so far",
			"timeout", s.cfg.Bus.CatchUpTimeout.D(), "err", err)
		if err := s.revalidateAll(ctx, "catch-up"); err != nil {
			return err
		}
	}
	s.serving.Store(true)
	return nil
}

// catchUp attaches to the stream, retrying until ctx is done, and applies
// the backlog.
func (s *Service) catchUp(ctx context.Context) error {
	delay := 100 * time.Millisecond
	for {
		sess, err := s.attach(ctx)
		if err == nil {
			s.sess = sess
			err = s.consume(ctx, sess, true)
			if !errors.Is(err, errRelinked) || ctx.Err() != nil {
				return err
			}
			s.detach()
			continue
		}
		s.log.Info("purge: attaching to the stream", "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// Run applies purges as they arrive until ctx is done, re-attaching to
// the stream after errors, and retires old rules. Call it once, after
// Start.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.retireLoop(ctx) }()
	if s.role == conf.RoleShield {
		wg.Add(1)
		go func() { defer wg.Done(); s.announceLoop(ctx) }()
	}
	defer wg.Wait()
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		if s.sess == nil {
			sess, err := s.attach(ctx)
			if err != nil {
				s.m.errors.WithLabelValues("attach").Inc()
				s.log.Debug("purge: attach failed", "err", err)
				if !sleep(ctx, delay) {
					break
				}
				delay = min(2*delay, 5*time.Second)
				continue
			}
			s.sess = sess
		}
		err := s.consume(ctx, s.sess, false)
		s.detach()
		s.caughtUp.Store(false)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errRelinked) {
			s.log.Info("purge: bus reconnected; re-attaching to the stream")
		} else {
			s.log.Warn("purge: consumer stopped; re-attaching", "err", err)
		}
		delay = 100 * time.Millisecond
		if !sleep(ctx, delay) {
			break
		}
	}
	if s.sess != nil {
		s.sess.stop()
		s.sess = nil
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// retireLoop retires old rules and compacts the journal now and then.
func (s *Service) retireLoop(ctx context.Context) {
	every := min(s.cfg.Retention.D()/4, 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.applyMu.Lock()
			if err := s.retireLocked(); err != nil {
				s.m.errors.WithLabelValues("journal").Inc()
				s.log.Error("purge: compacting the journal", "err", err)
			}
			s.applyMu.Unlock()
		}
	}
}

// retireLocked retires the rules older than the retention and, with a
// journal, replaces it with a snapshot. Called with applyMu held.
func (s *Service) retireLocked() error {
	cutoff := s.now().Add(-s.cfg.Retention.D())
	left := s.cache.RetirePurges(cutoff)
	for id, at := range s.state.IDs {
		if at.Before(cutoff) {
			delete(s.state.IDs, id)
		}
	}
	if s.journal == nil {
		return nil
	}
	return s.journal.compact(&record{T: "snapshot", Stream: s.state.Stream, Seq: s.state.Seq,
		Rules: toJournal(left), IDs: s.state.IDs})
}

// revalidateAll applies a node-wide revalidation, for when the node cannot
// know which purges it missed, and journals it.
func (s *Service) revalidateAll(ctx context.Context, why string) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	return s.revalidateAllLocked(ctx, why)
}

func (s *Service) revalidateAllLocked(ctx context.Context, why string) error {
	s.m.revalidate.Inc()
	if why == whyNoHistory {
		s.log.Info("purge: no purge history: revalidating anything stored before now", "node", s.nodeID)
	} else {
		s.log.Warn("purge: revalidating everything stored before now", "why", why)
	}
	r := []cache.PurgeRule{{Kind: cache.PurgeAll, Mode: cache.PurgeRevalidate, At: s.now()}}
	if err := s.cache.Purge(ctx, r); err != nil {
		return err
	}
	if s.journal == nil {
		return nil
	}
	return s.journal.append(&record{T: "apply", Stream: s.state.Stream, Seq: s.state.Seq, Rules: toJournal(r)})
}

// Close stops the bus (and the embedded server) and closes the journal.
// Run must have returned.
func (s *Service) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.bus.close()
	s.m.unregister()
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.journal != nil {
		return s.journal.close()
	}
	return nil
}

// Health describes the node's purging for /healthz: never an error, since
// a bus outage delays purges but never stops serving.
func (s *Service) Health() string {
	seq := s.applied.Load()
	if !s.bus.connected.Load() {
		since := "never connected"
		if t := s.bus.downSince.Load(); t != 0 {
			since = "disconnected for " + time.Since(time.Unix(0, t)).Round(time.Second).String()
		}
		return fmt.Sprintf("purge: bus %s: purges are delayed (applied through seq %d)", since, seq)
	}
	if !s.attached.Load() {
		return fmt.Sprintf("purge: bus connected but the stream is unreachable: purges are delayed (applied through seq %d)", seq)
	}
	state := "up to date"
	if !s.caughtUp.Load() {
		state = "catching up"
	}
	if h := s.holding.Load(); h != 0 {
		return fmt.Sprintf("purge: bus connected, %s (applied through seq %d; seq %d waits for the shields)", state, seq, h)
	}
	return fmt.Sprintf("purge: bus connected, %s (applied through seq %d)", state, seq)
}
