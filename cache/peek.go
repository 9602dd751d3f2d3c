package cache

import (
	"net/http"
	"time"
)

// PeekMemory returns the object the memory tier holds for the primary key
// and the request header, with its body wholly in memory (Body, or
// [Object.Pages]), or nil. Unlike
// Lookup it never looks further (fills in progress, disk) and counts
// nothing in the store's metrics (the memory tier's admission policy
// still sees the access, so it sees twice a request handed on): it is for
// a server's fast path, which hands whatever it does
// not find here to a path that calls Lookup. It does not judge freshness
// or purge rules (see PurgeApplies). Once the store is closed it finds
// nothing.
func (s *Store) PeekMemory(key string, req http.Header, now time.Time) *Object {
	if !s.reading() {
		return nil
	}
	obj, _, _ := s.memGet(key, req, now)
	s.closeMu.RUnlock()
	if obj == nil || !obj.InMemory() && obj.Pages() == nil {
		return nil
	}
	obj.touch() // the disk copy's CLOCK bit, as Lookup does
	return obj
}

// PurgeApplies reports whether a purge rule covers obj, as FilterPurged
// would find, without counting or invalidating anything: a fast path
// that finds one hands the request to a path that calls FilterPurged.
func (s *Store) PurgeApplies(obj *Object, r *http.Request, recipe *KeyRecipe) bool {
	newest := s.purges.newest.Load()
	if newest == nil || obj.Meta.RequestTime.After(*newest) {
		return false
	}
	mode, _ := s.purges.match(&obj.Meta, r, recipe)
	return mode != 0
}
