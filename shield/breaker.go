package shield

import (
	"sync"
	"time"
)

// State is a circuit breaker's state.
type State int8

// Breaker states, in the order of the popcache_shield_circuit_state gauge.
const (
	// Closed: requests go to the shield; consecutive failures are counted.
	Closed State = iota
	// HalfOpen: one trial request at a time goes to the shield; its result
	// closes or reopens the circuit.
	HalfOpen
	// Open: the shield is skipped without being tried until the open
	// period ends.
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "unknown"
}

// result is what one admitted request says about its shield.
type result int8

const (
	success   result = iota // the shield answered (any response it did not fail on)
	failure                 // the shield failed: see [Tier.RoundTrip]
	noVerdict               // the request ended for its own reasons (canceled)
)

// breaker is one shield's circuit breaker:
//
//	closed    --maxFails consecutive failures-->  open
//	open      --openFor elapsed, next request-->  half-open (that request is the trial)
//	half-open --trial succeeds-->                  closed
//	half-open --trial fails-->                     open (for openFor again)
//
// While half-open only the trial goes through; a trial without a verdict
// (canceled) lets the next request be the trial. Results of requests
// admitted while closed that arrive after the circuit opened are ignored:
// they say nothing about the shield now.
type breaker struct {
	maxFails int           // >= 1
	openFor  time.Duration // > 0
	onChange func(State)   // called with mu held on every change; may be nil

	mu    sync.Mutex // protects the fields below
	state State
	fails int       // consecutive failures while closed
	until time.Time // while open: when the next request becomes a trial
	trial bool      // while half-open: a trial is in flight
}

// allow reports whether a request may go to the shield at now, and
// whether it is the trial of a half-open circuit (which must report its
// result with record, trial true).
func (b *breaker) allow(now time.Time) (ok, trial bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Closed:
		return true, false
	case Open:
		if now.Before(b.until) {
			return false, false
		}
		b.set(HalfOpen)
	}
	if b.trial {
		return false, false
	}
	b.trial = true
	return true, true
}

// force admits a request whatever the state, as a trial when the circuit
// is not closed: for when every shield is skipped and there is nowhere
// else to go.
func (b *breaker) force() (trial bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != Closed
}

// record counts the result of a request that allow or force admitted.
func (b *breaker) record(r result, trial bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if trial {
		if b.state == HalfOpen {
			b.trial = false
		}
		switch r {
		case success:
			b.fails = 0
			b.set(Closed)
		case failure:
			b.open(now)
		}
		return
	}
	if b.state != Closed {
		return
	}
	switch r {
	case success:
		b.fails = 0
	case failure:
		b.fails++
		if b.fails >= b.maxFails {
			b.open(now)
		}
	}
}

// current returns the state without side effects: an open circuit whose
// period is over still reads open until a request tries it.
func (b *breaker) current() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (b *breaker) open(now time.Time) {
	b.fails = 0
	b.trial = false
	b.until = now.Add(b.openFor)
	b.set(Open)
}

func (b *breaker) set(s State) {
	if b.state == s {
		return
	}
	b.state = s
	if b.onChange != nil {
		b.onChange(s)
	}
}
