package edge

import (
	"net/http"
	"strings"
)

// hopHeaders are the hop-by-hop fields removed from every message the node
// forwards, in either direction (RFC 9110 §7.6.1), plus the legacy ones
// proxies have always removed. Fields named in Connection go too.
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection", // non-standard, sent by old clients
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",      // the request's TE; "trailers" is re-added by the transport when it can
	"Trailer", // trailers are not forwarded
	"Transfer-Encoding",
	"Upgrade",
	"Http2-Settings", // the h2c upgrade's, connection-specific (RFC 7540 §3.2.1)
}

// removeHopHeaders deletes hop-by-hop fields from h, those listed in its
// Connection field first.
func removeHopHeaders(h http.Header) {
	dropNominated(h)
	for _, name := range hopHeaders {
		delete(h, name)
	}
}

// dropNominated deletes the fields that h's Connection field names
// (RFC 9110 §7.6.1), keeping Connection itself: they are meant for this
// hop alone. A request's must go before anything reads them (the cache
// key, Vary): the origin never sees them, so the answer it gives without
// them must not be stored as the answer for their values.
func dropNominated(h http.Header) {
	for _, line := range h["Connection"] {
		for line != "" {
			var name string
			name, line, _ = strings.Cut(line, ",")
			if name = strings.TrimSpace(name); name != "" && !strings.EqualFold(name, "Connection") {
				h.Del(name)
			}
		}
	}
}

// upstreamOnly are response fields that describe the upstream server, not
// this node, and are never passed on to clients: an origin's Alt-Svc would
// send clients away from the node (ours is set by the listener front).
var upstreamOnly = [...]string{"Alt-Svc"}

// removeUpstreamOnly deletes upstreamOnly fields from a response header.
func removeUpstreamOnly(h http.Header) {
	for _, name := range upstreamOnly {
		delete(h, name)
	}
}
