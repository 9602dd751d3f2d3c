package cache

import (
	"context"
	"net/http"
	"time"
)

// Purging is lazy, like Varnish's bans: applying a purge records a rule in
// O(1), whatever the number of objects stored, and a lookup judges the
// object it found against the rules newer than the object. An object's age
// for this purpose is Meta.RequestTime, when its upstream request was sent:
// a rule applied at At matches the objects stored, or being fetched, at
// that moment, on both tiers, and not what is fetched afterwards. So a
// fill in flight during a purge is purged too, and a 304 that freshens a
// soft-purged object makes it current again.
//
// Rules are indexed by what they match (URL, host, tag; prefixes by host),
// each entry holding the time of the newest rule per [PurgeMode], so a
// lookup costs a few map reads however many purges were made. When no
// purge is newer than the object (the common case) it costs one atomic
// load and one time comparison.
//
// Rules older than a retention (see [Store.RetirePurges]) fold into the
// node-wide "all" entry as a revalidation: the objects they covered are
// then revalidated once rather than tracked for ever.

// PurgeKind says what a purge rule matches.
type PurgeKind uint8

// Kinds of purge rule.
const (
	// PurgeURL matches one URL, every Vary variant and both schemes;
	// Value is [PurgeURLValue] of it.
	PurgeURL PurgeKind = iota + 1
	// PurgePrefix matches the URLs that start with Value, a
	// [PurgePrefixValue]: a host and a path prefix.
	PurgePrefix
	// PurgeHost matches every URL of a host name (any port or scheme);
	// Value is [PurgeHostValue] of it.
	PurgeHost
	// PurgeTag matches the objects whose tag headers (Surrogate-Key,
	// Cache-Tag; see [Store.SetPurgeTagHeaders]) list Value.
	PurgeTag
	// PurgeAll matches every object; Value is "".
	PurgeAll
)

// String returns the kind's name as the purge API spells it.
func (k PurgeKind) String() string {
	switch k {
	case PurgeURL:
		return "url"
	case PurgePrefix:
		return "prefix"
	case PurgeHost:
		return "host"
	case PurgeTag:
		return "tag"
	case PurgeAll:
		return "all"
	}
	return "unknown"
}

// PurgeMode says what a rule does to the objects it matches. Greater is
// stronger: an object matched by several rules gets the strongest.
type PurgeMode uint8

// Modes of purge rule.
const (
	// PurgeSoft marks the object stale from the rule's time on: it is
	// revalidated before it is used again (a 304 makes it fresh), and
	// stale-while-revalidate and stale-if-error still apply.
	PurgeSoft PurgeMode = iota + 1
	// PurgeRevalidate also marks it stale, and it must be revalidated: it
	// is never served stale. Used when a node cannot know which purges it
	// missed (lost journal, backlog gone, retired rules).
	PurgeRevalidate
	// PurgeHard removes the object: the lookup is a miss.
	PurgeHard
)

// String returns the mode's name.
func (m PurgeMode) String() string {
	switch m {
	case PurgeSoft:
		return "soft"
	case PurgeRevalidate:
		return "revalidate"
	case PurgeHard:
		return "hard"
	}
	return "none"
}

// PurgeRule is one purge as the cache applies it.
type PurgeRule struct {
	Kind PurgeKind
	// Value is what the rule matches, in the canonical form its Kind
	// documents; "" for PurgeAll.
	Value string
	Mode  PurgeMode
	// At is when the node applied the rule: it matches the objects whose
	// upstream request was sent at or before At. Required.
	At time.Time
	// Keys, for a PurgeURL rule, are primary keys removed from both tiers
	// at once (see [KeyRecipe.URLKeys]) so that memory is freed without
	// waiting for a lookup; optional, and not kept with the rule.
	Keys []string
}

// PurgeStats are the purge counters of a Store.
type PurgeStats struct {
	// Entries is the number of rule index entries (distinct URLs, hosts,
	// tags and prefixes with a live rule), plus one when an "all" rule
	// exists.
	Entries int
	// Removed counts the objects a hard rule turned into misses at lookup,
	// plus the keys removed at once by URL rules.
	Removed uint64
	// Stale counts the objects a soft or revalidate rule marked stale at
	// lookup.
	Stale uint64
}

// Purge applies rules: each costs O(1) (plus the removal of its Keys),
// whatever the number of objects stored. From the time Purge returns, no
// lookup filtered by [Store.FilterPurged] serves an object they match,
// as they say. ctx bounds the removal of Keys on the disk tier.
func (s *Store) Purge(ctx context.Context, rules []PurgeRule) error {
	s.purges.add(rules)
	for _, r := range rules {
		for _, k := range r.Keys {
			if err := ctx.Err(); err != nil {
				return err
			}
			s.Invalidate(k)
			s.purges.removed.Add(1)
		}
	}
	return nil
}

// RetirePurges folds the rules applied before cutoff into the node-wide
// rule, as revalidations (soft rules stay soft), and returns the rules
// left: the state to persist. Objects those rules covered are then
// revalidated once rather than the rules kept for ever; cutoff is now
// less the retention.
func (s *Store) RetirePurges(cutoff time.Time) []PurgeRule {
	return s.purges.retire(cutoff)
}

// PurgeStats returns the purge counters.
func (s *Store) PurgeStats() PurgeStats {
	return PurgeStats{
		Entries: int(s.purges.entries.Load()),
		Removed: s.purges.removed.Load(),
		Stale:   s.purges.stale.Load(),
	}
}

// SetPurgeTagHeaders sets the response header fields whose values are an
// object's tags (space or comma separated), in canonical form. The
// default, until it is called, is Surrogate-Key and Cache-Tag. Call it
// before serving.
func (s *Store) SetPurgeTagHeaders(names []string) {
	c := make([]string, len(names))
	for i, n := range names {
		c[i] = http.CanonicalHeaderKey(n)
	}
	s.purges.tagHeaders.Store(&c)
}

// FilterPurged judges what [Store.Lookup] returned for request r, whose
// primary key key was built by recipe, against the purge rules. It returns
// obj and outcome unchanged unless obj is Found and a rule matches it:
//   - hard: nil and URIMiss, and everything stored under key is removed;
//   - soft or revalidate: a copy of obj that is stale since the rule (and,
//     for revalidate, must be revalidated), still Found.
//
// It costs one atomic load and a time comparison unless a rule is newer
// than the object.
func (s *Store) FilterPurged(key string, obj *Object, outcome Outcome, r *http.Request, recipe *KeyRecipe) (*Object, Outcome) {
	if outcome != Found || obj == nil {
		return obj, outcome
	}
	newest := s.purges.newest.Load()
	if newest == nil || obj.Meta.RequestTime.After(*newest) {
		return obj, outcome
	}
	mode, at := s.purges.match(&obj.Meta, r, recipe)
	switch mode {
	case PurgeHard:
		s.purges.removed.Add(1)
		s.Invalidate(key)
		return nil, URIMiss
	case PurgeSoft, PurgeRevalidate:
		s.purges.stale.Add(1)
		return staleSince(obj, at, mode), Found
	}
	return obj, outcome
}

// staleSince returns a copy of obj that turned stale at the instant at:
// its stale-while-revalidate and stale-if-error windows start then, or,
// for PurgeRevalidate, are gone. The body is shared.
func staleSince(obj *Object, at time.Time, mode PurgeMode) *Object {
	m := obj.Meta
	m.Lifetime = min(m.Lifetime, m.Age(at))
	if mode == PurgeRevalidate {
		m.MustRevalidate = true
		m.StaleWhileRevalidate, m.StaleIfError, m.StaleIfUnreachable = 0, 0, 0
	}
	return obj.WithMeta(m)
}
