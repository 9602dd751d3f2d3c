package cache

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/popcache/popcache/conf"
)

// Reasons a response is not stored, as [Verdict.Reason]. Each is a short
// token fit for the detail parameter of Cache-Status (RFC 9211).
const (
	ReasonDisabled       = "disabled"         // the route's policy turns caching off
	ReasonMethod         = "method"           // only GET responses are stored
	ReasonStatus         = "status"           // interim, 206, 304 or out-of-range status
	ReasonRequestNoStore = "request-no-store" // the request said no-store (§5.2.1.5)
	ReasonNoStore        = "no-store"         // the response said no-store (§5.2.2.5)
	ReasonMustUnderstand = "must-understand"  // must-understand on a status this cache does not implement
	ReasonPrivate        = "private"          // unqualified private (§5.2.2.7)
	ReasonAuthorization  = "authorization"    // request Authorization without public, must-revalidate or s-maxage (§3.5)
	ReasonSetCookie      = "set-cookie"       // Set-Cookie, and the policy does not allow it
	ReasonVaryStar       = "vary-star"        // Vary: * (RFC 9110 §12.5.5)
	ReasonNoFreshness    = "no-freshness"     // no explicit freshness, not public, status not heuristically cacheable
	ReasonCookie         = "cookie"           // a page or document answering a request with Cookie, and no explicit freshness or public
)

// Verdict says whether a response may be stored and, if not, why.
type Verdict struct {
	// Storable is true when the response may be stored.
	Storable bool
	// Reason is one of the Reason constants when Storable is false, and
	// empty when it is true.
	Reason string
}

func refuse(reason string) Verdict { return Verdict{Reason: reason} }

// Evaluate applies RFC 9111 §3 (storing responses) and §4.2 (freshness)
// for this shared cache to a response received at responseTime for a
// request sent at requestTime, under the route's policy. When the verdict
// is storable, the Meta is ready to store; otherwise it is the zero Meta.
// A nil pol counts as caching disabled. Evaluate does not modify its
// arguments; the Meta's header is a copy.
//
// Which directives it obeys: the first field of pol.TargetedHeaders that
// is present with a valid, non-empty value (RFC 9213 §2.2; see
// [responseDirectives]), in which case Cache-Control and Expires are
// ignored; otherwise Cache-Control.
// Request directives come from Cache-Control only.
//
// The stored response is not: for a method other than GET; with an
// interim, 206 (ranges are not cached) or 304 (see [Freshen]) status;
// when the request or response says no-store (a response's no-store is
// overridden by must-understand on a status this cache implements); when
// it says private without a field list; for a request with Authorization
// unless the response says public, must-revalidate or s-maxage; with a
// Set-Cookie the policy does not allow; with Vary: *; and when it has no
// explicit freshness, is not public and its status is not heuristically
// cacheable.
//
// The freshness lifetime (§4.2.1) is, by precedence: s-maxage; max-age;
// Expires minus Date (stale when Expires is invalid or conflicting
// Expires lines disagree; a missing or invalid Date counts as
// responseTime); then, for heuristically cacheable statuses,
// pol.DefaultTTL when positive, or pol.HeuristicFraction of the time
// since Last-Modified capped at pol.HeuristicMax (§4.2.2); for a
// public response of any other status, that Last-Modified heuristic
// only. A response with none of these is stored stale, to be
// revalidated.
func Evaluate(method string, reqHeader http.Header, status int, respHeader http.Header,
	requestTime, responseTime time.Time, pol *conf.EffectivePolicy) (Meta, Verdict) {
	switch {
	case pol == nil || !pol.Enabled:
		return Meta{}, refuse(ReasonDisabled)
	case method != http.MethodGet:
		return Meta{}, refuse(ReasonMethod)
	case !storableStatus(status):
		return Meta{}, refuse(ReasonStatus)
	}
	if cc := reqHeader["Cache-Control"]; len(cc) > 0 && ParseDirectives(cc).NoStore {
		return Meta{}, refuse(ReasonRequestNoStore)
	}
	d, targeted := responseDirectives(respHeader, pol)
	if r := responseRefusal(status, respHeader, &d, pol); r != "" {
		return Meta{}, refuse(r)
	}
	if len(reqHeader["Authorization"]) > 0 && !d.Public && !d.MustRevalidate && d.SMaxAge < 0 {
		return Meta{}, refuse(ReasonAuthorization)
	}
	explicit := d.SMaxAge >= 0 || d.MaxAge >= 0 || !targeted && len(respHeader["Expires"]) > 0
	if !explicit && !d.Public && !heuristicStatus(status) {
		return Meta{}, refuse(ReasonNoFreshness)
	}
	// A page or document answering a request with cookies, which says
	// nothing of its freshness, may be that user's own: at an origin that
	// ignores a path's suffix, /account/profile.css is the account page
	// (web cache deception). Only the origin's word shares it, never a
	// guessed lifetime (heuristic or default_ttl). Static types (styles,
	// scripts, images, fonts), which browsers fetch with cookies too,
	// keep their guessed lifetimes.
	if !explicit && !d.Public && len(reqHeader["Cookie"]) > 0 && documentType(respHeader) {
		return Meta{}, refuse(ReasonCookie)
	}

	m := Meta{Status: status, RequestTime: requestTime, ResponseTime: responseTime}
	m.setFreshness(respHeader, &d, targeted, pol)
	m.CorrectedInitialAge = correctedInitialAge(respHeader, requestTime, responseTime)
	h := respHeader.Clone()
	if h == nil {
		h = make(http.Header, 1)
	}
	m.Header, m.Targeted = stripStored(h, &d, pol, responseTime)
	m.VaryFields, _ = VaryFields(m.Header)
	m.VaryKey = VaryKey(m.VaryFields, reqHeader)
	m.setValidators()
	return m, Verdict{Storable: true}
}

// responseRefusal applies the storage rules that depend on the response
// alone (shared by Evaluate and Freshen) and returns a Reason, or "".
func responseRefusal(status int, h http.Header, d *Directives, pol *conf.EffectivePolicy) string {
	switch {
	case d.MustUnderstand && !understoodStatus(status):
		return ReasonMustUnderstand
	case d.NoStore && !d.MustUnderstand: // §5.2.2.3: must-understand overrides no-store
		return ReasonNoStore
	case d.Private:
		return ReasonPrivate
	case !pol.AllowSetCookie && len(h["Set-Cookie"]) > 0 &&
		!slices.Contains(d.PrivateFields, "Set-Cookie") && !slices.Contains(d.NoCacheFields, "Set-Cookie"):
		// Set-Cookie listed in private= or no-cache= is dropped from the
		// stored header, so the rest of the response may be shared.
		return ReasonSetCookie
	case varyStar(h):
		return ReasonVaryStar
	}
	return ""
}

// varyStar reports whether a Vary line has a "*" member, without allocating.
func varyStar(h http.Header) bool {
	for _, line := range h["Vary"] {
		for line != "" {
			var el string
			el, line, _ = strings.Cut(line, ",")
			if trimOWS(el) == "*" {
				return true
			}
		}
	}
	return false
}

// setFreshness fills in the freshness lifetime and the directives that
// govern reuse, from response header h and its directives d.
func (m *Meta) setFreshness(h http.Header, d *Directives, targeted bool, pol *conf.EffectivePolicy) {
	switch {
	case d.SMaxAge >= 0:
		m.Lifetime = time.Duration(d.SMaxAge) * time.Second
	case d.MaxAge >= 0:
		m.Lifetime = time.Duration(d.MaxAge) * time.Second
	case !targeted && len(h["Expires"]) > 0:
		m.Lifetime = expiresLifetime(h, m.ResponseTime)
	case heuristicStatus(m.Status) && pol.DefaultTTL > 0:
		m.Lifetime, m.Heuristic = pol.DefaultTTL, true
	case heuristicStatus(m.Status) || d.Public:
		// §4.2.2 allows heuristics on "responses without explicit
		// freshness that have been marked as explicitly cacheable (e.g.,
		// with a public response directive)", whatever their status.
		// Only the Last-Modified heuristic, which rests on the
		// response's own history: DefaultTTL is the route's stand-in for
		// the statuses RFC 9110 calls heuristically cacheable, and would
		// otherwise hand a fixed lifetime to every public 5xx.
		m.Lifetime = heuristicLifetime(h, m.ResponseTime, pol)
		m.Heuristic = m.Lifetime > 0
	}
	m.MustRevalidate = d.MustRevalidate || d.ProxyRevalidate || d.SMaxAge >= 0
	m.NoCache = d.NoCache
	m.StaleWhileRevalidate = pol.StaleWhileRevalidate
	if d.StaleWhileRevalidate >= 0 {
		m.StaleWhileRevalidate = time.Duration(d.StaleWhileRevalidate) * time.Second
	}
	m.StaleIfError = pol.StaleIfError
	if d.StaleIfError >= 0 {
		m.StaleIfError = time.Duration(d.StaleIfError) * time.Second
	}
	m.StaleIfUnreachable = pol.StaleIfUnreachable
}

// expiresLifetime is Expires minus Date (§4.2.1), or 0 when Expires is
// invalid or Expires lines disagree (§4.2.1 lets duplicates mean stale).
// A missing or invalid Date counts as responseTime (see [responseDate]).
func expiresLifetime(h http.Header, responseTime time.Time) time.Duration {
	exp := h["Expires"]
	for _, e := range exp[1:] {
		if trimOWS(e) != trimOWS(exp[0]) {
			return 0
		}
	}
	expires, ok := ParseHTTPDate(trimOWS(exp[0]), responseTime)
	if !ok {
		return 0
	}
	return capDelta(max(0, expires.Sub(responseDate(h, responseTime))))
}

// responseDate is the response's date_value: its Date, or responseTime
// when Date is missing or invalid. RFC 9110 §6.6.1 has a recipient
// record the time a response without Date was received, and lets it
// replace an invalid Date with that time; RFC 9111 §4.2.3 then uses it
// as date_value, as [correctedInitialAge] does. An unparsable Date is
// the origin's clock failing, not a sign that the response is stale.
func responseDate(h http.Header, responseTime time.Time) time.Time {
	if date, ok := headerTime(h, "Date", responseTime); ok {
		return date
	}
	return responseTime
}

// heuristicLifetime is pol.HeuristicFraction of Date minus Last-Modified,
// capped at pol.HeuristicMax (§4.2.2), or 0 without a usable
// Last-Modified before Date.
func heuristicLifetime(h http.Header, responseTime time.Time, pol *conf.EffectivePolicy) time.Duration {
	lm, ok := headerTime(h, "Last-Modified", responseTime)
	if !ok || !(pol.HeuristicFraction > 0) || pol.HeuristicMax <= 0 {
		return 0
	}
	date := responseDate(h, responseTime)
	if !lm.Before(date) {
		return 0
	}
	f := float64(date.Sub(lm)) * pol.HeuristicFraction
	if f >= float64(pol.HeuristicMax) {
		return pol.HeuristicMax
	}
	return time.Duration(f)
}

// stripStored turns h, which the caller owns, into the header to store
// (§3.1): without Age (computed at each hit), hop-by-hop fields and those
// named in Connection, fields named by private="..." or no-cache="..."
// (a shared cache must not store them), and, when the policy says so,
// the targeted fields, which are moved to the returned targeted header.
// A missing Date is added as responseTime (RFC 9110 §6.6.1).
func stripStored(h http.Header, d *Directives, pol *conf.EffectivePolicy, responseTime time.Time) (stored, targeted http.Header) {
	for _, line := range h["Connection"] {
		for line != "" {
			var el string
			el, line, _ = strings.Cut(line, ",")
			if el = trimOWS(el); el != "" {
				delete(h, textproto.CanonicalMIMEHeaderKey(el))
			}
		}
	}
	for _, name := range hopByHopFields() {
		delete(h, name)
	}
	delete(h, "Age")
	for _, name := range d.PrivateFields {
		delete(h, name)
	}
	for _, name := range d.NoCacheFields {
		delete(h, name)
	}
	if pol.StripTargetedHeaders {
		for _, name := range pol.TargetedHeaders {
			name = textproto.CanonicalMIMEHeaderKey(name)
			if v, ok := h[name]; ok {
				if targeted == nil {
					targeted = make(http.Header, 1)
				}
				targeted[name] = v
				delete(h, name)
			}
		}
	}
	if len(h["Date"]) == 0 {
		h["Date"] = []string{responseTime.UTC().Format(http.TimeFormat)}
	}
	return h, targeted
}

// hopByHopFields lists the hop-by-hop fields (RFC 9110 §7.6.1, plus the
// legacy ones net/http/httputil also drops), canonical. It returns an
// array so the list is an immutable value.
func hopByHopFields() [9]string {
	return [...]string{
		"Connection",
		"Keep-Alive",
		"Proxy-Authenticate",
		"Proxy-Authorization",
		"Proxy-Connection", // non-standard, still sent by old clients
		"Te",
		"Trailer",
		"Transfer-Encoding",
		"Upgrade",
	}
}

// setValidators copies the validators from the stored header.
func (m *Meta) setValidators() {
	m.ETag = trimOWS(m.Header.Get("Etag"))
	m.LastModified = trimOWS(m.Header.Get("Last-Modified"))
}

// storableStatus reports whether Evaluate may store a response with this
// status: final, and neither 206 (ranges are not cached) nor 304.
func storableStatus(status int) bool {
	return status >= 200 && status <= 599 &&
		status != http.StatusPartialContent && status != http.StatusNotModified
}

// heuristicStatus reports whether a status is heuristically cacheable
// (RFC 9110 §15.1): cacheable without explicit freshness.
func heuristicStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus reports whether this cache implements the caching
// requirements of a status code, for must-understand (§5.2.2.3): the
// final codes of RFC 9110 other than 206 and 304, which it never stores
// from Evaluate.
func understoodStatus(status int) bool {
	switch {
	case status >= 200 && status <= 205,
		status >= 300 && status <= 303, status == 305, status == 307, status == 308,
		status >= 400 && status <= 417, status == 421, status == 422, status == 426,
		status >= 500 && status <= 505:
		return true
	}
	return false
}

// documentType reports whether a response is a page or document, the
// kind a user's own data comes in: HTML, JSON, XML (+json and +xml types
// included), or a response that names no type at all.
func documentType(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return true
	}
	mt, _, _ := strings.Cut(ct[0], ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch mt {
	case "", "text/html", "application/xhtml+xml", "application/json", "application/xml", "text/xml":
		return true
	}
	return strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")
}
