package cache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestCloseWhileStoring closes a two-tier store while fills that
// outlived their clients are still storing, marking and purging (as
// when a node stops): those after Close are dropped, those before it
// end first, and ristretto is never used once released (a send on its
// closed channels would panic; -race reports the unordered close).
func TestCloseWhileStoring(t *testing.T) {
	for round := range 5 {
		s, _ := testStore(t, diskConfig(t.TempDir()))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 6 {
			wg.Go(func() {
				<-start
				for i := range 200 {
					key := fmt.Sprintf("http://a.test/%d/%d/%d", round, g, i)
					switch i % 3 {
					case 0:
						s.Put(key, purgeObj(nil), purgeT0)
					case 1:
						s.MarkPass(key, purgeT0)
					case 2:
						s.Invalidate(key)
					}
				}
			})
		}
		close(start)
		time.Sleep(time.Duration(round) * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if s.Put("http://a.test/after", purgeObj(nil), purgeT0) {
			t.Errorf("round %d: a Put after Close stored", round)
		}
	}
}

// TestCloseWhileLooking closes a store while lookups (Lookup and
// PeekMemory) run, as handlers a timed-out shutdown left behind would:
// they find nothing once it is closed, and never reach the released
// memory tier (ristretto's Get sends on a channel Close closes).
func TestCloseWhileLooking(t *testing.T) {
	const key = "http://a.test/x"
	for round := range 20 {
		s, _ := testStore(t, diskConfig(t.TempDir()))
		s.Put(key, purgeObj(nil), purgeT0)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					s.Lookup(key, nil, purgeT0.Add(time.Second))
					s.PeekMemory(key, nil, purgeT0.Add(time.Second))
				}
			})
		}
		time.Sleep(time.Duration(round%5) * 200 * time.Microsecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if obj, _ := s.Lookup(key, nil, purgeT0.Add(time.Second)); obj != nil {
			t.Errorf("round %d: Lookup after Close found the object", round)
		}
		close(stop)
		wg.Wait()
	}
}
