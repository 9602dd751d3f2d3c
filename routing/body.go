package routing

import (
	"io"
	"sync/atomic"
)

// retryBody lends a request body to a first attempt while keeping it
// reusable for a retry: http.Transport closes a request body even when it
// failed to connect, so the attempt gets this wrapper, whose Close is held
// back until the pool knows whether the body is still needed.
//
// The life of one retryBody:
//  1. The first attempt runs; it may Read (then it got a connection) and
//     may Close (open → closedEarly; the real body stays open).
//  2. Either the pool keeps that attempt's outcome and calls commit: a
//     Close already made is carried out now, a later one when it comes
//     (open → committed → done);
//  3. or the attempt failed to connect, nothing was read, and takeBack
//     returns the real body for the retry; any later Close of the wrapper
//     is ignored (→ abandoned).
type retryBody struct {
	body  io.ReadCloser
	read  atomic.Bool
	state atomic.Int32
}

const (
	bodyOpen        int32 = iota
	bodyClosedEarly       // closed by the attempt, real close held back
	bodyCommitted         // the attempt owns the body: Close is real
	bodyDone              // the real body is closed
	bodyAbandoned         // the real body went to a retry
)

func (b *retryBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.body.Read(p)
}

func (b *retryBody) Close() error {
	if b.state.CompareAndSwap(bodyOpen, bodyClosedEarly) {
		return nil
	}
	if b.state.CompareAndSwap(bodyCommitted, bodyDone) {
		return b.body.Close()
	}
	return nil
}

// commit gives the body to the attempt that used it.
func (b *retryBody) commit() {
	if b.state.CompareAndSwap(bodyOpen, bodyCommitted) {
		return
	}
	if b.state.CompareAndSwap(bodyClosedEarly, bodyDone) {
		b.body.Close()
	}
}

// takeBack returns the real body, unread, for a retry; ok is false if the
// attempt read from it, and then the body is committed instead.
func (b *retryBody) takeBack() (body io.ReadCloser, ok bool) {
	if b.read.Load() {
		b.commit()
		return nil, false
	}
	b.state.Store(bodyAbandoned)
	return b.body, true
}

// releaseBody wraps a response body to release its server's in-flight
// slot once, at EOF or Close, whichever comes first.
type releaseBody struct {
	io.ReadCloser
	s    *server
	done atomic.Bool
}

func (b *releaseBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.finish()
	}
	return n, err
}

func (b *releaseBody) Close() error {
	b.finish()
	return b.ReadCloser.Close()
}

func (b *releaseBody) finish() {
	if b.done.CompareAndSwap(false, true) {
		b.s.release()
	}
}

// releaseRWBody keeps the io.Writer of a 101 Switching Protocols body
// (httputil.ReverseProxy type-asserts io.ReadWriteCloser to relay upgrades).
type releaseRWBody struct {
	*releaseBody
	io.Writer
}

// wrapResponseBody returns body wrapped to release s when finished.
func wrapResponseBody(body io.ReadCloser, s *server) io.ReadCloser {
	rb := &releaseBody{ReadCloser: body, s: s}
	if w, ok := body.(io.Writer); ok {
		return releaseRWBody{rb, w}
	}
	return rb
}
