package cache

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// purgeIndex holds the purge rules of a Store, indexed by what they match.
// Its zero value is an empty index. Readers take no lock: every entry is an
// immutable value replaced as a whole, and writers publish entries before
// they move newest, so a reader that sees a newer newest also sees the
// rule behind it.
type purgeIndex struct {
	mu sync.Mutex // serialises add and retire

	// newest is the At of the newest rule ever added; nil when none was.
	newest atomic.Pointer[time.Time]
	// all is the node-wide entry: PurgeAll rules and retired rules.
	all atomic.Pointer[stamp]

	// Entries by value: *stamp for urls, hosts and tags; *prefixList for
	// prefixes, keyed by host name. The counts let a lookup skip a map
	// that is empty.
	urls, hosts, tags, prefixes     sync.Map
	nURLs, nHosts, nTags, nPrefixes atomic.Int64
	entries                         atomic.Int64 // sum of the above (prefix rules counted one by one), plus all
	tagHeaders                      atomic.Pointer[[]string]
	removed, stale                  atomic.Uint64
}

// stamp holds, per mode (index mode-1), the At of the newest rule of that
// mode for one value; zero when there is none.
type stamp [3]time.Time

// with returns a copy of st (nil: empty) with mode's time raised to at.
func (st *stamp) with(mode PurgeMode, at time.Time) *stamp {
	var n stamp
	if st != nil {
		n = *st
	}
	if n[mode-1].IsZero() || at.After(n[mode-1]) {
		n[mode-1] = at
	}
	return &n
}

// strongest returns the strongest mode of st whose rule is at or after
// born, and that rule's time; 0 when none matches.
func (st *stamp) strongest(born time.Time) (PurgeMode, time.Time) {
	for m := PurgeHard; m >= PurgeSoft; m-- {
		if at := st[m-1]; !at.IsZero() && !born.After(at) {
			return m, at
		}
	}
	return 0, time.Time{}
}

// empty reports whether st holds no rule.
func (st *stamp) empty() bool {
	return st[0].IsZero() && st[1].IsZero() && st[2].IsZero()
}

// prefixRule is one prefix and its stamp; a prefixList is immutable.
type prefixRule struct {
	prefix string
	st     *stamp
}

type prefixList []prefixRule

// add records rules, then moves newest.
func (x *purgeIndex) add(rules []PurgeRule) {
	if len(rules) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var latest time.Time
	for _, r := range rules {
		if r.Mode < PurgeSoft || r.Mode > PurgeHard || r.At.IsZero() {
			continue
		}
		if r.At.After(latest) {
			latest = r.At
		}
		switch r.Kind {
		case PurgeAll:
			if x.all.Load() == nil {
				x.entries.Add(1)
			}
			x.all.Store(x.all.Load().with(r.Mode, r.At))
		case PurgeURL:
			x.raise(&x.urls, &x.nURLs, r)
		case PurgeHost:
			x.raise(&x.hosts, &x.nHosts, r)
		case PurgeTag:
			x.raise(&x.tags, &x.nTags, r)
		case PurgePrefix:
			x.addPrefix(r)
		}
	}
	if latest.IsZero() {
		return
	}
	if cur := x.newest.Load(); cur == nil || latest.After(*cur) {
		x.newest.Store(&latest)
	}
}

// raise records r in the map m of stamps.
func (x *purgeIndex) raise(m *sync.Map, n *atomic.Int64, r PurgeRule) {
	var cur *stamp
	if v, ok := m.Load(r.Value); ok {
		cur = v.(*stamp)
	} else {
		n.Add(1)
		x.entries.Add(1)
	}
	m.Store(r.Value, cur.with(r.Mode, r.At))
}

// addPrefix records a prefix rule under its host name.
func (x *purgeIndex) addPrefix(r PurgeRule) {
	host := prefixHost(r.Value)
	var old prefixList
	if v, ok := x.prefixes.Load(host); ok {
		old = *v.(*prefixList)
	}
	next := slices.Clone(old)
	i := slices.IndexFunc(next, func(p prefixRule) bool { return p.prefix == r.Value })
	if i >= 0 {
		next[i].st = next[i].st.with(r.Mode, r.At)
	} else {
		next = append(next, prefixRule{prefix: r.Value, st: (*stamp)(nil).with(r.Mode, r.At)})
		x.nPrefixes.Add(1)
		x.entries.Add(1)
	}
	x.prefixes.Store(host, &next)
}

// prefixHost is the host name of a canonical prefix or URL: up to the
// first '/', without a port.
func prefixHost(v string) string {
	host, _, _ := strings.Cut(v, "/")
	return hostName(host)
}

// hostName strips the port from a canonical host ("[::1]:8080" → "[::1]").
func hostName(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}

// retire folds rules older than cutoff into all (as revalidations, soft
// ones staying soft) and returns the rules left, all included.
func (x *purgeIndex) retire(cutoff time.Time) []PurgeRule {
	x.mu.Lock()
	defer x.mu.Unlock()
	all := x.all.Load()
	hadAll := all != nil
	fold := func(st *stamp) (kept *stamp) {
		var k stamp
		for m := PurgeSoft; m <= PurgeHard; m++ {
			at := st[m-1]
			if at.IsZero() {
				continue
			}
			if at.Before(cutoff) {
				all = all.with(min(m, PurgeRevalidate), at)
				continue
			}
			k[m-1] = at
		}
		if k.empty() {
			return nil
		}
		return &k
	}
	// First pass: compute what stays and the new all; publish all before
	// removing anything so that readers never miss a rule.
	type change struct {
		m    *sync.Map
		n    *atomic.Int64
		key  string
		kept *stamp
	}
	var changes []change
	for _, mp := range []struct {
		m *sync.Map
		n *atomic.Int64
	}{{&x.urls, &x.nURLs}, {&x.hosts, &x.nHosts}, {&x.tags, &x.nTags}} {
		mp.m.Range(func(k, v any) bool {
			st := v.(*stamp)
			if kept := fold(st); kept == nil || *kept != *st {
				changes = append(changes, change{mp.m, mp.n, k.(string), kept})
			}
			return true
		})
	}
	type prefixChange struct {
		host string
		kept prefixList
		gone int
	}
	var pchanges []prefixChange
	x.prefixes.Range(func(k, v any) bool {
		list := *v.(*prefixList)
		var kept prefixList
		changed := false
		for _, p := range list {
			st := fold(p.st)
			if st == nil || *st != *p.st {
				changed = true
			}
			if st != nil {
				kept = append(kept, prefixRule{prefix: p.prefix, st: st})
			}
		}
		if changed {
			pchanges = append(pchanges, prefixChange{k.(string), kept, len(list) - len(kept)})
		}
		return true
	})
	if all != nil {
		if !hadAll {
			x.entries.Add(1)
		}
		x.all.Store(all)
	}
	for _, c := range changes {
		if c.kept == nil {
			c.m.Delete(c.key)
			c.n.Add(-1)
			x.entries.Add(-1)
		} else {
			c.m.Store(c.key, c.kept)
		}
	}
	for _, c := range pchanges {
		if len(c.kept) == 0 {
			x.prefixes.Delete(c.host)
		} else {
			kept := c.kept
			x.prefixes.Store(c.host, &kept)
		}
		x.nPrefixes.Add(-int64(c.gone))
		x.entries.Add(-int64(c.gone))
	}
	return x.snapshot()
}

// snapshot lists the index as rules. Called with mu held.
func (x *purgeIndex) snapshot() []PurgeRule {
	var out []PurgeRule
	emit := func(kind PurgeKind, value string, st *stamp) {
		for m := PurgeSoft; m <= PurgeHard; m++ {
			if at := st[m-1]; !at.IsZero() {
				out = append(out, PurgeRule{Kind: kind, Value: value, Mode: m, At: at})
			}
		}
	}
	if all := x.all.Load(); all != nil {
		emit(PurgeAll, "", all)
	}
	for _, mp := range []struct {
		kind PurgeKind
		m    *sync.Map
	}{{PurgeURL, &x.urls}, {PurgeHost, &x.hosts}, {PurgeTag, &x.tags}} {
		mp.m.Range(func(k, v any) bool {
			emit(mp.kind, k.(string), v.(*stamp))
			return true
		})
	}
	x.prefixes.Range(func(_, v any) bool {
		for _, p := range *v.(*prefixList) {
			emit(PurgePrefix, p.prefix, p.st)
		}
		return true
	})
	return out
}
