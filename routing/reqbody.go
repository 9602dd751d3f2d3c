package routing

import (
	"errors"
	"io"
	"net/http"
)

// RequestBodyError is a failure to read the client's request body while it
// was being sent upstream: a malformed chunked body, a client gone quiet,
// a body over the size limit. It says nothing about the upstream server,
// so passive health checks (and shield breakers) do not count it, and the
// edge answers it as the client's error, not as a bad gateway.
type RequestBodyError struct{ Err error }

// Error says the request body failed, and how.
func (e *RequestBodyError) Error() string {
	return "routing: reading the request body: " + e.Err.Error()
}

// Unwrap returns the read error.
func (e *RequestBodyError) Unwrap() error { return e.Err }

// IsRequestBodyError reports whether err comes from reading the request
// body (see [GuardRequestBody]).
func IsRequestBodyError(err error) bool {
	var rbe *RequestBodyError
	return errors.As(err, &rbe)
}

// GuardRequestBody wraps a request body sent upstream so that its read
// errors come back from a round trip as a *RequestBodyError, which
// http.Transport returns as it is. io.EOF stays io.EOF.
func GuardRequestBody(body io.ReadCloser) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	return guardedBody{body}
}

type guardedBody struct{ io.ReadCloser }

func (b guardedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &RequestBodyError{Err: err}
	}
	return n, err
}
