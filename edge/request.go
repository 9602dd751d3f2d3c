package edge

import (
	"net/http"
	"time"

	"github.com/popcache/popcache/routing"
)

// Request is the typed state of one client request as it moves through the
// phases; hooks read it (pingora's CTX, not a string-keyed bag).
type Request struct {
	// In is the client's request. Hooks must not modify it.
	In *http.Request
	// Route is the matched route; nil before routing or when none matched.
	Route *routing.Route
	// Key is the primary cache key; "" for requests that are not looked up.
	Key string
	// Start is when the request entered the pipeline.
	Start time.Time

	// Code is the status written to the client (0 until written).
	Code int
	// BodyBytes counts response body bytes written.
	BodyBytes int64
	// Result is the cache result: hit, stale, miss, pass, bypass, error or
	// synthetic.
	Result string
	// Err is the error that ended the request, if any.
	Err error

	status cacheStatus
}

// Hooks customise the request phases, in the order they run. A nil hook
// does nothing. Setting RequestFilter, ResponseFilter or Logging turns the
// HTTP/1.1 fast path off (h1fast.go): it answers hits without running them.
type Hooks struct {
	// RequestFilter runs first, before routing. Returning true means it
	// has written a response itself and the pipeline stops.
	RequestFilter func(rq *Request, w http.ResponseWriter) (handled bool)
	// UpstreamRequest runs on every request sent upstream (fills,
	// revalidations, passes), after hop-by-hop fields are removed and
	// forwarding fields added, so nothing the hook sets is undone.
	UpstreamRequest func(rq *Request, out *http.Request) error
	// UpstreamResponse runs on every upstream response before the cache
	// decides to store it: edits here are cached.
	UpstreamResponse func(rq *Request, resp *http.Response) error
	// ResponseFilter runs for every response, hits included, just before
	// the status line is written. The header map holds slices shared with
	// the cache: replace a field's slice, never modify it in place.
	ResponseFilter func(rq *Request, h http.Header)
	// Logging runs once, when the response is done.
	Logging func(rq *Request)
}
