// Package edge serves clients: listeners, the request pipeline (route, key,
// lookup, coalesced fill, revalidation, pass-through), hop-by-hop handling,
// response writing and the mapping of errors to statuses. Plain HTTP/1.1
// hits are answered by a fast path in front of net/http (h1fast.go), on
// Linux from event loops while a plain connection waits for a request
// (h1fast_poll_linux.go).
package edge
