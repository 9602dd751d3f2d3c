package shield

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	// A step either asks allow (want ok/trial), records a result for a
	// request admitted as trial or not, or moves the clock.
	type step struct {
		advance time.Duration
		allow   bool
		ok      bool
		trial   bool
		record  *result
		state   State
	}
	s, f, n := success, failure, noVerdict
	allow := func(ok, trial bool, st State) step { return step{allow: true, ok: ok, trial: trial, state: st} }
	rec := func(r *result, trial bool, st State) step { return step{record: r, trial: trial, state: st} }
	wait := func(d time.Duration, st State) step { return step{advance: d, state: st} }
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "closed lets everything through", steps: []step{
			allow(true, false, Closed), allow(true, false, Closed),
		}},
		{name: "max_fails consecutive failures open", steps: []step{
			rec(&f, false, Closed), rec(&f, false, Closed), rec(&f, false, Open),
			allow(false, false, Open),
		}},
		{name: "a success resets the count", steps: []step{
			rec(&f, false, Closed), rec(&f, false, Closed), rec(&s, false, Closed),
			rec(&f, false, Closed), rec(&f, false, Closed), allow(true, false, Closed),
		}},
		{name: "after open_for one trial, others skip", steps: []step{
			rec(&f, false, Closed), rec(&f, false, Closed), rec(&f, false, Open),
			wait(999*time.Millisecond, Open), allow(false, false, Open),
			wait(time.Millisecond, Open), allow(true, true, HalfOpen), allow(false, false, HalfOpen),
		}},
		{name: "trial success closes", steps: []step{
			rec(&f, false, Closed), rec(&f, false, Closed), rec(&f, false, Open),
			wait(time.Second, Open), allow(true, true, HalfOpen), rec(&s, true, Closed),
			allow(true, false, Closed),
		}},
		{name: "trial failure reopens for open_for", steps: []step{
			rec(&f, false, Closed), rec(&f, false, Closed), rec(&f, false, Open),
			wait(time.Second, Open), allow(true, true, HalfOpen), rec(&f, true, Open),
			wait(999*time.Millisecond, Open), allow(false, false, Open),
			wait(time.Millisecond, Open), allow(true, true, HalfOpen),
		}},
		{name: "a canceled trial lets the next request try", steps: []step{
			rec(&f, false, Closed), rec(&f, false, Closed), rec(&f, false, Open),
			wait(time.Second, Open), allow(true, true, HalfOpen), rec(&n, true, HalfOpen),
			allow(true, true, HalfOpen),
		}},
		{name: "late results of requests admitted while closed are ignored", steps: []step{
			rec(&f, false, Closed), rec(&f, false, Closed), rec(&f, false, Open),
			rec(&s, false, Open), rec(&f, false, Open),
			wait(time.Second, Open), allow(true, true, HalfOpen), rec(&s, false, HalfOpen),
			allow(false, false, HalfOpen),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			var changes []State
			b := &breaker{maxFails: 3, openFor: time.Second, onChange: func(s State) { changes = append(changes, s) }}
			for i, st := range tt.steps {
				now = now.Add(st.advance)
				switch {
				case st.allow:
					ok, trial := b.allow(now)
					if ok != st.ok || trial != st.trial {
						t.Fatalf("step %d: allow = %v, %v; want %v, %v", i, ok, trial, st.ok, st.trial)
					}
				case st.record != nil:
					b.record(*st.record, st.trial, now)
				}
				if got := b.current(); got != st.state {
					t.Fatalf("step %d: state %v, want %v", i, got, st.state)
				}
			}
			for i := 1; i < len(changes); i++ {
				if changes[i] == changes[i-1] {
					t.Errorf("onChange called twice with %v: %v", changes[i], changes)
				}
			}
		})
	}
}

func TestBreakerForce(t *testing.T) {
	now := time.Unix(1000, 0)
	b := &breaker{maxFails: 1, openFor: time.Minute}
	if b.force() {
		t.Errorf("force on a closed circuit is a trial")
	}
	b.record(failure, false, now)
	if !b.force() {
		t.Fatalf("force on an open circuit is not a trial")
	}
	b.record(success, true, now)
	if b.current() != Closed {
		t.Errorf("a forced trial's success left the circuit %v", b.current())
	}
}
