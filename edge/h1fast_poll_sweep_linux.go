//go:build linux

package edge

import (
	"time"

	"golang.org/x/sys/unix"
)

// setDue sets when c, about to wait, is closed if nothing happens: the
// write timeout from when its answers first waited for room, else the
// idle timeout (a connection enters the set only between requests).
func (p *poller) setDue(sl *pollSlot, c *fastConn) {
	var due int64
	if c.pending() {
		if c.outDue == 0 {
			c.outDue = -1 // no write timeout
			if t := p.f.writeTimeout; t > 0 {
				c.outDue = p.now.Load() + int64(t)
			}
		}
		due = max(c.outDue, 0)
	} else if t := p.f.idleTimeout; t > 0 {
		due = p.now.Load() + int64(t)
	}
	sl.due.Store(due)
}

// waiting counts the connections waiting in the set.
func (p *poller) waiting() int {
	n := 0
	for _, sl := range *p.slots.Load() {
		if slotState(sl.word.Load()) == pollIdle {
			n++
		}
	}
	return n
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
		w := sl.word.Load()
		if slotState(w) != pollIdle {
			continue
		}
		if due := sl.due.Load(); due == 0 || due > now || !sl.word.CompareAndSwap(w, slotWord(slotGen(w), pollBusy)) {
			continue
		}
		c := sl.c.Load()
		if due := sl.due.Load(); due != 0 && due <= now {
			p.close(c)
			continue
		}
		// A loop served it since: give it back as a loop would.
		if !p.giveBack(sl, c) {
			p.serve(sl, c)
		}
	}
}

// shutdown ends the connections idle in the set (those owned end
// themselves, see giveBack; fastServer.closing is set already), then
// stops the loops and the sweeper and closes the set.
func (p *poller) shutdown() {
	p.f.s.lm.watchPoller(p, false)
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
	for _, sl := range *p.slots.Load() {
		if w := sl.word.Load(); slotState(w) == pollIdle && sl.word.CompareAndSwap(w, slotWord(slotGen(w), pollBusy)) {
			p.shut(sl, sl.c.Load())
		}
	}
	close(p.stop)
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(p.wake, one[:])
	p.loops.Wait()
	p.mu.Lock()
	p.closed = true
	p.closeWaiters()
	unix.Close(p.ep)
	unix.Close(p.wake)
	p.mu.Unlock()
}
