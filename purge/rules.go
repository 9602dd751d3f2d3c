package purge

import (
	"time"

	"github.com/popcache/popcache/cache"
)

// Resolver returns the key recipe of the route that serves host and path,
// so that a URL purge counts the query as that route's cache keys do.
// A nil Resolver, or a nil result, means every query parameter counts.
type Resolver func(host, path string) *cache.KeyRecipe

// rules turns a purge request into the cache's rules, applied at at. The
// request was validated; an item that no longer parses is skipped.
func rules(q *Request, at time.Time, resolve Resolver) []cache.PurgeRule {
	mode := cache.PurgeHard
	if q.Soft {
		mode = cache.PurgeSoft
	}
	out := make([]cache.PurgeRule, 0, len(q.URLs)+len(q.Prefixes)+len(q.Hosts)+len(q.Tags)+1)
	for _, s := range q.URLs {
		u, err := parseURL(s)
		if err != nil {
			continue
		}
		var recipe *cache.KeyRecipe
		if resolve != nil {
			recipe = resolve(u.Host, u.Path)
		}
		r := cache.PurgeRule{
			Kind:  cache.PurgeURL,
			Value: cache.PurgeURLValue(recipe, u.Scheme, u.Host, u.EscapedPath(), u.RawQuery),
			Mode:  mode,
			At:    at,
		}
		if recipe != nil && mode == cache.PurgeHard {
			r.Keys = recipe.URLKeys(u.Host, u.EscapedPath(), u.RawQuery)
		}
		out = append(out, r)
	}
	for _, s := range q.Prefixes {
		p, err := parsePrefix(s)
		if err != nil {
			continue
		}
		out = append(out, cache.PurgeRule{Kind: cache.PurgePrefix, Value: cache.PurgePrefixValue(p.portScheme(), p.host, p.path), Mode: mode, At: at})
	}
	for _, h := range q.Hosts {
		out = append(out, cache.PurgeRule{Kind: cache.PurgeHost, Value: cache.PurgeHostValue(h), Mode: mode, At: at})
	}
	for _, t := range q.Tags {
		out = append(out, cache.PurgeRule{Kind: cache.PurgeTag, Value: t, Mode: mode, At: at})
	}
	if q.All {
		out = append(out, cache.PurgeRule{Kind: cache.PurgeAll, Mode: mode, At: at})
	}
	return out
}
