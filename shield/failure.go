package shield

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
)

// What counts as a failure. A failed attempt is retried on the next shield
// in rendezvous order (then the origin) when the request may be retried
// (see mayRetry). Nothing has reached the client then: the edge writes
// nothing before RoundTrip returns, and bodies up to the retry buffer are
// read here first. Some failures also count against the shield's circuit
// breaker; those are the shield's own.
//
// The shield's own failures (breaker and retry):
//   - a transport error before the response headers: no connection
//     (refused, unreachable, connect timeout), a reset, a TLS failure, no
//     headers within header_timeout. Not when the request's own context
//     ended: that says nothing about the shield and is returned as is;
//   - a 502, 503 or 504 that does not show the shield forwarded anything:
//     no Cache-Status, or a last entry without "fwd" (a load balancer in
//     front of a dead shield, another product, a shield failing early);
//   - a body shorter than its Content-Length, within the retry buffer.
//
// Retried but not counted against the breaker:
//   - a 502, 503 or 504 the shield generated after forwarding: its last
//     Cache-Status entry has "fwd" but neither "hit" nor "fwd-status". The
//     shield could not get an answer from the origin. Another shield (or
//     the edge itself) may reach it, but the shield works and keeps serving
//     what it holds, stale-if-error included: opening its circuit would
//     send those keys to the failing origin.
//
// Every other response is an answer and goes to the client as is: a 502,
// 503 or 504 with "hit" or "fwd-status" (the origin's own answer, relayed
// or cached: another shield would only ask the same origin again), 500,
// 508 (a loop), 4xx and the rest.

// verdict is what one attempt's response says.
type verdict int8

const (
	answered     verdict = iota // a response to hand on
	shieldFailed                // the shield failed: breaker and retry
	originFailed                // the shield's upstream failed: retry only
)

// judge classifies resp and gives the failure reason label, if any.
func judge(resp *http.Response) (verdict, string) {
	return judgeStatus(resp.StatusCode, resp.Header)
}

// OriginUnreachable reports whether a response of status code with
// header h is a shield's own error saying it could not get an answer
// from its upstream (see judge): a 502, 503 or 504 whose last
// Cache-Status entry shows the shield forwarded, with neither hit nor
// fwd-status. An edge may then serve what it holds as it would if the
// origin were unreachable from it.
func OriginUnreachable(code int, h http.Header) bool {
	v, _ := judgeStatus(code, h)
	return v == originFailed
}

// judgeStatus is judge for a response's status code and header.
func judgeStatus(code int, h http.Header) (verdict, string) {
	switch code {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return answered, ""
	}
	lines := h["Cache-Status"]
	if len(lines) == 0 {
		return shieldFailed, reasonStatus
	}
	// The shield's own entry is the last one (RFC 9211 §2: the cache
	// nearest the recipient comes last).
	last := lines[len(lines)-1]
	if i := lastTopLevelComma(last); i >= 0 {
		last = last[i+1:]
	}
	_, params, _ := strings.Cut(last, ";")
	forwarded := false
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, _, _ := strings.Cut(p, "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "hit", "fwd-status":
			return answered, ""
		case "fwd":
			forwarded = true
		}
	}
	if forwarded {
		return originFailed, reasonUpstream
	}
	return shieldFailed, reasonStatus
}

// lastTopLevelComma returns the index of the last comma of s that is not
// inside a quoted string, or -1.
func lastTopLevelComma(s string) int {
	last, quoted := -1, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				last = i
			}
		}
	}
	return last
}

// reasonOf classifies a transport error.
func reasonOf(err error) string {
	var ce *connectError
	if errors.As(err, &ce) {
		return reasonConnect
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return reasonTimeout
	}
	return reasonError
}

// connectError marks a failure to connect to a shield: nothing was sent.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// mayRetry reports whether req, having failed on a shield for reason, may
// be sent again elsewhere. GET and HEAD may, on any failure; a request
// with another method only when it never left (no connection). Never a
// request with a body: the failed attempt has consumed and closed it.
func mayRetry(req *http.Request, reason string) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return true
	}
	return reason == reasonConnect
}
