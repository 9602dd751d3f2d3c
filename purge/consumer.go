package purge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
)

// session is one attachment of the node to the stream: its durable
// consumer, created afresh from the journal's checkpoint, and the message
// iterator reading it.
type session struct {
	cons jetstream.Consumer
	it   jetstream.MessagesContext
	// target is the stream's last sequence when the session began: the
	// node has caught up once it has applied it.
	target uint64
	// relinked is closed once the bus connection is re-established after
	// the session began: the session is then stale (see consume).
	relinked <-chan struct{}
}

// errRelinked ends a session whose bus connection was re-established.
var errRelinked = errors.New("purge: the bus connection was re-established")

func (ss *session) stop() {
	if ss != nil && ss.it != nil {
		ss.it.Stop()
	}
}

// whyNoHistory is why a node that never read the stream revalidates.
const whyNoHistory = "no purge history"

// streamIdentity names a stream incarnation: the same name recreated
// restarts its sequences, which must not be mistaken for old ones.
func streamIdentity(info *jetstream.StreamInfo) string {
	return info.Config.Name + "@" + strconv.FormatInt(info.Created.UnixNano(), 10)
}

// attach (re)creates the node's durable consumer so that it delivers the
// purges after the last one applied, and starts reading it.
//
// Where it starts:
//   - after the journal's sequence, when it counts in this stream and
//     the stream still holds the next one;
//   - otherwise the node cannot know what it missed (no journal yet, the
//     stream recreated, or purges aged out of it while the node was away):
//     it revalidates everything stored so far, and starts at the end of
//     the stream, or, if it already serves, at the stream's first purge
//     (those published while it served unattached may concern objects it
//     fetched since).
//
// The consumer is deleted and created again rather than resumed: the
// journal, not the consumer's ack floor, says what was applied, and
// messages a dead process left unacknowledged are redelivered at once
// rather than after the ack wait.
func (s *Service) attach(ctx context.Context) (*session, error) {
	relinked := s.bus.relinked()
	st, err := s.bus.stream(ctx)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("purge: stream info: %w", err)
	}
	id := streamIdentity(info)
	first, last := info.State.FirstSeq, info.State.LastSeq

	s.applyMu.Lock()
	start := s.state.Seq + 1
	// Valid when the purges after the checkpoint are all still there.
	valid := s.state.Stream == id && (s.state.Seq >= last || start >= first)
	if !valid {
		why := whyNoHistory
		switch {
		case s.state.Stream != "" && s.state.Stream != id:
			why = "the purge stream was recreated"
		case s.state.Seq > 0:
			why = fmt.Sprintf("purges %d to %d aged out of the stream while the node was away", start, first-1)
		}
		s.state.Stream = id
		if s.serving.Load() {
			start = max(first, 1)
		} else {
			start = last + 1
		}
		s.state.Seq = start - 1
		s.applied.Store(s.state.Seq)
		s.m.appliedSeq.Set(float64(s.state.Seq))
		if err := s.revalidateAllLocked(ctx, why); err != nil {
			s.applyMu.Unlock()
			return nil, err
		}
	}
	s.applyMu.Unlock()

	if err := st.DeleteConsumer(ctx, s.nodeID); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("purge: delete consumer %s: %w", s.nodeID, err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:           s.nodeID,
		Description:       "popcache node " + s.nodeID,
		FilterSubject:     s.bus.cfg.Subject + ".>",
		AckPolicy:         jetstream.AckExplicitPolicy,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		AckWait:           30 * time.Second,
		MaxAckPending:     1024,
		InactiveThreshold: s.cfg.Retention.D(),
		Metadata:          map[string]string{metaRole: s.role, metaName: s.nodeID},
	})
	if err != nil {
		return nil, fmt.Errorf("purge: create consumer %s: %w", s.nodeID, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256), jetstream.PullExpiry(6*time.Second), jetstream.PullHeartbeat(2*time.Second))
	if err != nil {
		return nil, fmt.Errorf("purge: read consumer %s: %w", s.nodeID, err)
	}
	sess := &session{cons: cons, it: it, target: last, relinked: relinked}
	s.attached.Store(true)
	s.caughtUp.Store(s.applied.Load() >= last)
	s.m.lag.Set(float64(last - min(last, s.applied.Load())))
	return sess, nil
}

// detach ends the current session, if any; the next attach starts afresh
// from the journal's checkpoint.
func (s *Service) detach() {
	s.sess.stop()
	s.sess = nil
	s.attached.Store(false)
}

// consume applies the session's messages until ctx is done or an error
// stops it; with untilCaughtUp it returns nil once the backlog is applied.
//
// It returns errRelinked once the bus connection has been re-established:
// purges the server delivered to the lost connection (published while the
// server still took it for alive) are pending acknowledgement on the
// consumer, and would be redelivered only after the ack wait. Attaching
// afresh, from the journal's checkpoint, gets them at once.
func (s *Service) consume(ctx context.Context, sess *session, untilCaughtUp bool) error {
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.relinked:
			cancel()
		case <-nctx.Done():
		}
	}()
	for {
		if s.applied.Load() >= sess.target {
			s.caughtUp.Store(true)
			if untilCaughtUp {
				return nil
			}
		}
		msg, err := sess.it.Next(jetstream.NextContext(nctx))
		if err != nil {
			if ctx.Err() == nil && nctx.Err() != nil {
				return errRelinked
			}
			return err
		}
		if err := s.handle(ctx, msg); err != nil {
			return err
		}
	}
}

// handle applies one purge: in the cache first (from then on no lookup
// serves what it matches), then in the journal, fsynced, and only then
// acknowledges it. A redelivered purge, or one whose ID was applied
// already, is acknowledged without being applied again. A gap in the
// sequence (purges deleted from the stream unread) costs a revalidation
// of everything. An edge that fetches through shields first waits (up to
// purge.wait) for the live shields to apply the purge, so that a miss
// right after never refetches the purged object from a shield that still
// has it: every purge, those of a backlog too, since the edge serves
// while it catches up (see tiers.go).
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		s.m.errors.WithLabelValues("decode").Inc()
		msg.Term()
		return nil
	}
	seq := meta.Sequence.Stream
	if seq <= s.applied.Load() {
		s.ack(ctx, msg)
		return nil
	}
	m, derr := decodeMessage(msg.Data())
	if derr != nil {
		s.m.errors.WithLabelValues("decode").Inc()
		s.log.Error("purge: skipping a message that does not decode", "seq", seq, "err", derr)
	}
	if derr == nil && s.viaShields {
		s.waitForShields(ctx, seq)
	}

	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	at := s.now()
	var rs []cache.PurgeRule
	if seq > s.state.Seq+1 {
		rs = append(rs, cache.PurgeRule{Kind: cache.PurgeAll, Mode: cache.PurgeRevalidate, At: at})
		s.m.revalidate.Inc()
		s.log.Warn("purge: purges missing from the stream; revalidating everything stored before now", "from", s.state.Seq+1, "to", seq-1)
	}
	id := ""
	if m != nil {
		id = m.ID
		if _, dup := s.state.IDs[id]; !dup {
			rs = append(rs, rules(&m.Request, at, s.resolve)...)
		}
	}
	if err := s.cache.Purge(ctx, rs); err != nil {
		return err
	}
	if s.journal != nil {
		rec := &record{T: "apply", Stream: s.state.Stream, Seq: seq, ID: id, At: at, Rules: toJournal(rs)}
		if err := s.journal.append(rec); err != nil {
			s.m.errors.WithLabelValues("journal").Inc()
			return err // not acknowledged: applied again after re-attaching
		}
		if s.journal.written > compactAfterBytes {
			if err := s.retireLocked(); err != nil {
				s.m.errors.WithLabelValues("journal").Inc()
				s.log.Error("purge: compacting the journal", "err", err)
			}
		}
	}
	s.state.Seq = seq
	if id != "" {
		s.state.IDs[id] = at
	}
	s.applied.Store(seq)
	for _, r := range rs {
		s.m.applied.WithLabelValues(r.Kind.String()).Inc()
	}
	latency := at.Sub(meta.Timestamp)
	s.m.latency.Observe(max(latency, 0).Seconds())
	s.m.lag.Set(float64(meta.NumPending))
	s.m.appliedSeq.Set(float64(seq))
	s.ack(ctx, msg)
	if s.role == conf.RoleShield {
		s.announce()
	}
	if s.onApply != nil {
		s.onApply(Applied{Seq: seq, ID: id, Latency: latency})
	}
	return nil
}

// compactAfterBytes is how much the journal may grow before it is
// replaced by a snapshot.
const compactAfterBytes = 8 << 20

// ack acknowledges msg and waits for the server to confirm, so that the
// consumer's state shows the purge applied by the time it returns.
func (s *Service) ack(ctx context.Context, msg jetstream.Msg) {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		s.m.errors.WithLabelValues("ack").Inc()
		s.log.Debug("purge: ack", "err", err)
	}
}

// waitForShields waits, up to purge.wait, until every live shield has
// applied seq (see tiers.go). Shields that made no progress meanwhile
// are not waited for again until they do.
func (s *Service) waitForShields(ctx context.Context, seq uint64) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.Wait.D())
	defer cancel()
	s.holding.Store(seq)
	defer s.holding.Store(0)
	if !s.shields.wait(wctx, seq) && ctx.Err() == nil {
		s.shields.giveUp(seq, time.Now())
		s.log.Warn("purge: applying before every live shield did; not waiting again for those until they progress",
			"seq", seq, "waited", s.cfg.Wait.D())
	}
}
