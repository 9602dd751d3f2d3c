package purge

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Purges apply tier by tier, from the origin side out: an edge that
// fetches through shields applies each purge only once every live shield
// has (or purge.wait has passed). Otherwise an edge that applied it first
// could miss, refetch the object from a shield that has not applied it
// yet, and keep the old copy for good: the fetch was sent after the
// edge's purge, so the rule does not cover it. This holds for every purge,
// not only the newest: an edge catching up on a backlog (after an outage
// of its link to the bus, say) serves all along, and its shields may be
// catching up on the same backlog.
//
// Shields announce their progress on core NATS (not the stream), on
// <subject>_applied.<node>: the sequence they applied, after each purge
// and every announceEvery. Edges subscribe and wait for the live shields:
// those heard from within three periods of listening. This costs one
// small message per shield per purge, fanned out to the edges, instead of
// each edge polling JetStream.

// announceEvery is how often a shield repeats its progress. A shield
// silent for three periods is not waited for; an edge that has listened
// for less than a period and a half may not have heard every live shield
// yet, and waits until it has.
const announceEvery = 2 * time.Second

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
	t := time.NewTicker(s.shields.period())
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
// is ready; it listens from its first use.
type shieldWatch struct {
	// every is the shields' announcement period (a shield's own watch
	// holds the period it announces at); 0 means announceEvery. Tests
	// shorten it.
	every time.Duration
	// link reports whether the connection the announcements come through
	// is up and how many times it reconnected: announcements sent while it
	// was down are lost, so a reconnection starts the listening afresh.
	// Nil for a link that never drops. Set by watch.
	link func() (up bool, reconnects uint64)

	mu      sync.Mutex
	seen    map[string]shieldProgress // by node ID; protected by mu
	changed chan struct{}             // closed and replaced on every update; protected by mu
	since   time.Time                 // when the watch began hearing every announcement; protected by mu
	epoch   uint64                    // the link's reconnections at since; protected by mu
}

type shieldProgress struct {
	seq uint64
	at  time.Time // when it was last heard
	// stuck: the shield made no progress through a whole wait for it that
	// timed out. It is not waited for again until it announces progress
	// (or the link reconnects), so that a live but stuck shield costs a
	// backlog one purge.wait, not one per purge.
	stuck bool
}

// period is the shields' announcement period.
func (w *shieldWatch) period() time.Duration {
	if w.every > 0 {
		return w.every
	}
	return announceEvery
}

// watch subscribes to the shields' announcements.
func (w *shieldWatch) watch(nc *nats.Conn, subject string) (*nats.Subscription, error) {
	w.link = func() (bool, uint64) { return nc.IsConnected(), nc.Stats().Reconnects }
	sub, err := nc.Subscribe(subject+".*", func(m *nats.Msg) {
		node := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		seq, err := strconv.ParseUint(string(m.Data), 10, 64)
		if err == nil {
			w.update(node, seq, time.Now())
		}
	})
	w.mu.Lock()
	w.since = time.Time{} // listening begins now
	w.resync(time.Now())
	w.mu.Unlock()
	return sub, err
}

// resync keeps the listening's start: unset while the link is down (a
// shield is not heard then), set to now when the link is first seen up or
// has reconnected since (announcements were lost meanwhile), which also
// forgets which shields were stuck. Called with mu held; it reports
// whether the link is up.
func (w *shieldWatch) resync(now time.Time) bool {
	up, epoch := true, uint64(0)
	if w.link != nil {
		up, epoch = w.link()
	}
	switch {
	case !up:
		w.since = time.Time{}
	case w.since.IsZero() || epoch != w.epoch:
		w.since, w.epoch = now, epoch
		for node, p := range w.seen {
			p.stuck = false
			w.seen[node] = p
		}
	}
	return up
}

// update records a shield's announcement.
func (w *shieldWatch) update(node string, seq uint64, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resync(now)
	if w.seen == nil {
		w.seen = map[string]shieldProgress{}
	}
	p, ok := w.seen[node]
	if !ok || seq > p.seq {
		p.seq, p.stuck = seq, false
	}
	p.at = now
	w.seen[node] = p
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// pending reports whether some live shield may not have applied seq at
// now, and when the answer may change with time alone (zero: only with
// an announcement). A shield is live if heard from within three periods,
// its silence counting from the start of the listening; until the watch
// has listened for a period and a half (or while the link is down) a
// shield not heard yet may be live. Called with mu held.
func (w *shieldWatch) pending(now time.Time, seq uint64) (bool, time.Time) {
	up := w.resync(now)
	per := w.period()
	if !up {
		return true, now.Add(per)
	}
	if ready := w.since.Add(per + per/2); now.Before(ready) {
		return true, ready
	}
	var next time.Time
	for _, p := range w.seen {
		if p.stuck || p.seq >= seq {
			continue
		}
		if dead := later(p.at, w.since).Add(3 * per); now.Before(dead) {
			if next.IsZero() || dead.Before(next) {
				next = dead
			}
		}
	}
	return !next.IsZero(), next
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// wait returns true once every live shield has applied seq, or false
// when ctx is done first.
func (w *shieldWatch) wait(ctx context.Context, seq uint64) bool {
	for {
		w.mu.Lock()
		now := time.Now()
		busy, next := w.pending(now, seq)
		if !busy {
			w.mu.Unlock()
			return true
		}
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		ch := w.changed
		w.mu.Unlock()
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}

// giveUp marks the live shields that have not applied seq at now as
// stuck, after a wait for them timed out.
func (w *shieldWatch) giveUp(seq uint64, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.resync(now) {
		return // nothing heard while the link is down says a shield is stuck
	}
	per := w.period()
	for node, p := range w.seen {
		if p.seq < seq && now.Before(later(p.at, w.since).Add(3*per)) {
			p.stuck = true
			w.seen[node] = p
		}
	}
}
