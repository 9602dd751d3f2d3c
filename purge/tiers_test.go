package purge

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popcache/popcache/cache"
)

// TestBackloggedEdgeWaitsForShields: an edge cut off from the bus while
// purges are issued gets them as a backlog when the link returns. It must
// still apply each one only once the live shields have: a request that
// misses on a purged object in between would otherwise refill it from a
// shield that still has the old copy, and the edge would keep serving
// that copy after the API reported the purge applied everywhere.
//
// The shield holds its purges (a slow disk, a later reconnection) until
// the edge has either applied the purge or shown that it waits for the
// shield; the edge's OnApply sends a request for the purged URL, as a
// client could at that moment.
func TestBackloggedEdgeWaitsForShields(t *testing.T) {
	tests := []struct {
		name  string
		every time.Duration // announcement period
		// longOutage keeps the edge cut off until the shield's last
		// announcement it heard is older than the liveness window.
		longOutage bool
		// lateNotice: the bus takes the edge for connected for a while
		// after the cut, and delivers it the first purges, which are lost.
		lateNotice bool
	}{
		{name: "edge briefly cut off"},
		{name: "edge cut off, the bus noticing late", lateNotice: true},
		{name: "edge cut off longer than the shields' liveness window", every: 100 * time.Millisecond, longOutage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testBackloggedEdge(t, tt.every, tt.longOutage, tt.lateNotice)
		})
	}
}

func testBackloggedEdge(t *testing.T, every time.Duration, longOutage, lateNotice bool) {
	origin, version := versionedOrigin(t)
	var gated *gatedCache
	sh := startFleetNode(t, fleetSpec{name: "shield-1", role: "shield", origin: origin.URL, every: every,
		wrap: func(s *cache.Store) Cache { gated = &gatedCache{Store: s}; return gated }})
	var linger time.Duration
	if lateNotice {
		linger = 3 * time.Second
	}
	ln := startLink(t, strings.TrimPrefix(sh.svc.BusURL(), "nats://"), linger)

	// The edge's OnApply requests the purged URL right after applying
	// purge p1, and notes how far the shield had got.
	type sample struct {
		body, status  string
		shieldApplied uint64
	}
	var p1 atomic.Uint64
	var ed *fleetNode
	during := make(chan sample, 1)
	onApply := func(a Applied) {
		if a.Seq == 0 || a.Seq != p1.Load() {
			return
		}
		s := sample{shieldApplied: sh.svc.applied.Load()}
		s.body, s.status = fleetGet(t, ed, "a.test", "/x")
		during <- s
	}
	ed = startFleetNode(t, fleetSpec{name: "edge-1", role: "edge", origin: origin.URL, shield: sh.addr,
		busURL: ln.url(), every: every, onApply: onApply})

	waitFor(t, "the edge to hear the shield and both consumers to be live", func() bool {
		if _, ok := lastHeard(ed, sh.name); !ok {
			return false
		}
		ns, err := sh.svc.nodes(context.Background(), 0)
		return err == nil && len(ns) == 2 && ns[0].Live && ns[1].Live
	})
	if body, _ := fleetGet(t, ed, "a.test", "/x"); body != "v1" {
		t.Fatalf("first GET: %q, want v1", body)
	}
	if body, status := fleetGet(t, ed, "a.test", "/x"); body != "v1" || !strings.Contains(status, "edge-1; hit") {
		t.Fatalf("second GET: %q (%s), want v1, a hit at the edge", body, status)
	}
	version.Store(2) // the origin changes the object; the operator purges it

	ln.cut()
	waitFor(t, "the edge to lose the bus", func() bool { return !ed.svc.bus.connected.Load() })
	if longOutage {
		waitFor(t, "the edge's last news of the shield to be older than the liveness window", func() bool {
			at, _ := lastHeard(ed, sh.name)
			return time.Since(at) > 4*every
		})
	}
	gated.shut()
	ctx := context.Background()
	st1, err := sh.svc.Publish(ctx, &Request{URLs: []string{"http://a.test/x"}}, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	p1.Store(st1.Seq)
	st2, err := sh.svc.Publish(ctx, &Request{Tags: []string{"unrelated"}}, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	ln.restore()

	// Open the shield's gate once the edge has applied p1 (and sent its
	// request), or once it holds p1 for the shield.
	var got sample
	applied := false
	for deadline := time.Now().Add(20 * time.Second); !applied && ed.svc.holding.Load() != st1.Seq; {
		select {
		case got = <-during:
			applied = true
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			gated.open()
			t.Fatal("the edge neither applied the backlog nor waited for the shield within 20s")
		}
	}
	gated.open()
	if !applied {
		select {
		case got = <-during:
		case <-time.After(20 * time.Second):
			t.Fatal("the edge did not apply the purge once the shield had")
		}
	}
	if got.shieldApplied < st1.Seq {
		t.Errorf("the edge applied purge %d from its backlog while the shield had applied through %d only", st1.Seq, got.shieldApplied)
	}

	waitFor(t, "the purges to be applied on both nodes", func() bool {
		s, err := sh.svc.Status(ctx, st1.ID)
		return err == nil && s.State == StateApplied && len(s.Nodes) == 2 &&
			s.Nodes[0].Applied && s.Nodes[1].Applied && ed.svc.applied.Load() >= st2.Seq
	})
	if body, status := fleetGet(t, ed, "a.test", "/x"); body != "v2" {
		t.Errorf("after the purge was applied everywhere, the edge serves %q (%s), want v2; during the backlog it answered %q (%s)",
			body, status, got.body, got.status)
	}
}

// lastHeard returns when the edge last heard from shield name.
func lastHeard(e *fleetNode, name string) (time.Time, bool) {
	w := &e.svc.shields
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.seen[name]
	return p.at, ok
}

// fakeLink is a shieldWatch link whose state the test sets.
type fakeLink struct {
	up         bool
	reconnects uint64
}

func (l *fakeLink) state() (bool, uint64) { return l.up, l.reconnects }

// TestShieldWatchPending: who an edge waits for, at given times, with an
// announcement period of 1s.
func TestShieldWatchPending(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	s := time.Second
	tests := []struct {
		name   string
		seen   map[string]shieldProgress
		link   fakeLink // the watch last saw it up with 0 reconnections
		now    time.Time
		want   bool
		change time.Time // when the answer may change with time alone
	}{
		{name: "listening for less than a period and a half, no shield heard yet",
			link: fakeLink{up: true}, now: at(s), want: true, change: at(3 * s / 2)},
		{name: "listening long enough, no shield",
			link: fakeLink{up: true}, now: at(2 * s)},
		{name: "a live shield behind",
			seen: map[string]shieldProgress{"s1": {seq: 4, at: at(s)}, "s2": {seq: 9, at: at(s)}},
			link: fakeLink{up: true}, now: at(2 * s), want: true, change: at(4 * s)},
		{name: "every live shield applied it",
			seen: map[string]shieldProgress{"s1": {seq: 5, at: at(s)}, "s2": {seq: 9, at: at(s)}},
			link: fakeLink{up: true}, now: at(2 * s)},
		{name: "a shield silent for three periods is not waited for",
			seen: map[string]shieldProgress{"s1": {seq: 4, at: at(s)}},
			link: fakeLink{up: true}, now: at(4 * s)},
		{name: "silence counts from the start of the listening",
			seen: map[string]shieldProgress{"s1": {seq: 4, at: at(-time.Hour)}},
			link: fakeLink{up: true}, now: at(2 * s), want: true, change: at(3 * s)},
		{name: "a stuck shield is not waited for",
			seen: map[string]shieldProgress{"s1": {seq: 4, at: at(s), stuck: true}},
			link: fakeLink{up: true}, now: at(2 * s)},
		{name: "link down: nothing is heard",
			link: fakeLink{up: false}, now: at(10 * s), want: true, change: at(11 * s)},
		{name: "link reconnected: listening starts afresh, stuck shields forgotten",
			seen: map[string]shieldProgress{"s1": {seq: 4, at: at(s), stuck: true}},
			link: fakeLink{up: true, reconnects: 1}, now: at(2 * s), want: true, change: at(2*s + 3*s/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &shieldWatch{every: s, link: tt.link.state, seen: tt.seen, since: t0}
			w.mu.Lock()
			got, change := w.pending(tt.now, 5)
			w.mu.Unlock()
			if got != tt.want || !change.Equal(tt.change) {
				t.Errorf("pending(seq 5) at t0+%v = %v, changes at t0+%v; want %v, t0+%v",
					tt.now.Sub(t0), got, change.Sub(t0), tt.want, tt.change.Sub(t0))
			}
		})
	}
}

// TestShieldWatchGiveUp: a shield that did not progress through a timed
// out wait is not waited for again until it announces progress.
func TestShieldWatchGiveUp(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	w := &shieldWatch{every: time.Second, since: t0.Add(-time.Hour)}
	pending := func(now time.Time, seq uint64) bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		p, _ := w.pending(now, seq)
		return p
	}
	w.update("s1", 4, t0)
	w.update("s2", 9, t0)
	if !pending(t0, 5) {
		t.Fatal("s1 has not applied 5: pending should be true")
	}
	w.giveUp(5, t0)
	if pending(t0, 6) {
		t.Error("after giving up on s1 at 4, seq 6 still waits")
	}
	w.update("s1", 4, t0.Add(time.Second))
	if pending(t0.Add(time.Second), 6) {
		t.Error("s1 repeating seq 4 is no progress: it should stay given up")
	}
	w.update("s1", 5, t0.Add(2*time.Second))
	if !pending(t0.Add(2*time.Second), 6) {
		t.Error("s1 progressed to 5: seq 6 should wait for it again")
	}
	if pending(t0.Add(2*time.Second), 5) {
		t.Error("every shield applied 5")
	}
}

// TestShieldWatchWait: wait returns once the shield announces the
// sequence, and false when its context ends first.
func TestShieldWatchWait(t *testing.T) {
	w := &shieldWatch{every: time.Second}
	w.update("s1", 4, time.Now())
	w.since = time.Now().Add(-time.Hour) // listening for long

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if w.wait(ctx, 5) {
		t.Errorf("s1 has not applied 5 yet: wait should time out")
	}
	done := make(chan bool, 1)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { done <- w.wait(ctx, 5) }()
	w.update("s1", 5, time.Now())
	if !<-done {
		t.Errorf("s1 applied 5: wait should return true")
	}
}
