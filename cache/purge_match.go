package cache

import (
	"net/http"
	"strings"
	"time"
)

// PurgeURLValue returns the canonical form of a URL that PurgeURL and
// PurgePrefix rules match: the host as in cache keys (lower-case, without
// a trailing dot or the scheme's default port), the path with its escapes
// normalised as in keys, then "?" and the query parameters recipe keeps,
// sorted (a nil recipe keeps them all). The scheme is not part of it: a
// URL purge covers http and https alike.
func PurgeURLValue(recipe *KeyRecipe, scheme, host, rawPath, rawQuery string) string {
	var buf [256]byte
	return string(appendPurgeURL(buf[:0], recipe, scheme, host, rawPath, rawQuery))
}

func appendPurgeURL(dst []byte, recipe *KeyRecipe, scheme, host, rawPath, rawQuery string) []byte {
	dst = appendHost(dst, scheme, host)
	if rawPath == "" {
		rawPath = "/"
	}
	dst = appendNormalizedEscapes(dst, rawPath)
	if recipe == nil {
		recipe = &KeyRecipe{}
	}
	if !recipe.noQuery && rawQuery != "" {
		dst = recipe.appendQuery(dst, rawQuery)
	}
	return dst
}

// PurgePrefixValue returns the canonical form of a URL prefix for a
// PurgePrefix rule: the host as in [PurgeURLValue], then rawPrefix (which
// starts with "/") with its escapes normalised. It matches the canonical
// URLs that start with it, so a prefix that reaches into the query sees
// the parameters sorted.
func PurgePrefixValue(scheme, host, rawPrefix string) string {
	var buf [256]byte
	b := appendHost(buf[:0], scheme, host)
	return string(appendNormalizedEscapes(b, rawPrefix))
}

// PurgeHostValue returns the canonical form of a host for a PurgeHost
// rule: lower-case, without a trailing dot or any port.
func PurgeHostValue(host string) string {
	var buf [128]byte
	return hostName(string(appendHost(buf[:0], "", host)))
}

// URLKeys returns the primary keys the recipe gives a URL for http and
// https requests, for removing it from the cache at once. It returns nil
// when the recipe puts request headers or cookies in keys: those keys
// cannot be listed, and the purge rule alone then covers the URL.
func (r *KeyRecipe) URLKeys(host, rawPath, rawQuery string) []string {
	if len(r.headers) > 0 || len(r.cookies) > 0 {
		return nil
	}
	var buf [256]byte
	plain := string(r.Append(buf[:0], "http", host, rawPath, rawQuery, nil))
	tls := string(r.Append(buf[:0], "https", host, rawPath, rawQuery, nil))
	return []string{plain, tls}
}

// match returns the strongest rule mode that matches the object with meta
// m found for request r, and the time of that rule; 0 when none does.
func (x *purgeIndex) match(m *Meta, r *http.Request, recipe *KeyRecipe) (PurgeMode, time.Time) {
	born := m.RequestTime
	var best PurgeMode
	var bestAt time.Time
	consider := func(st *stamp) bool {
		if md, at := st.strongest(born); md > best {
			best, bestAt = md, at
		}
		return best == PurgeHard
	}
	if st := x.all.Load(); st != nil && consider(st) {
		return best, bestAt
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	var buf [256]byte
	host := appendHost(buf[:0], scheme, r.Host)
	name := hostName(string(host))
	if x.nHosts.Load() > 0 {
		if v, ok := x.hosts.Load(name); ok && consider(v.(*stamp)) {
			return best, bestAt
		}
	}
	if x.nURLs.Load() > 0 || x.nPrefixes.Load() > 0 {
		u := string(appendPurgeURL(buf[:0], recipe, scheme, r.Host, r.URL.EscapedPath(), r.URL.RawQuery))
		if v, ok := x.urls.Load(u); ok && consider(v.(*stamp)) {
			return best, bestAt
		}
		if v, ok := x.prefixes.Load(name); ok {
			for _, p := range *v.(*prefixList) {
				if strings.HasPrefix(u, p.prefix) && consider(p.st) {
					return best, bestAt
				}
			}
		}
	}
	if x.nTags.Load() > 0 {
		def := [...]string{"Surrogate-Key", "Cache-Tag"}
		names := def[:]
		if p := x.tagHeaders.Load(); p != nil {
			names = *p
		}
		for _, h := range names {
			for _, line := range m.Header[h] {
				if x.matchTags(line, consider) {
					return best, bestAt
				}
			}
		}
	}
	return best, bestAt
}

// matchTags looks up each tag of a tag header line (separated by spaces,
// tabs or commas) until consider reports a hard match.
func (x *purgeIndex) matchTags(line string, consider func(*stamp) bool) bool {
	for line != "" {
		i := strings.IndexAny(line, " ,\t")
		tag := line
		if i >= 0 {
			tag, line = line[:i], line[i+1:]
		} else {
			line = ""
		}
		if tag == "" {
			continue
		}
		if v, ok := x.tags.Load(tag); ok && consider(v.(*stamp)) {
			return true
		}
	}
	return false
}
