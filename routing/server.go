package routing

import (
	"net/url"
	"sync/atomic"
	"time"
)

// server is one upstream of a pool and its health state.
type server struct {
	index  int
	url    *url.URL // scheme and host only
	label  string   // scheme://host, in metrics and logs
	weight int      // >= 1
	seed   uint64   // hash of label, for rendezvous hashing

	// inflight counts requests sent and not yet finished: until the
	// response body is closed or read to EOF, or the request failed.
	inflight atomic.Int64

	// health is the active-check verdict; up with no checks.
	health Health

	// fails counts consecutive failed requests (passive checks); a success
	// sets it to 0, and so does the ejection it causes.
	fails atomic.Int64
	// ejectedUntil is the Unix time in nanoseconds before which the server
	// is ejected; 0 means never ejected.
	ejectedUntil atomic.Int64

	m *serverMetrics // nil without a Registerer
}

func newServer(index int, u *url.URL, weight int) *server {
	s := &server{
		index:  index,
		url:    &url.URL{Scheme: u.Scheme, Host: u.Host},
		label:  u.Scheme + "://" + u.Host,
		weight: max(weight, 1),
	}
	s.seed = HashKey(s.label)
	return s
}

// available reports whether s may be picked at now: up by the active checks
// and not ejected by the passive ones.
func (s *server) available(now time.Time) bool {
	return s.health.Up() && now.UnixNano() >= s.ejectedUntil.Load()
}

// release marks one request as finished.
func (s *server) release() { s.inflight.Add(-1) }

// recordPassive counts one request's result and reports whether it made
// the count reach maxFails, ejecting s until now+eject.
func (s *server) recordPassive(failed bool, maxFails int, eject time.Duration, now time.Time) (ejected bool) {
	if !failed {
		if s.fails.Load() != 0 { // don't write a shared line on every success
			s.fails.Store(0)
		}
		return false
	}
	n := s.fails.Add(1)
	if n < int64(maxFails) || !s.fails.CompareAndSwap(n, 0) {
		return false // not yet, or a concurrent failure ejects instead
	}
	s.ejectedUntil.Store(now.Add(eject).UnixNano())
	return true
}
