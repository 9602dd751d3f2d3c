package cache

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/popcache/popcache/conf"
)

// imsSkew is how far in the future an If-Modified-Since may be and still
// count: clocks a little ahead of ours are common.
const imsSkew = time.Minute

// NotModified reports whether a client's conditional GET or HEAD should be
// answered with 304 from the stored response m (RFC 9110 §13.2.2, as a
// cache applies it per RFC 9111 §4.3.2). The caller checks the method.
//
// Only If-None-Match and If-Modified-Since are evaluated: If-Match and
// If-Unmodified-Since apply to origin servers, not caches (§4.3.2). A
// stored status other than 2xx ignores all conditionals (RFC 9110 §13.2.1).
//   - If-None-Match, when present, decides alone: 304 when "*" or any
//     listed entity-tag matches m.ETag by weak comparison (§8.8.3.2).
//   - Otherwise If-Modified-Since, when it is a single valid HTTP-date
//     no later than now, give or take a minute of clock skew (a date in
//     the future is a client's clock gone wrong, and is ignored as Apache
//     and IIS ignore it): 304 when the
//     stored response was last modified at or before that date. Without
//     Last-Modified, the stored Date stands in, or else the time the
//     response was received (RFC 9111 §4.3.2).
func NotModified(reqHeader http.Header, m *Meta, now time.Time) bool {
	if m.Status < 200 || m.Status > 299 {
		return false
	}
	if inm, ok := reqHeader["If-None-Match"]; ok {
		return noneMatchFails(inm, m.ETag)
	}
	ims := reqHeader["If-Modified-Since"]
	if len(ims) != 1 {
		return false
	}
	// The request's own time would place an rfc850-date's two-digit year;
	// the stored response's is as good within the 50-year window.
	since, ok := ParseHTTPDate(trimOWS(ims[0]), m.ResponseTime)
	if !ok || since.After(now.Add(imsSkew)) {
		return false
	}
	modified, ok := ParseHTTPDate(m.LastModified, m.ResponseTime)
	if !ok {
		modified, ok = headerTime(m.Header, "Date", m.ResponseTime)
	}
	if !ok {
		modified = m.ResponseTime
	}
	return !modified.After(since)
}

// noneMatchFails reports whether an If-None-Match field (its lines)
// evaluates to false against the stored entity-tag etag: "*" or any
// member matching it by weak comparison. Malformed members are skipped.
func noneMatchFails(lines []string, etag string) bool {
	stored, _ := opaqueTag(etag)
	for _, line := range lines {
		for i := 0; i < len(line); {
			c := line[i]
			if c == ',' || isOWS(c) {
				i++
				continue
			}
			if c == '*' {
				return true
			}
			member := line[i:]
			if end := etagEnd(member); end > 0 {
				if tag, _ := opaqueTag(member[:end]); tag == stored && stored != "" {
					return true
				}
				i += end
				continue
			}
			// Not an entity-tag: skip to the next comma.
			if j := strings.IndexByte(member, ','); j >= 0 {
				i += j + 1
			} else {
				i = len(line)
			}
		}
	}
	return false
}

// etagEnd returns the length of the entity-tag ( [W/] DQUOTE *etagc DQUOTE )
// at the start of s, or 0 when s does not start with one.
func etagEnd(s string) int {
	i := 0
	if strings.HasPrefix(s, "W/") {
		i = 2
	}
	if i >= len(s) || s[i] != '"' {
		return 0
	}
	j := strings.IndexByte(s[i+1:], '"')
	if j < 0 {
		return 0
	}
	return i + 1 + j + 1
}

// opaqueTag splits an entity-tag into its quoted opaque part and whether
// it is strong. ok is false for a malformed entity-tag.
func opaqueTag(etag string) (opaque string, strong bool) {
	etag = trimOWS(etag)
	strong = !strings.HasPrefix(etag, "W/")
	opaque = strings.TrimPrefix(etag, "W/")
	if len(opaque) < 2 || opaque[0] != '"' || opaque[len(opaque)-1] != '"' ||
		strings.IndexByte(opaque[1:len(opaque)-1], '"') >= 0 {
		return "", false
	}
	return opaque, strong
}

// NotModifiedHeaders returns the names of the stored fields a 304 built
// from a stored response carries (RFC 9110 §15.4.5): Cache-Control,
// Content-Location, Date, ETag, Expires and Vary, plus Last-Modified,
// which helps caches downstream when there is no ETag. The slice is
// the caller's.
func NotModifiedHeaders() []string {
	return []string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Vary", "Last-Modified"}
}

// AddValidators makes out, the header of a request to upstream, a
// revalidation of the stored response m (RFC 9111 §4.3.1): If-None-Match
// with its ETag and If-Modified-Since with its Last-Modified, each when
// present. The conditionals of the client's own request (If-Match,
// If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range) are
// removed first: the question upstream is about the stored response, not
// about the client's copy.
func AddValidators(out http.Header, m *Meta) {
	for _, name := range [...]string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		delete(out, name)
	}
	if m.ETag != "" {
		out["If-None-Match"] = []string{m.ETag}
	}
	if m.LastModified != "" {
		out["If-Modified-Since"] = []string{m.LastModified}
	}
}

// Freshen updates the stored response old with a 304 received at
// responseTime for a revalidation sent at requestTime (RFC 9111 §4.3.3,
// §4.3.4, §3.2). matched is false when the 304 is not about old: it
// carries a strong ETag that is not old's (strong comparison), a weak one
// that does not weakly match, or a Last-Modified different from old's.
// The caller then refetches without conditionals; fresh and v are zero. A 304 without any
// validator is taken to answer the conditional the cache built from old
// (RFC 9111 only requires that for a stored response without validators;
// origins commonly omit them).
//
// When matched, the returned Meta is old with the 304's header fields
// replacing stored ones, except Content-Length, Age, Vary (the response
// was selected by its Vary; changing it would orphan it) and hop-by-hop
// fields. Freshness, age inputs and validators are recomputed from the
// merged header as [Evaluate] computes them; status, body size and Vary
// key are kept. The verdict re-applies the response-side storage rules:
// if the 304 now says no-store or private, the caller may serve the
// result to this client but must drop the stored response.
func Freshen(old *Meta, h304 http.Header, requestTime, responseTime time.Time,
	pol *conf.EffectivePolicy) (fresh Meta, v Verdict, matched bool) {
	if !validatorsMatch(old, h304) {
		return Meta{}, Verdict{}, false
	}
	merged := make(http.Header, len(old.Header)+len(old.Targeted)+len(h304)+1)
	for k, vs := range old.Header {
		merged[k] = vs // stored slices are immutable; sharing them is safe
	}
	for k, vs := range old.Targeted {
		merged[k] = vs
	}
	connection := h304["Connection"]
	for k, vs := range h304 {
		if excludedFromUpdate(k) || listedIn(connection, k) {
			continue
		}
		merged[k] = slices.Clone(vs)
	}
	if len(h304["Date"]) == 0 {
		// The 304's own time; the stored Date would skew Expires − Date.
		merged["Date"] = []string{responseTime.UTC().Format(http.TimeFormat)}
	}

	m := Meta{
		Status:       old.Status,
		RequestTime:  requestTime,
		ResponseTime: responseTime,
		VaryFields:   old.VaryFields,
		VaryKey:      old.VaryKey,
		BodySize:     old.BodySize,
	}
	if pol == nil || !pol.Enabled {
		pol, v = &conf.EffectivePolicy{}, refuse(ReasonDisabled)
	}
	d, targeted := responseDirectives(merged, pol)
	if v.Reason == "" {
		if r := responseRefusal(m.Status, merged, &d, pol); r != "" {
			v = refuse(r)
		} else {
			v = Verdict{Storable: true}
		}
	}
	m.setFreshness(merged, &d, targeted, pol)
	m.CorrectedInitialAge = correctedInitialAge(h304, requestTime, responseTime)
	m.Header, m.Targeted = stripStored(merged, &d, pol, responseTime)
	m.setValidators()
	return m, v, true
}

// excludedFromUpdate lists the fields a 304 never replaces (§3.2).
func excludedFromUpdate(name string) bool {
	switch name {
	case "Content-Length", "Age", "Vary":
		return true
	}
	hop := hopByHopFields()
	return slices.Contains(hop[:], name)
}

// listedIn reports whether canonical field name is a member of the
// Connection lines.
func listedIn(lines []string, name string) bool {
	for _, line := range lines {
		for line != "" {
			var el string
			el, line, _ = strings.Cut(line, ",")
			if el = trimOWS(el); el != "" && textproto.CanonicalMIMEHeaderKey(el) == name {
				return true
			}
		}
	}
	return false
}

// validatorsMatch reports whether a 304 identifies old for update
// (§4.3.4): see [Freshen].
func validatorsMatch(old *Meta, h304 http.Header) bool {
	if e := trimOWS(h304.Get("Etag")); e != "" {
		got, gotStrong := opaqueTag(e)
		have, haveStrong := opaqueTag(old.ETag)
		if got == "" || got != have {
			return false
		}
		return !gotStrong || haveStrong // a strong 304 tag needs a strong stored one
	}
	if lm := trimOWS(h304.Get("Last-Modified")); lm != "" && old.LastModified != "" && lm != old.LastModified {
		t1, ok1 := ParseHTTPDate(lm, old.ResponseTime)
		t2, ok2 := ParseHTTPDate(old.LastModified, old.ResponseTime)
		return ok1 && ok2 && t1.Equal(t2)
	}
	return true
}
