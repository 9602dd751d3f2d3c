package cache

import (
	"net/http"
	"time"
)

// Meta is what the cache keeps about a stored response besides its body:
// the status, the headers to replay, and the inputs of the freshness and
// age calculations of RFC 9111 §4.2, computed once when the response is
// stored (or freshened by a 304) so that a hit only does arithmetic.
type Meta struct {
	// Status is the stored response's status code.
	Status int
	// Header holds the stored response header fields, with hop-by-hop
	// fields already removed. Age is never stored here; it is computed.
	// The map and its slices are shared by every hit and must not be
	// modified after the Meta is stored.
	Header http.Header
	// Targeted holds the targeted cache-control fields (CDN-Cache-Control
	// and the like, RFC 9213) that policy removed from Header so clients
	// never see them. They are kept, never served, so that freshening the
	// response with a 304 that omits them still obeys them. Nil when
	// nothing was removed.
	Targeted http.Header

	// RequestTime and ResponseTime are when the upstream request was sent
	// and its response received (RFC 9111 §4.2.3 request_time and
	// response_time).
	RequestTime  time.Time
	ResponseTime time.Time
	// CorrectedInitialAge is corrected_initial_age of §4.2.3.
	CorrectedInitialAge time.Duration
	// Lifetime is the freshness lifetime (§4.2.1), possibly heuristic or a
	// policy default; zero means stale on arrival (store to revalidate).
	Lifetime time.Duration
	// Heuristic is true when Lifetime came from the Last-Modified heuristic
	// or a policy default rather than from the response.
	Heuristic bool

	// StaleWhileRevalidate and StaleIfError are the RFC 5861 windows past
	// Lifetime, from the response or the policy defaults.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// StaleIfUnreachable is the route policy's window past Lifetime in
	// which the response may be served when upstream cannot be reached
	// (RFC 9111 §4.2.4: a disconnected cache), as it was when stored: it
	// only decides how long the response is kept ([Meta.KeepUntil]); the
	// route's window as configured now decides whether it is served. It
	// is not encoded for the disk tier.
	StaleIfUnreachable time.Duration
	// MustRevalidate is set by must-revalidate, proxy-revalidate or
	// s-maxage: once stale, the response is never served without a
	// successful revalidation (§5.2.2.2), not even under stale-if-error.
	MustRevalidate bool
	// NoCache is set by an unqualified no-cache (§5.2.2.4): the response
	// is stored but every use needs a successful revalidation.
	NoCache bool

	// VaryFields are the canonical names listed in the response's Vary,
	// sorted and deduplicated; nil when the response does not vary.
	VaryFields []string
	// VaryKey is the normalised values of VaryFields in the request that
	// produced the response (see [VaryKey]).
	VaryKey string

	// ETag and LastModified are the validators, for revalidation and for
	// answering clients' conditional requests.
	ETag         string
	LastModified string

	// BodySize is the length of the stored body in bytes.
	BodySize int64
}
