//go:build linux

package edge

import (
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"
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
// So the plain-TCP connections of a listener, while they wait for their
// next request, wait in one epoll set of the fast server's own, edge
// triggered, shared by a few loop goroutines. A connection's first
// request is read by its goroutine, so a burst of new connections costs
// the accept loop nothing more, and a connection used once never enters
// the set. A loop takes one ready
// connection at a time, reads it, answers the plain hits read, writes
// the answers without blocking, and takes the next ready one: a ready
// connection goes to whichever loop runs first, and a preempted loop
// holds up only the connection it is serving, as a thread per
// connection server's would. The loops' own threads are handled with
// care (poller.loop, poller.await, h1fast_poll_raw_linux.go,
// h1fast_poll_pin_linux.go): their system calls are raw, they park in
// the runtime's poller when idle, yield their CPU after a slice of
// work, and, one per CPU, are pinned one to each. Anything else (a
// partial head, a miss, a close, shutdown) sends the connection to the
// goroutine it would have had without the loops (fastConn.serve), which
// gives it back to the set when it waits for a request again
// (fastConn.read). TLS connections keep their goroutine.
//
// A connection in the set is owned through its slot's word, a state and
// a generation in one atomic: a loop (or the sweeper, or shutdown) that
// moves it from pollIdle to pollBusy is the only one to touch it until
// it moves it on, so the raw file descriptor is never used after it is
// closed. An event that arrives while a connection is busy
// marks it pollAgain, and its owner serves it once more before letting
// it go. Each entry into the set is a new generation, carried by its
// events: an event of an earlier one, still in a loop's hands, finds
// the word changed and is dropped.

// The states of a slot of the set (the low half of its word).
const (
	pollIdle  uint64 = iota // in the set, waiting
	pollBusy                // owned: being served, or entering the set
	pollAgain               // busy, and ready again meanwhile
	pollAway                // served by its goroutine, out of the set
	pollFree                // no connection
)

// pollEvents are what a connection in the set waits for, edge
// triggered: a request, or room for the rest of an answer.
const pollEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

// pollHangup are the events after which a connection's reads end: its
// turns read on to the end instead of stopping at a short read.
const pollHangup = unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR

// poller is one fast server's epoll set and its loops.
type poller struct {
	f    *fastServer
	ep   int // the epoll set
	wake int // an eventfd in the set, written to stop the loops
	tick time.Duration
	// waiters are gates to ep for the runtime's poller to wait on, loop
	// i on waiters[i%len(waiters)] (poller.await).
	waiters []waiter
	// slice is how long a loop serves before it yields its CPU; 0 never
	// (server.event_loop_slice).
	slice time.Duration

	mu     sync.Mutex
	slots  atomic.Pointer[[]*pollSlot] // index: the events' Fd; grown under mu
	free   []int32
	done   bool // shutdown began: nothing enters the set any more
	closed bool // the set is closed

	now   atomic.Int64 // the sweeper's clock, in Unix nanoseconds
	warn  rate.Sometimes
	stop  chan struct{}
	loops sync.WaitGroup
}

// pollSlot holds one connection of the set.
type pollSlot struct {
	idx  int32
	word atomic.Uint64 // generation<<32 | state
	hup  atomic.Bool   // the peer hung up (pollHangup seen)
	due  atomic.Int64  // when an idle connection is closed; 0 never
	c    atomic.Pointer[fastConn]
}

// slotWord packs a generation and a state.
func slotWord(gen uint32, state uint64) uint64 { return uint64(gen)<<32 | state }

// slotState is the state half of a slot's word.
func slotState(w uint64) uint64 { return w & 0xffffffff }

// slotGen is the generation half of a slot's word.
func slotGen(w uint64) uint32 { return uint32(w >> 32) }

// gen is the slot's current generation.
func (sl *pollSlot) gen() uint32 { return slotGen(sl.word.Load()) }

// newPoller starts loops event loops (defaultLoops when 0) and the
// sweeper that enforces the idle and write timeouts of the connections
// in the set; nil when the set cannot be made.
func newPoller(f *fastServer, loops int) *poller {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		f.s.log.Warn("event loops unavailable; connections keep their goroutines", "err", err)
		return nil
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err == nil {
		if err = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}); err != nil {
			unix.Close(wake)
		}
	}
	if err != nil {
		unix.Close(ep)
		f.s.log.Warn("event loops unavailable; connections keep their goroutines", "err", err)
		return nil
	}
	p := &poller{f: f, ep: ep, wake: wake, stop: make(chan struct{}), warn: rate.Sometimes{Interval: time.Second}}
	p.tick = time.Second
	if d := f.s.cfg.Server.EventLoopSlice; d != nil {
		p.slice = d.D()
	}
	for _, t := range []time.Duration{f.idleTimeout, f.writeTimeout} {
		if t > 0 {
			p.tick = min(p.tick, max(slack(t), time.Millisecond))
		}
	}
	p.now.Store(time.Now().UnixNano())
	p.slots.Store(new([]*pollSlot))
	if loops <= 0 {
		loops = defaultLoops()
	}
	if err := p.openWaiters(min(loops, maxWaiters)); err != nil {
		p.closeWaiters()
		unix.Close(ep)
		unix.Close(wake)
		f.s.log.Warn("event loops unavailable; connections keep their goroutines", "err", err)
		return nil
	}
	pin := f.s.cfg.Server.EventLoopPin
	cpus := loopCPUs(pin != nil && *pin, loops)
	f.s.log.Info("event loops", "listener", f.ln.Addr().String(), "loops", loops, "pinned", cpus != nil, "slice", p.slice, "gomaxprocs", runtime.GOMAXPROCS(0))
	p.loops.Add(loops + 1)
	for i := range loops {
		cpu := -1
		if cpus != nil {
			cpu = cpus[i]
		}
		go p.loop(cpu, p.waiters[i%len(p.waiters)])
	}
	go p.sweep()
	f.s.lm.watchPoller(p, true)
	return p
}

// maxWaiters caps the descriptors the loops wait on (poller.await).
const maxWaiters = 2

// waiter is a gate to the set for the runtime's network poller: an
// epoll set of its own, holding the set, and open (armed) only while a
// loop waits on it (poller.await). Shut, it passes nothing on. Were the
// runtime's poller to watch the set itself, every event of the set
// would wake whichever thread waits in the runtime's poller while the
// loops are busy: with an idle P beside two saturated loops (SpareProc),
// that was 24k needless wake-ups a second, each taking a core from the
// loops.
type waiter struct {
	fd int // the gate's epoll set, f's descriptor
	f  *os.File
	rc syscall.RawConn // f's; nil if the runtime's poller refused it
}

// gateOpen and gateShut are the events a gate waits for in the set:
// readable, or nothing (the kernel adds EPOLLERR and EPOLLHUP, which a
// set never reports).
const (
	gateOpen = unix.EPOLLIN
	gateShut = 0
)

// gate opens (or shuts) w's gate to the set.
func (p *poller) gate(w waiter, events uint32) error {
	return unix.EpollCtl(w.fd, unix.EPOLL_CTL_MOD, p.ep, &unix.EpollEvent{Events: events, Fd: int32(p.ep)})
}

// openWaiters makes p.waiters, n gates to the set, shut.
func (p *poller) openWaiters(n int) error {
	for range n {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return err
		}
		if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, p.ep, &unix.EpollEvent{Events: gateShut, Fd: int32(p.ep)}); err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return err
		}
		w := waiter{fd: fd, f: os.NewFile(uintptr(fd), "epoll")}
		if rc, err := w.f.SyscallConn(); err == nil {
			w.rc = rc
		}
		p.waiters = append(p.waiters, w)
	}
	return nil
}

// closeWaiters closes p.waiters, once the loops are done with them.
func (p *poller) closeWaiters() {
	for _, w := range p.waiters {
		w.f.Close()
	}
	p.waiters = nil
}

// loop serves the connections of the set that become ready, one at a
// time, until the wake eventfd says stop; pinned to cpu unless it is -1.
// Having served for p.slice without finding the set empty, it offers
// its CPU to whatever else waits for it (sched_yield): at saturation a
// loop is otherwise a CPU-bound thread, which the kernel preempts only
// at its tick, and a client or another process on its core waits that
// long (bench/PROFILE.md, "The loops' threads").
func (p *poller) loop(cpu int, w waiter) {
	defer p.loops.Done()
	if cpu >= 0 {
		unpin, err := pinThread(cpu)
		if err != nil {
			p.f.s.log.Warn("event loop not pinned", "cpu", cpu, "err", err)
		}
		defer unpin()
	}
	evs := make([]unix.EpollEvent, 1) // one at a time: see the top of this file
	var n int
	var err error
	// poll is for p.await, made once; open is the state of w's gate.
	open := false
	poll := func(uintptr) bool {
		for {
			n, err = pollReady(p.ep, evs)
			if n > 0 || err != nil {
				if open {
					// This should never fail; if it did, the gate would
					// stay open, which costs wake-ups, not events.
					_ = p.gate(w, gateShut)
					open = false
				}
				return true
			}
			if open {
				return false
			}
			if err = p.gate(w, gateOpen); err != nil {
				return true
			}
			// Look again: an event that came before the gate opened did
			// not pass it.
			open = true
		}
	}
	var since time.Time // when the loop last found the set empty, or yielded
	runnable := []rtmetrics.Sample{{Name: "/sched/goroutines/runnable:goroutines"}}
	for {
		n, err = pollReady(p.ep, evs)
		if err == nil && n == 0 {
			since = time.Time{}
			if !p.await(w, poll) {
				n, err = p.block(evs)
			}
		}
		if err != nil {
			p.f.s.log.Error("event loop stopped", "err", err)
			return
		}
		if p.slice > 0 {
			if now := time.Now(); since.IsZero() {
				since = now
			} else if now.Sub(since) >= p.slice {
				p.yield(runnable)
				since = time.Now()
			}
		}
		for i := range n {
			if evs[i].Fd < 0 {
				return // wake: level triggered, so every loop sees it
			}
			p.ready(evs[i].Fd, uint32(evs[i].Pad), evs[i].Events)
		}
	}
}

// await waits for events of the set in the runtime's poller, on w's
// gate, and takes one with poll, which records it for the caller and
// opens and shuts the gate; false if the runtime's poller refused to
// wait on the gate (block waits then). A parked loop holds no thread in
// a blocking system call: through epoll_wait, sysmon would hand the
// thread's P to another thread and wake it for that (bench/PROFILE.md,
// "The loops' threads"). An event wakes every goroutine parked on an
// open gate, so the loops share at most maxWaiters of them: the read
// lock of each lets one loop wait on it at a time, while the others
// queue on the lock, and an event wakes the one waiting and then the
// next in line, which waits in its turn or takes a second event.
// However many loops there are, an event costs a few wake-ups, not one
// per loop.
func (p *poller) await(w waiter, poll func(uintptr) bool) bool {
	return w.rc != nil && w.rc.Read(poll) == nil
}

// block waits for events of the set in epoll_wait.
func (p *poller) block(evs []unix.EpollEvent) (int, error) {
	for {
		n, err := unix.EpollWait(p.ep, evs, -1)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// yield ends a loop's slice. Goroutines queued for a P go first
// (runtime.Gosched), when runnable, a sample of the runtime's metric,
// says some are: the loops hold every P while they are saturated, and
// without it a miss, a pass or a TLS connection waits for the runtime to
// preempt a loop, up to 10 ms per step (bench/PROFILE.md, "The loops'
// threads"). Then the loop offers its CPU to any other thread
// (yieldCPU).
func (p *poller) yield(runnable []rtmetrics.Sample) {
	p.f.s.spare.sliced()
	rtmetrics.Read(runnable)
	if v := runnable[0].Value; v.Kind() == rtmetrics.KindUint64 && v.Uint64() > 0 {
		runtime.Gosched()
	}
	yieldCPU()
}

// ready serves slot idx's connection for an event of generation gen,
// unless its owner is serving it already (it then serves it once more)
// or the event is stale.
func (p *poller) ready(idx int32, gen, events uint32) {
	sl := (*p.slots.Load())[idx]
	hup := events&pollHangup != 0
	for {
		w := sl.word.Load()
		if slotGen(w) != gen {
			return
		}
		switch slotState(w) {
		case pollIdle:
			if sl.word.CompareAndSwap(w, slotWord(gen, pollBusy)) {
				if hup {
					sl.hup.Store(true)
				}
				p.serve(sl, sl.c.Load())
				return
			}
		case pollBusy:
			if hup {
				// Before the owner can see pollAgain, and let go.
				sl.hup.Store(true)
			}
			if sl.word.CompareAndSwap(w, slotWord(gen, pollAgain)) {
				return
			}
		default: // pollAgain already, away, or gone
			return
		}
	}
}

// serve runs c's turns while its caller owns it, then lets it wait in
// the set, sends it to its goroutine, or closes it.
func (p *poller) serve(sl *pollSlot, c *fastConn) {
	for {
		switch c.safeTurn(sl.hup.Load()) {
		case turnClose:
			p.close(c)
			return
		case turnAway:
			p.leave(sl, c)
			return
		}
		p.setDue(sl, c) // turnWait
		if p.giveBack(sl, c) {
			return
		}
	}
}

// giveBack lets c, owned by the caller, wait in the set; false if it
// became ready meanwhile, and the caller, still its owner, serves it
// once more.
func (p *poller) giveBack(sl *pollSlot, c *fastConn) bool {
	gen := sl.gen()
	if sl.word.CompareAndSwap(slotWord(gen, pollBusy), slotWord(gen, pollIdle)) {
		// Shutdown closes the connections it finds idle; this one was
		// owned then.
		if p.f.closing.Load() && sl.word.CompareAndSwap(slotWord(gen, pollIdle), slotWord(gen, pollBusy)) {
			p.shut(sl, c)
		}
		return true
	}
	sl.word.Store(slotWord(gen, pollBusy)) // it was pollAgain
	return false
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
	return p.enter(sl, c)
}

// enter adds c's descriptor to the set as slot sl, in a new generation,
// and lets it wait there; false, and sl freed, if the set is closing or
// epoll refuses it. The caller owns c until then: an event that comes
// first waits for it (pollAgain), and the caller serves c itself. In
// the set, c is out of the runtime's poller (h1fast_poll_detach_linux.go).
func (p *poller) enter(sl *pollSlot, c *fastConn) bool {
	fd := detach(c.fd)
	p.mu.Lock()
	gen := sl.gen() + 1
	sl.word.Store(slotWord(gen, pollBusy))
	ev := unix.EpollEvent{Events: pollEvents, Fd: sl.idx, Pad: int32(gen)}
	if fd < 0 || p.done || unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
		p.releaseLocked(c)
		p.mu.Unlock()
		if fd >= 0 {
			unix.Close(fd)
		}
		return false
	}
	p.mu.Unlock()
	c.nc.Close() // the duplicate keeps the socket open
	c.fd = fd
	if !p.giveBack(sl, c) {
		p.serve(sl, c)
	}
	return true
}

// leave takes c, owned, out of the set and sends it to its goroutine.
func (p *poller) leave(sl *pollSlot, c *fastConn) {
	p.mu.Lock()
	if !p.closed {
		_ = unix.EpollCtl(p.ep, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
	p.mu.Unlock()
	sl.word.Store(slotWord(sl.gen(), pollAway))
	c.outDue = 0
	p.away(c)
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
	sl.word.Store(slotWord(sl.gen()+1, pollAway))
	sl.hup.Store(false)
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
	sl.word.Store(slotWord(sl.gen()+1, pollFree))
	sl.c.Store(nil)
	p.free = append(p.free, sl.idx)
}

// close closes c, owned, and ends its part in the fast server; closing
// the descriptor takes it out of the set.
func (p *poller) close(c *fastConn) {
	c.closeDetached()
	p.release(c)
	p.f.forget(c)
}

// shut ends c, owned, at shutdown: closed, unless an answer is still
// being written, which its goroutine finishes first.
func (p *poller) shut(sl *pollSlot, c *fastConn) {
	if c.pending() {
		p.leave(sl, c)
		return
	}
	p.close(c)
}
