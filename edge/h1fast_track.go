package edge

import (
	"context"
	"errors"
	"sync/atomic"
)

// The stream check: a connection handed to net/http may stay with it for
// many requests (after one with a body, a response it frames by closing
// or chunks, or maxHandoffStreak handoffs in a row), and net/http frames
// each of them itself. A streamTracker follows the bytes net/http reads
// from such a connection (handedConn.Read) request by request, as the
// fast path's gate does for the first: each head passes parseFraming,
// each chunked body the chunkChecker, and each Content-Length body is
// skipped. What it refuses is never passed on: a refused head is replaced
// by a line net/http answers 400 to (handedConn.refusedRead), and a body
// refused midway fails the read, which the pass path answers 400 (see
// trackerRefused). Wherever it cannot tell what net/http will do (a
// head over the limit, an unreadable Content-Length, a protocol switch,
// something not HTTP/1.x) it stops checking, and net/http judges alone.

// errBadFraming is the read error of a head the gate would have refused.
var errBadFraming = errors.New("edge: ambiguous request framing")

// trackState is what a streamTracker expects next.
type trackState uint8

const (
	trHead    trackState = iota // a request head
	trBody                      // left bytes of a Content-Length body
	trChunked                   // a chunked body (chunks)
	trOff                       // nothing: checking has stopped
)

// streamTracker follows the requests on one connection.
type streamTracker struct {
	st       trackState
	head     []byte // the head read so far
	maxHead  int    // past it net/http refuses the head itself: stop
	left     int64
	chunks   chunkChecker
	heads    int   // complete heads seen
	bad      error // the refusal, returned again by every later feed
	badFirst bool  // it was in the first request (see refusedFirst)
	// badBody is set, before the read that brought it returns, when a
	// chunked body is refused: net/http cancels the request's context on
	// that read error, and the pass path must not take it for a client
	// gone (see trackerRefused).
	badBody atomic.Bool
}

// newStreamTracker returns a tracker at the start of a request head,
// which gives up on heads over maxHead bytes.
func newStreamTracker(maxHead int) *streamTracker {
	return &streamTracker{maxHead: maxHead}
}

// feed follows the next bytes read from the connection: all of b is
// fine (ok == len(b)), or b[ok] starts what is refused (the head it
// belongs to, or the bad byte of a chunked body) and err says why
// (errBadFraming or errBadChunk). Once refused, it refuses everything.
func (t *streamTracker) feed(b []byte) (ok int, err error) {
	if t.bad != nil {
		return 0, t.bad
	}
	for ok < len(b) {
		rest := b[ok:]
		switch t.st {
		case trOff:
			return len(b), nil
		case trBody:
			n := int64(len(rest))
			if n > t.left {
				n = t.left
			}
			t.left -= n
			ok += int(n)
			if t.left == 0 {
				t.st = trHead
			}
		case trChunked:
			n, err := t.chunks.feed(rest)
			if err != nil {
				t.badFirst = t.heads == 1
				t.badBody.Store(true)
				return ok + n, t.fail(err)
			}
			ok += n
			if t.chunks.st == chDone {
				t.st, t.chunks = trHead, chunkChecker{}
			}
		case trHead:
			n, err := t.feedHead(rest)
			if err != nil {
				t.badFirst = t.heads == 0
				return ok, t.fail(err)
			}
			ok += n
		}
	}
	return ok, nil
}

// feedHead adds b to the head being read and, once the head is whole,
// checks it and moves to its body; it returns how much of b the head
// took.
func (t *streamTracker) feedHead(b []byte) (int, error) {
	skipped := 0
	if len(t.head) == 0 {
		// net/http skips empty lines before a request line.
		for skipped < len(b) && (b[skipped] == '\r' || b[skipped] == '\n') {
			skipped++
		}
		if skipped == len(b) {
			return skipped, nil
		}
	}
	before := len(t.head)
	t.head = append(t.head, b[skipped:]...)
	f := parseFraming(t.head)
	switch {
	case f.v == framingBad:
		return 0, errBadFraming
	case f.v == framingMore:
		if len(t.head) > t.maxHead {
			t.stop()
		}
		return len(b), nil
	case f.headLen < 0 || f.upgrade || f.length == -2:
		t.stop()
		return len(b), nil
	}
	t.heads++
	t.head = t.head[:0]
	switch {
	case f.chunked:
		t.st = trChunked
	case f.length > 0:
		t.st, t.left = trBody, f.length
	}
	return skipped + f.headLen - before, nil
}

// refusedFirst reports whether what was refused belongs to the first
// request the tracker saw: its head or its body.
func (t *streamTracker) refusedFirst() bool { return t.badFirst }

// stop ends the checking.
func (t *streamTracker) stop() {
	t.st, t.head = trOff, nil
}

// fail records a refusal.
func (t *streamTracker) fail(err error) error {
	t.stop()
	t.bad = err
	return err
}

// trackerRefused reports whether the tracker of the connection the
// request whose context is ctx came on refused a chunked body: net/http
// cancels the request's context on the read error of a body refused
// midway, which must not look like a client gone.
func trackerRefused(ctx context.Context) bool {
	hc, _ := ctx.Value(fastServerKey{}).(*handedConn)
	return hc != nil && hc.track.badBody.Load()
}
