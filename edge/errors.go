package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/popcache/popcache/routing"
)

// statusClientClosed is recorded (never sent) when the client went away
// before its response could be written, as nginx logs 499.
const statusClientClosed = 499

// clientGone records rq as one whose client went away (499, as nginx
// logs it) and ends its handler without an answer. net/http cancels a
// request's context when the client closes or half-closes its side:
// returning normally would let net/http answer 200 with an empty body,
// a response that looks whole; aborting closes the connection (or
// resets the stream) instead.
func clientGone(rq *Request, err error) {
	rq.Err, rq.Code, rq.Result = err, statusClientClosed, "error"
	panic(http.ErrAbortHandler)
}

// Errors the pipeline answers with a fixed status.
var (
	errNoRoute      = &statusError{http.StatusNotFound, "no route for this host", "no-route"}
	errMethod       = &statusError{http.StatusMethodNotAllowed, "method not allowed", "method"}
	errURITooLong   = &statusError{http.StatusRequestURITooLong, "request target too long", "uri-too-long"}
	errBadTarget    = &statusError{http.StatusBadRequest, "bad request target", "bad-target"}
	errBodyTooLarge = &statusError{http.StatusRequestEntityTooLarge, "request body too large", "body-too-large"}
	errOnlyIfCached = &statusError{http.StatusGatewayTimeout, "not in cache (only-if-cached)", "only-if-cached"}
)

// allowedMethods is the Allow field of a 405: the edge refuses TRACE and
// CONNECT itself and forwards the rest.
const allowedMethods = "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE"

// statusError is an error with the status and Cache-Status detail that
// answer it.
type statusError struct {
	code   int
	msg    string
	detail string
}

func (e *statusError) Error() string { return "edge: " + e.msg }

// upstreamError wraps a failure to get a response from upstream.
type upstreamError struct{ err error }

func (e *upstreamError) Error() string { return "edge: upstream: " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// classify maps an error to the status and detail the client gets, in one
// place: request problems are 4xx, upstream timeouts 504, other upstream
// failures 502, anything else 500.
func classify(err error) (int, string) {
	var se *statusError
	if errors.As(err, &se) {
		return se.code, se.detail
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "body-too-large"
	}
	var ne net.Error
	if routing.IsRequestBodyError(err) { // malformed chunks, a client gone quiet
		if errors.As(err, &ne) && ne.Timeout() {
			return http.StatusRequestTimeout, "request-timeout"
		}
		return http.StatusBadRequest, "bad-request-body"
	}
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return http.StatusGatewayTimeout, "upstream-timeout"
	}
	var ue *upstreamError
	if errors.As(err, &ue) {
		return http.StatusBadGateway, "upstream-error"
	}
	return http.StatusInternalServerError, "internal-error"
}

// fail answers a request with the status its error maps to, and a short
// plain-text body. Nothing is written if the response has started.
func (s *Server) fail(w http.ResponseWriter, rq *Request, err error) {
	code, detail := classify(err)
	rq.Err = err
	rq.Code = code
	if rq.Result == "" {
		rq.Result = "error"
		if code < 500 {
			rq.Result = "synthetic"
		}
	}
	if code >= 500 {
		s.log.Warn("request failed", "host", rq.In.Host, "uri", rq.In.RequestURI, "status", code, "err", err)
	}
	if rq.status.detail == "" || code >= 500 {
		rq.status.detail = detail
	}
	h := w.Header()
	for k := range h {
		if k != "Connection" {
			delete(h, k)
		}
	}
	body := strconv.Itoa(code) + " " + http.StatusText(code) + "\n"
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["Cache-Control"] = []string{"no-store"}
	if code == http.StatusMethodNotAllowed {
		h["Allow"] = []string{allowedMethods} // RFC 9110 §15.5.6: a 405 lists them
	}
	s.setCacheStatus(h, rq, nil)
	w.WriteHeader(code)
	if rq.In.Method != http.MethodHead {
		n, _ := w.Write([]byte(body))
		rq.BodyBytes = int64(n)
	}
}
