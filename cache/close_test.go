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
