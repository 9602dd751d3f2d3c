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
}

// removeHopHeaders deletes hop-by-hop fields from h, those listed in its
// Connection field first.
func removeHopHeaders(h http.Header) {
	for _, line := range h["Connection"] {
		for line != "" {
			var name string
			name, line, _ = strings.Cut(line, ",")
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name)
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
