//go:build linux

package edge

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The HTTP/1.1 fast path's event loops.
//
// A connection goroutine blocked in Read costs nothing until its request
// arrives; then the runtime's network poller puts it on one P's local
// run queue. When the cores are shared (with the load generator in the
// bench, with other processes and the kernel's own work in production),
// the OS preempts that P's thread now and then, and every goroutine in
// its queue waits for the thread's next slice: the other P takes fresh
// poller work before it steals. Measured (bench/PROFILE.md), that was
// the p99 under saturation: 2.8 ms of scheduler delay, for a few
// microseconds of work per request.
//
// So the plain-TCP connections of a listener, while they wait for a
// request, wait in one epoll set of the fast server's own, edge
// triggered, shared by a few loop goroutines. A loop takes one ready
// connection at a time, reads it, answers the plain hits read, writes
// the answers without blocking, and goes back to epoll_wait: a ready
// connection goes to whichever loop runs first, and a preempted loop
// holds up only the connection it is serving, as a thread per
// connection server's would. Anything else (a partial head, a miss, a
// close, shutdown) sends the connection to the goroutine it would have
// had without the loops (fastConn.serve), which gives it back to the set
// when it waits for a request again (fastConn.read). TLS connections
// keep their goroutine.
//
// A connection in the set is owned by its slot's state: a loop (or the
// sweeper, or shutdown) that moves it from pollIdle to pollBusy is the
// only one to touch it until it moves it on, so the raw file descriptor
// is never used after its net.Conn is closed. An event that arrives
// while a connection is busy marks it pollAgain, and its owner serves
// it once more before letting it go.

// The states of a slot of the set.
const (
	pollIdle  int32 = iota // in the set, waiting
	pollBusy               // being served by its owner
	pollAgain              // busy, and ready again meanwhile
	pollAway               // served by its goroutine, out of the set
	pollFree               // no connection
)

// pollEvents are what a connection in the set waits for, edge
// triggered: a request, or room for the rest of an answer.
const pollEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

// poller is one fast server's epoll set and its loops.
type poller struct {
	f    *fastServer
	ep   int // the epoll set
	wake int // an eventfd in the set, written to stop the loops
	tick time.Duration

	mu    sync.Mutex
	slots atomic.Pointer[[]*pollSlot] // index: the events' Fd; grown under mu
	free  []int32
	done  bool // shutdown began: nothing enters the set any more

	now   atomic.Int64 // the sweeper's clock, in Unix nanoseconds
	stop  chan struct{}
	loops sync.WaitGroup
}

// pollSlot holds one connection of the set.
type pollSlot struct {
	idx   int32
	state atomic.Int32
	gen   atomic.Int32 // moved on each reuse: stale events are ignored
	due   atomic.Int64 // when an idle connection is closed; 0 never
	c     atomic.Pointer[fastConn]
}

// newPoller starts loops event loops (one per GOMAXPROCS when 0) and the
// sweeper that enforces the idle and header timeouts of the connections
// in the set; nil when the set cannot be made.
func newPoller(f *fastServer, loops int) *poller {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		f.s.log.Warn("event loops unavailable; connections keep their goroutines", "err", err)
		return nil
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err == nil {
		err = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1})
	}
	if err != nil {
		unix.Close(ep)
		f.s.log.Warn("event loops unavailable; connections keep their goroutines", "err", err)
		return nil
	}
	p := &poller{f: f, ep: ep, wake: wake, stop: make(chan struct{})}
	p.tick = time.Second
	for _, t := range []time.Duration{f.headerTimeout, f.idleTimeout, f.writeTimeout} {
		if t > 0 {
			p.tick = min(p.tick, max(slack(t), time.Millisecond))
		}
	}
	p.now.Store(time.Now().UnixNano())
	p.slots.Store(new([]*pollSlot))
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	p.loops.Add(loops + 1)
	for range loops {
		go p.loop()
	}
	go p.sweep()
	f.s.lm.watchPoller(p, true)
	return p
}

// waiting counts the connections waiting in the set.
func (p *poller) waiting() int {
	n := 0
	for _, sl := range *p.slots.Load() {
		if sl.state.Load() == pollIdle {
			n++
		}
	}
	return n
}

// loop serves the connections of the set that become ready, one at a
// time, until the wake eventfd says stop.
func (p *poller) loop() {
	defer p.loops.Done()
	evs := make([]unix.EpollEvent, 1) // one at a time: see the top of this file
	for {
		n, err := unix.EpollWait(p.ep, evs, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			p.f.s.log.Error("event loop stopped", "err", err)
			return
		}
		for i := range n {
			if evs[i].Fd < 0 {
				return // wake: level triggered, so every loop sees it
			}
			p.ready(evs[i].Fd, evs[i].Pad)
		}
	}
}

// ready serves slot idx's connection, unless its owner is serving it
// already (it then serves it once more) or the event is stale.
func (p *poller) ready(idx, gen int32) {
	sl := (*p.slots.Load())[idx]
	if sl.gen.Load() != gen {
		return
	}
	for {
		switch sl.state.Load() {
		case pollIdle:
			if sl.state.CompareAndSwap(pollIdle, pollBusy) {
				p.serve(sl, sl.c.Load())
				return
			}
		case pollBusy:
			if sl.state.CompareAndSwap(pollBusy, pollAgain) {
				return
			}
		default: // pollAgain already, away, or gone
			return
		}
	}
}

// serve runs c's turns while it is busy, then lets it wait in the set,
// sends it to its goroutine, or closes it.
func (p *poller) serve(sl *pollSlot, c *fastConn) {
	for {
		switch c.pollTurn() {
		case turnClose:
			p.close(sl, c)
			return
		case turnAway:
			p.leave(sl, c)
			go c.serve(true)
			return
		}
		// turnWait
		p.setDue(sl, c)
		if sl.state.CompareAndSwap(pollBusy, pollIdle) {
			p.closeIfClosing(sl, c)
			return
		}
		sl.state.Store(pollBusy) // ready again meanwhile
	}
}

// setDue sets when c, about to wait, is closed if nothing happens: the
// write timeout while an answer waits for room, the idle timeout once a
// request has been answered; before the first request, the header
// timeout set by add stays.
func (p *poller) setDue(sl *pollSlot, c *fastConn) {
	var t time.Duration
	switch {
	case len(c.out) > 0:
		t = p.f.writeTimeout
	case c.answered:
		t = p.f.idleTimeout
	default:
		return
	}
	var due int64
	if t > 0 {
		due = p.now.Load() + int64(t)
	}
	sl.due.Store(due)
}

// closeIfClosing closes c, just left idle, if shutdown began (which
// closes the connections it finds idle; this catches one that was busy
// then).
func (p *poller) closeIfClosing(sl *pollSlot, c *fastConn) {
	if p.f.closing.Load() && sl.state.CompareAndSwap(pollIdle, pollBusy) {
		p.shut(sl, c)
	}
}

// add puts c, a new connection, in the set, with the header timeout for
// its first request; false if it cannot be added.
func (p *poller) add(c *fastConn) bool {
	if p == nil {
		return false
	}
	sl := p.slot(c)
	var due int64
	if t := p.f.headerTimeout; t > 0 {
		due = p.now.Load() + int64(t)
	}
	sl.due.Store(due)
	return p.enter(sl, c)
}

// park gives c back to the set from its goroutine, which must stop
// touching it when park returns true; false leaves it with the goroutine
// (shutdown began, or the set refused it).
func (p *poller) park(c *fastConn) bool {
	if p == nil || p.f.closing.Load() {
		return false
	}
	sl := c.slot
	if sl == nil {
		sl = p.slot(c)
	}
	p.setDue(sl, c)
	if !p.enter(sl, c) {
		return false
	}
	if p.f.closing.Load() && sl.state.CompareAndSwap(pollIdle, pollAway) {
		// Still in the set, whose events it now ignores, until its
		// goroutine closes it, or shutdown closes the set.
		return false
	}
	return true
}

// enter adds c's descriptor to the set as slot sl, idle; false, and sl
// freed, if epoll refuses it.
func (p *poller) enter(sl *pollSlot, c *fastConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		sl.state.Store(pollIdle)
		ev := unix.EpollEvent{Events: pollEvents, Fd: sl.idx, Pad: sl.gen.Load()}
		if unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, c.fd, &ev) == nil {
			return true
		}
	}
	sl.state.Store(pollAway)
	p.releaseLocked(c)
	return false
}

// leave takes c, busy, out of the set for its goroutine.
func (p *poller) leave(sl *pollSlot, c *fastConn) {
	_ = unix.EpollCtl(p.ep, unix.EPOLL_CTL_DEL, c.fd, nil)
	sl.state.Store(pollAway)
}

// slot gives c a free slot.
func (p *poller) slot(c *fastConn) *pollSlot {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sl *pollSlot
	if n := len(p.free); n > 0 {
		sl = (*p.slots.Load())[p.free[n-1]]
		p.free = p.free[:n-1]
	} else {
		old := *p.slots.Load()
		grown := append(old[:len(old):len(old)], &pollSlot{idx: int32(len(old))})
		sl = grown[len(old)]
		p.slots.Store(&grown)
	}
	sl.state.Store(pollAway)
	sl.c.Store(c)
	c.slot = sl
	return sl
}

// release frees c's slot, if it has one, for another connection; its
// events still on their way are ignored from here on.
func (p *poller) release(c *fastConn) {
	if p == nil || c.slot == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked(c)
}

// releaseLocked is release with p.mu held.
func (p *poller) releaseLocked(c *fastConn) {
	sl := c.slot
	c.slot = nil
	sl.gen.Add(1)
	sl.state.Store(pollFree)
	sl.c.Store(nil)
	p.free = append(p.free, sl.idx)
}

// close closes c, busy, and ends its part in the fast server; closing
// the descriptor takes it out of the set.
func (p *poller) close(sl *pollSlot, c *fastConn) {
	c.nc.Close()
	p.release(c)
	p.f.forget(c)
}

// shut ends c, busy, at shutdown or its timeout: closed, unless an
// answer is still being written, which its goroutine finishes first.
func (p *poller) shut(sl *pollSlot, c *fastConn) {
	if len(c.out) > 0 || c.wmark < len(c.wbuf) {
		p.leave(sl, c)
		go c.serve(true)
		return
	}
	p.close(sl, c)
}

// sweep moves the set's clock and closes the connections idle past
// their due time, until stopped.
func (p *poller) sweep() {
	defer p.loops.Done()
	t := time.NewTicker(p.tick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.now.Store(now.UnixNano())
			p.expire(now.UnixNano())
		}
	}
}

// expire closes the idle connections due before now.
func (p *poller) expire(now int64) {
	for _, sl := range *p.slots.Load() {
		due := sl.due.Load()
		if due == 0 || due > now || sl.state.Load() != pollIdle || !sl.state.CompareAndSwap(pollIdle, pollBusy) {
			continue
		}
		c := sl.c.Load()
		if due = sl.due.Load(); due != 0 && due <= now {
			p.close(sl, c)
			continue
		}
		// A loop served it since: give it back as a loop would.
		if !sl.state.CompareAndSwap(pollBusy, pollIdle) {
			sl.state.Store(pollBusy)
			p.serve(sl, c)
		}
	}
}

// shutdown ends the connections idle in the set (those busy end
// themselves, see closeIfClosing; fastServer.closing is set already),
// then stops the loops and the sweeper and closes the set.
func (p *poller) shutdown() {
	p.f.s.lm.watchPoller(p, false)
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
	for _, sl := range *p.slots.Load() {
		if sl.state.CompareAndSwap(pollIdle, pollBusy) {
			p.shut(sl, sl.c.Load())
		}
	}
	close(p.stop)
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(p.wake, one[:])
	p.loops.Wait()
	unix.Close(p.ep)
	unix.Close(p.wake)
}
