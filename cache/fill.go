package cache

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Fill is the outcome of one upstream fetch made on behalf of every client
// that missed on the same key at the same time.
type Fill struct {
	// Object is the complete response when it may be shared with the
	// clients that waited for it (whether or not it was stored).
	Object *Object
	// Private, when Object is nil, is the response of a fetch that must not
	// be shared (uncacheable, or larger than the cache takes): its header
	// and a Stream with the body, handed only to the client whose request
	// started the fetch. Waiters are told to fetch on their own.
	Private *PrivateResponse
	// Stored is true when Object was admitted to the cache.
	Stored bool
	// Detail says why the response was not stored (a Cache-Status detail).
	Detail string
	// UpstreamStatus is the status upstream answered with (304 for a
	// successful revalidation).
	UpstreamStatus int

	leader *int // identifies the caller whose fetch function ran
}

// PrivateResponse is an unshared upstream response being streamed to one
// client. Its receiver must close Body.
type PrivateResponse struct {
	Status int
	Header map[string][]string
	Body   io.ReadCloser
}

// FillRole says how a caller of [Store.Fill] took part in the fetch.
type FillRole uint8

const (
	// Leader: this caller's fetch function ran.
	Leader FillRole = iota
	// Collapsed: the caller waited for another caller's fetch and got its
	// shared response (Cache-Status "collapsed").
	Collapsed
	// Released: the caller waited, but the response could not be shared;
	// it must fetch on its own, uncoalesced.
	Released
)

// Fill runs fetch once for all concurrent callers with the same key and
// returns its result to each. While a fill's body is still streaming
// ([Store.Stream]), later callers join it at once, as Collapsed, without
// a new fetch.
//
// The fetch outlives the caller that started it: it runs under
// context.WithoutCancel(ctx), bounded by the configured fill timeout until
// it returns; a body it streams stays bounded by that timeout between two
// reads, and the context lives until the body has been read. A client that
// goes away does not fail the others. Each caller stops waiting when its
// own ctx is done. A fetch that returns a Private response that no one
// takes (its leader went away) has the body closed for it. A panic in
// fetch is turned into an error for every caller rather than crashing the
// node.
func (s *Store) Fill(ctx context.Context, key string, fetch func(ctx context.Context) (*Fill, error)) (*Fill, FillRole, error) {
	if st := s.streamFor(key); st != nil {
		return &Fill{Object: st.obj, Stored: st.stored, UpstreamStatus: st.obj.Meta.Status}, Collapsed, nil
	}
	me := new(int)
	ch := s.flights.DoChan(key, func() (any, error) {
		f, err := s.runFetch(ctx, key, false, fetch)
		if f != nil {
			f.leader = me
		}
		return f, err
	})
	select {
	case r := <-ch:
		return s.role(r.Val, r.Err, me)
	case <-ctx.Done():
		go func() {
			r := <-ch
			if f, _ := r.Val.(*Fill); f != nil && f.leader == me && f.Private != nil {
				f.Private.Body.Close()
			}
		}()
		return nil, Leader, ctx.Err()
	}
}

// Fetch is [Store.Fill] for one caller alone, uncoalesced (hit-for-miss, a
// waiter released from a fill it could not share, another variant): no
// one else waits on it, so the caller's ctx ending before the head has
// arrived ends the fetch. After that its lifetime is Fill's: a body that
// streams into the store may have joiners, and the fetch outlives the
// caller's request until the stream ends; a Private body lives until it
// is closed or ctx ends.
func (s *Store) Fetch(ctx context.Context, key string, fetch func(ctx context.Context) (*Fill, error)) (*Fill, error) {
	return s.runFetch(ctx, key, true, fetch)
}

// runFetch calls fetch under a context of its own, detached from ctx (the
// request of the caller that started it) and bounded by the fill timeout
// until the head arrives; with alone, ctx ending before then cancels it
// too. A streamed body's fetch then ends with its stream; a Private
// body's when the body is closed or ctx ends. Any other outcome ends the
// fetch's context on return. A panic in fetch is returned as an error.
func (s *Store) runFetch(ctx context.Context, key string, alone bool, fetch func(ctx context.Context) (*Fill, error)) (f *Fill, err error) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	timer := time.AfterFunc(s.cfg.FillTimeout.D(), cancel)
	stopEarly := func() bool { return true }
	if alone {
		stopEarly = context.AfterFunc(ctx, cancel)
	}
	handedOff := false
	defer func() {
		timer.Stop()
		stopEarly()
		if !handedOff {
			cancel()
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("cache: fill %q: panic: %v", key, p)
		}
	}()
	f, err = fetch(fctx)
	if f == nil {
		return f, err
	}
	switch {
	case f.Object != nil:
		if st, ok := f.Object.src.(*stream); ok && timer.Stop() && stopEarly() {
			// The body streams on: keep its request alive until it
			// ends; the stream bounds the time between reads.
			handedOff = true
			st.afterDone(cancel)
		}
	case f.Private != nil && timer.Stop():
		// The caller alone reads this body, after we return: keep its
		// request alive until the caller closes it, or until the caller's
		// own request ends.
		handedOff = true
		f.Private.Body = newLeaderBody(ctx, f.Private.Body, cancel)
	}
	return f, err
}

// role sorts a fill result out for one caller.
func (s *Store) role(v any, err error, me *int) (*Fill, FillRole, error) {
	f, _ := v.(*Fill)
	isLeader := f != nil && f.leader == me
	if err != nil {
		if f == nil {
			// Every caller of a failed fetch sees the error; none led it in a
			// way it can tell, so all count as collapsed onto the failure.
			return nil, Collapsed, err
		}
	}
	switch {
	case isLeader:
		return f, Leader, err
	case f.Object != nil:
		return f, Collapsed, nil
	default:
		return nil, Released, nil
	}
}

// leaderBody is an unshared fill's body, read by its leader: closing it,
// or the end of the leader's request, ends the fetch's request.
type leaderBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	stop   func() bool
}

func newLeaderBody(leader context.Context, body io.ReadCloser, cancel context.CancelFunc) *leaderBody {
	return &leaderBody{ReadCloser: body, cancel: cancel, stop: context.AfterFunc(leader, cancel)}
}

func (b *leaderBody) Close() error {
	err := b.ReadCloser.Close()
	b.stop()
	b.cancel()
	return err
}
