package purge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Status is the state of one purge across the fleet: the answer of
// POST /purge and GET /purge/{id}.
type Status struct {
	// ID identifies the purge.
	ID string `json:"id"`
	// Seq is the purge's sequence in the stream.
	Seq uint64 `json:"seq"`
	// State is "applied" when every live node has applied it, "pending"
	// otherwise.
	State string `json:"state"`
	// Issued, By and Request describe the purge (GET only).
	Issued  time.Time `json:"issued,omitzero"`
	By      string    `json:"by,omitempty"`
	Request *Request  `json:"request,omitempty"`
	// Nodes are the nodes reading the stream, by ID.
	Nodes []NodeStatus `json:"nodes"`
}

// NodeStatus is one node's progress on the stream, from its consumer's
// state on the JetStream server.
type NodeStatus struct {
	// Node is the node's ID (purge.node_id).
	Node string `json:"node"`
	// Role is "edge" or "shield".
	Role string `json:"role,omitempty"`
	// Live is true while the node is connected and reading the stream.
	Live bool `json:"live"`
	// Applied is true once the node has applied (journaled and
	// acknowledged) the purge.
	Applied bool `json:"applied"`
	// Done is the stream sequence up to which the node has applied
	// every purge.
	Done uint64 `json:"done"`
	// Lag is the number of purges the node has still to apply.
	Lag uint64 `json:"lag"`
	// LastActive is when the node last received a purge, if it has.
	LastActive *time.Time `json:"last_active,omitempty"`
}

// States of a [Status].
const (
	StateApplied = "applied"
	StatePending = "pending"
)

// Consumer metadata keys: what a node says of itself on its consumer.
const (
	metaRole = "popcache_role"
	metaName = "popcache_name"
)

// liveWindow is how recently a consumer without a waiting pull request
// must have been active to count as live (a node between two pulls).
const liveWindow = 5 * time.Second

// nodes returns every consumer's progress toward seq, sorted by node.
func (s *Service) nodes(ctx context.Context, seq uint64) ([]NodeStatus, error) {
	st, err := s.bus.stream(ctx)
	if err != nil {
		return nil, err
	}
	lister := st.ListConsumers(ctx)
	var out []NodeStatus
	now := time.Now()
	for ci := range lister.Info() {
		if _, ours := ci.Config.Metadata[metaRole]; ours {
			out = append(out, nodeStatus(ci, seq, now))
		}
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("purge: list consumers: %w", err)
	}
	slices.SortFunc(out, func(a, b NodeStatus) int { return strings.Compare(a.Node, b.Node) })
	return out, nil
}

// nodeStatus reads a consumer's state.
func nodeStatus(ci *jetstream.ConsumerInfo, seq uint64, now time.Time) NodeStatus {
	n := NodeStatus{
		Node: ci.Name,
		Role: ci.Config.Metadata[metaRole],
		Done: ci.AckFloor.Stream,
		Lag:  ci.NumPending + uint64(ci.NumAckPending),
	}
	n.Applied = n.Done >= seq
	n.LastActive = ci.Delivered.Last
	n.Live = ci.NumWaiting > 0 || (ci.Delivered.Last != nil && now.Sub(*ci.Delivered.Last) < liveWindow)
	return n
}

// allApplied reports whether every live node has applied the purge.
func allApplied(ns []NodeStatus) bool {
	for _, n := range ns {
		if n.Live && !n.Applied {
			return false
		}
	}
	return true
}

// waitApplied polls the nodes until every live one matching want has
// applied seq, or ctx is done; it returns the last statuses seen. Polls
// start at 1ms and back off to 50ms.
func (s *Service) waitApplied(ctx context.Context, seq uint64, want func(NodeStatus) bool) ([]NodeStatus, bool, error) {
	delay := time.Millisecond
	for {
		ns, err := s.nodes(ctx, seq)
		if err != nil {
			return ns, false, err
		}
		done := true
		for _, n := range ns {
			if want(n) && n.Live && !n.Applied {
				done = false
			}
		}
		if done {
			return ns, true, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ns, false, nil
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}
