package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// How long past its freshness a response with a validator is kept so a
// later request can revalidate it (a 304) instead of refetching the body:
// its freshness lifetime, but at least minValidatorKeep and at most
// maxValidatorKeep. The object is then usually still around after it
// goes stale, without pinning rarely-requested objects for days.
const (
	minValidatorKeep = time.Hour
	maxValidatorKeep = 24 * time.Hour
)

// correctedInitialAge computes corrected_initial_age (RFC 9111 §4.2.3)
// from the response's Age and Date fields:
//
//	apparent_age          = max(0, response_time - date_value)
//	response_delay        = response_time - request_time
//	corrected_age_value   = age_value + response_delay
//	corrected_initial_age = max(apparent_age, corrected_age_value)
//
// A missing or invalid Date counts as response_time (apparent_age 0), a
// missing or invalid Age as 0; of several Age values, the first counts
// (see [firstAge]). A negative response_delay (clock steps)
// counts as 0. Results are capped at 2^31 seconds.
func correctedInitialAge(h http.Header, requestTime, responseTime time.Time) time.Duration {
	var apparent time.Duration
	if date, ok := headerTime(h, "Date", responseTime); ok {
		apparent = max(0, responseTime.Sub(date))
	}
	var ageValue time.Duration
	if s, ok := parseDelta(firstAge(h)); ok {
		ageValue = time.Duration(s) * time.Second
	}
	delay := capDelta(max(0, responseTime.Sub(requestTime)))
	return capDelta(max(apparent, ageValue+delay))
}

// firstAge returns the first Age value: the first non-empty member of
// the first Age line, without OWS. Age is a single delta-seconds, but an
// intermediary that folds duplicate lines sends "7200, 0" as one line;
// reading the whole line as one number would take it for invalid, hence
// 0, and serve as fresh a response already two hours old. The first
// member is what the first line alone would have said, as RFC 9111
// §4.2.1's "first occurrence" reading of duplicates does.
func firstAge(h http.Header) string {
	v := h["Age"]
	if len(v) == 0 {
		return ""
	}
	line := v[0]
	for line != "" {
		var el string
		el, line, _ = strings.Cut(line, ",")
		if el = trimOWS(el); el != "" {
			return el
		}
	}
	return ""
}

// maxDeltaDuration is MaxDelta seconds as a Duration.
const maxDeltaDuration = MaxDelta * time.Second

// capDelta caps a non-negative age at 2^31 seconds, as RFC 9111 §1.2.2
// asks when a calculation would overflow. Sums of two capped values
// stay far from time.Duration's limit.
func capDelta(d time.Duration) time.Duration { return min(d, maxDeltaDuration) }

// headerTime parses the first line of the named field as an HTTP-date
// ([ParseHTTPDate]; now places an rfc850-date's two-digit year).
func headerTime(h http.Header, name string, now time.Time) (time.Time, bool) {
	v := h[name]
	if len(v) == 0 {
		return time.Time{}, false
	}
	return ParseHTTPDate(trimOWS(v[0]), now)
}

func trimOWS(s string) string {
	for s != "" && isOWS(s[0]) {
		s = s[1:]
	}
	for s != "" && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// Age is the response's current_age at now (RFC 9111 §4.2.3):
// corrected_initial_age plus the time it has been resident in this cache.
// A now before ResponseTime (a clock step) counts as no residence.
func (m *Meta) Age(now time.Time) time.Duration {
	return capDelta(m.CorrectedInitialAge) + capDelta(max(0, now.Sub(m.ResponseTime)))
}

// IsFresh reports whether the response may be served at now without
// revalidation: its freshness lifetime exceeds its age (§4.2) and it
// does not carry an unqualified no-cache.
func (m *Meta) IsFresh(now time.Time) bool {
	return !m.NoCache && m.Lifetime > m.Age(now)
}

// TTL is the freshness left at now, Lifetime minus Age; negative once
// stale. It is lifetime arithmetic only: it ignores NoCache, which
// [Meta.IsFresh] does not.
func (m *Meta) TTL(now time.Time) time.Duration {
	return m.Lifetime - m.Age(now)
}

// Expires is the instant the response's age reaches its lifetime, so
// that for any now at or after ResponseTime, TTL(now) == Expires().Sub(now).
// Like TTL it ignores NoCache.
func (m *Meta) Expires() time.Time {
	return m.ResponseTime.Add(m.Lifetime - m.CorrectedInitialAge)
}

// mayServeStale reports whether any stale use is allowed at all: not
// under no-cache (§5.2.2.4) nor must-revalidate, proxy-revalidate or
// s-maxage (§5.2.2.2, §4.2.4: a cache must not serve stale when an
// explicit directive forbids it, and RFC 5861 §4 defers to that).
func (m *Meta) mayServeStale() bool {
	return !m.NoCache && !m.MustRevalidate
}

// StaleWhileRevalidateOK reports whether at now the response is stale but
// still inside its stale-while-revalidate window (RFC 5861 §3), so it may
// be served while a background revalidation runs.
func (m *Meta) StaleWhileRevalidateOK(now time.Time) bool {
	return m.withinStaleWindow(now, m.StaleWhileRevalidate)
}

// StaleIfErrorOK reports whether at now the response is stale but still
// inside its stale-if-error window (RFC 5861 §4), so it may be served when
// the upstream fails (an error or a 500, 502, 503 or 504).
func (m *Meta) StaleIfErrorOK(now time.Time) bool {
	return m.withinStaleWindow(now, m.StaleIfError)
}

// StaleIfUnreachableOK reports whether at now the response is stale but
// still inside a stale-if-unreachable window of the given length (the
// route's, as configured now: the one in Meta only decides how long it
// is kept), so it may be served when upstream cannot be reached at all;
// never a response that was not fresh on arrival.
func (m *Meta) StaleIfUnreachableOK(now time.Time, window time.Duration) bool {
	return m.Lifetime > m.CorrectedInitialAge && m.withinStaleWindow(now, window)
}

// withinStaleWindow reports Lifetime <= Age(now) < Lifetime + window.
func (m *Meta) withinStaleWindow(now time.Time, window time.Duration) bool {
	if !m.mayServeStale() || window <= 0 {
		return false
	}
	age := m.Age(now)
	return age >= m.Lifetime && age-m.Lifetime < window
}

// KeepUntil is how long the cache should retain the response: until it
// turns stale ([Meta.Expires]), plus the longest of
//   - its stale-while-revalidate and stale-if-error windows, and its
//     stale-if-unreachable window if it was fresh on arrival, when stale
//     use is allowed at all (not under no-cache or must-revalidate);
//   - for a response with a validator (ETag or Last-Modified), its
//     lifetime clamped to [1h, 24h], so it can be revalidated with a
//     cheap 304 rather than refetched. Even a response stale on arrival
//     (zero lifetime, or no-cache) is kept an hour for that.
//
// A response with neither is not worth keeping past Expires.
func (m *Meta) KeepUntil() time.Time {
	var extra time.Duration
	if m.mayServeStale() {
		extra = max(m.StaleWhileRevalidate, m.StaleIfError)
		if m.Lifetime > m.CorrectedInitialAge {
			// Only a response fresh on arrival: the cache's own grace must
			// not store what was never fresh (max-age=0, an Expires in the
			// past, no freshness at all), as Varnish gives such objects
			// no grace either.
			extra = max(extra, m.StaleIfUnreachable)
		}
	}
	if m.ETag != "" || m.LastModified != "" {
		extra = max(extra, min(max(m.Lifetime, minValidatorKeep), maxValidatorKeep))
	}
	return m.Expires().Add(extra)
}

// AgeHeader formats Age(now) as the Age field value: whole seconds,
// capped at 2^31 (RFC 9111 §5.1). Values below 100 come from strconv's
// internal table without allocating.
func (m *Meta) AgeHeader(now time.Time) string {
	return strconv.FormatInt(m.AgeSeconds(now), 10)
}

// AgeSeconds is Age(now) as the Age field carries it: whole seconds,
// capped at 2^31.
func (m *Meta) AgeSeconds(now time.Time) int64 {
	return min(max(int64(m.Age(now)/time.Second), 0), MaxDelta)
}

// Satisfies reports whether the stored response may answer a request
// carrying the request directives req without contacting upstream, at
// now (RFC 9111 §4.2 and §5.2.1): it must be fresh or, if the client's
// max-stale allows, stale within that limit (never under no-cache or
// must-revalidate); it must be no older than the client's max-age; and
// it must stay fresh for the client's min-fresh. A nil req means no
// request directives.
//
// Request no-cache and no-store, only-if-cached and Pragma are not
// handled here: whether a shared cache honours a client's no-cache is
// route policy, so the caller decides before calling.
func (m *Meta) Satisfies(req *Directives, now time.Time) bool {
	if m.NoCache {
		return false
	}
	age := m.Age(now)
	if req == nil {
		return m.Lifetime > age
	}
	if req.MaxAge >= 0 && age > time.Duration(req.MaxAge)*time.Second {
		return false
	}
	if req.MinFresh >= 0 && m.Lifetime-age < time.Duration(req.MinFresh)*time.Second {
		return false
	}
	if m.Lifetime > age {
		return true
	}
	if m.MustRevalidate {
		return false
	}
	return req.MaxStaleAny ||
		req.MaxStale >= 0 && age-m.Lifetime <= time.Duration(req.MaxStale)*time.Second
}
