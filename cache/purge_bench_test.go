package cache

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// purgeBench is a store of n objects, all tagged "bench" and each with a
// tag of its own, and the requests that find them.
type purgeBench struct {
	s      *Store
	recipe *KeyRecipe
	reqs   []*http.Request
	keys   []string
}

func newPurgeBench(b *testing.B, n int) *purgeBench {
	b.Helper()
	pb := &purgeBench{s: purgeStore(b, ""), recipe: mustRecipe(b, conf.Key{})}
	for i := range n {
		r := purgeReq(fmt.Sprintf("http://example.com/item/%d", i))
		pb.reqs = append(pb.reqs, r)
		pb.keys = append(pb.keys, purgeKey(pb.recipe, r))
	}
	pb.fill(b)
	return pb
}

// fill stores every object afresh.
func (pb *purgeBench) fill(b *testing.B) {
	b.Helper()
	for i, k := range pb.keys {
		obj := purgeObj(http.Header{"Surrogate-Key": {fmt.Sprintf("bench item-%d", i)}})
		if !pb.s.Put(k, obj, purgeT0) {
			b.Fatalf("Put %d refused", i)
		}
	}
}

// lookupAll looks every object up through FilterPurged and counts the
// outcomes.
func (pb *purgeBench) lookupAll(now time.Time) (hits, stale, misses int) {
	for i, r := range pb.reqs {
		obj, out := pb.s.Lookup(pb.keys[i], r.Header, now)
		obj, out = pb.s.FilterPurged(pb.keys[i], obj, out, r, pb.recipe)
		switch {
		case out != Found:
			misses++
		case obj.Meta.IsFresh(now):
			hits++
		default:
			stale++
		}
	}
	return
}

// BenchmarkPurgeTag100k purges by tag a store of 100,000 tagged objects.
//   - apply: one tag purge rule, what a purge request costs the node
//     (O(1): no object is visited);
//   - hit: a lookup with no purge newer than the object (the fast path);
//   - filter-only-no-newer-rule: what the purge check adds to that hit;
//   - hit-after-soft-purge: a lookup of an object the rule marks stale;
//   - hit-after-unrelated-purges: 10,000 rules newer than the object, none
//     of which match it;
//   - hard-purge-then-lookup-all: a hard tag purge and then the next
//     lookup of each of the 100,000 objects (each a miss that removes
//     it); ns/object is that lookup.
func BenchmarkPurgeTag100k(b *testing.B) {
	const n = 100_000
	pb := newPurgeBench(b, n)
	ctx := context.Background()
	now := purgeT0.Add(time.Minute)

	b.Run("apply", func(b *testing.B) {
		s := purgeStore(b, "")
		b.ReportAllocs()
		at := purgeT0
		for b.Loop() {
			at = at.Add(time.Nanosecond)
			s.Purge(ctx, []PurgeRule{{Kind: PurgeTag, Value: "bench", Mode: PurgeHard, At: at}})
		}
	})
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r := pb.reqs[i%n]
			obj, out := pb.s.Lookup(pb.keys[i%n], r.Header, now)
			pb.s.FilterPurged(pb.keys[i%n], obj, out, r, pb.recipe)
			i++
		}
	})
	b.Run("filter-only-no-newer-rule", func(b *testing.B) {
		r := pb.reqs[0]
		obj, out := pb.s.Lookup(pb.keys[0], r.Header, now)
		b.ReportAllocs()
		for b.Loop() {
			pb.s.FilterPurged(pb.keys[0], obj, out, r, pb.recipe)
		}
	})
	b.Run("hit-after-unrelated-purges", func(b *testing.B) {
		s := purgeStore(b, "")
		recipe := pb.recipe
		r := pb.reqs[0]
		s.Put(pb.keys[0], purgeObj(http.Header{"Surrogate-Key": {"bench item-0"}}), purgeT0)
		rules := make([]PurgeRule, 0, 10_000)
		for j := range 10_000 {
			kind := []PurgeKind{PurgeTag, PurgeURL, PurgeHost, PurgePrefix}[j%4]
			v := fmt.Sprintf("other-%d", j)
			if kind == PurgePrefix {
				v = fmt.Sprintf("example.com/other-%d/", j)
			}
			rules = append(rules, PurgeRule{Kind: kind, Value: v, Mode: PurgeHard, At: purgeT0.Add(time.Second)})
		}
		s.Purge(ctx, rules)
		b.ReportAllocs()
		for b.Loop() {
			obj, out := s.Lookup(pb.keys[0], r.Header, now)
			if obj, out = s.FilterPurged(pb.keys[0], obj, out, r, recipe); out != Found || !obj.Meta.IsFresh(now) {
				b.Fatal("an unrelated rule matched")
			}
		}
	})
	b.Run("hit-after-soft-purge", func(b *testing.B) {
		pb.s.Purge(ctx, []PurgeRule{{Kind: PurgeTag, Value: "bench", Mode: PurgeSoft, At: purgeT0.Add(time.Second)}})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r := pb.reqs[i%n]
			obj, out := pb.s.Lookup(pb.keys[i%n], r.Header, now)
			if obj, out = pb.s.FilterPurged(pb.keys[i%n], obj, out, r, pb.recipe); out != Found || obj.Meta.IsFresh(now) {
				b.Fatal("the soft purge did not mark the object stale")
			}
			i++
		}
	})
	b.Run("hard-purge-then-lookup-all", func(b *testing.B) {
		at := purgeT0.Add(2 * time.Second)
		var lookups time.Duration
		for b.Loop() {
			b.StopTimer()
			pb.fill(b)
			b.StartTimer()
			at = at.Add(time.Millisecond)
			pb.s.Purge(ctx, []PurgeRule{{Kind: PurgeTag, Value: "bench", Mode: PurgeHard, At: at}})
			start := time.Now()
			if hits, stale, _ := pb.lookupAll(now); hits+stale != 0 {
				b.Fatalf("%d hits and %d stale after a hard purge of every object", hits, stale)
			}
			lookups += time.Since(start)
		}
		b.ReportMetric(float64(lookups.Nanoseconds())/float64(b.N)/n, "ns/object")
	})
}
