package purge

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Purges apply tier by tier, from the origin side out: an edge applies a
// purge only once every live shield has (or purge.wait has passed).
// Otherwise an edge that applied it first could miss, refetch the object
// from a shield that has not applied it yet, and keep the old copy: the
// fetch was sent after the edge's purge, so the rule does not cover it.
//
// Shields announce their progress on core NATS (not the stream), on
// <subject>_applied.<node>: the sequence they applied, after each purge
// and every announceEvery. Edges subscribe and wait for the shields heard
// from within shieldAlive. This costs one small message per shield per
// purge, fanned out to the edges, instead of each edge polling JetStream.

const (
	// announceEvery is how often a shield repeats its progress.
	announceEvery = 2 * time.Second
	// shieldAlive is how recently a shield must have announced to count
	// as live: a shield silent longer is not waited for.
	shieldAlive = 3 * announceEvery
)

// appliedSubject is the subject prefix of the shields' announcements.
func (s *Service) appliedSubject() string { return s.cfg.Bus.Subject + "_applied" }

// announce publishes the shield's progress (shields only).
func (s *Service) announce() {
	if nc := s.bus.nc; nc != nil {
		nc.Publish(s.appliedSubject()+"."+s.nodeID, strconv.AppendUint(nil, s.applied.Load(), 10))
	}
}

// announceLoop repeats the shield's progress until ctx is done.
func (s *Service) announceLoop(ctx context.Context) {
	t := time.NewTicker(announceEvery)
	defer t.Stop()
	for {
		s.announce()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// shieldWatch is an edge's view of the shields' progress. The zero value
// is ready.
type shieldWatch struct {
	mu      sync.Mutex
	seen    map[string]shieldProgress // by node ID; protected by mu
	changed chan struct{}             // closed and replaced on every update; protected by mu
}

type shieldProgress struct {
	seq uint64
	at  time.Time
}

// watch subscribes to the shields' announcements.
func (w *shieldWatch) watch(nc *nats.Conn, subject string) (*nats.Subscription, error) {
	return nc.Subscribe(subject+".*", func(m *nats.Msg) {
		node := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		seq, err := strconv.ParseUint(string(m.Data), 10, 64)
		if err == nil {
			w.update(node, seq, time.Now())
		}
	})
}

// update records a shield's announcement.
func (w *shieldWatch) update(node string, seq uint64, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]shieldProgress{}
	}
	p := w.seen[node]
	w.seen[node] = shieldProgress{seq: max(p.seq, seq), at: now}
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// wait returns true once every shield heard from within shieldAlive has
// applied seq, or false when ctx is done first.
func (w *shieldWatch) wait(ctx context.Context, seq uint64) bool {
	for {
		w.mu.Lock()
		done := true
		now := time.Now()
		for _, p := range w.seen {
			if now.Sub(p.at) < shieldAlive && p.seq < seq {
				done = false
			}
		}
		if done {
			w.mu.Unlock()
			return true
		}
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		case <-time.After(announceEvery):
			// A shield may have gone silent: look again.
		}
	}
}
