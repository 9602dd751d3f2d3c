package purge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Request is what to purge: the JSON body of POST /purge, and the payload
// of a purge on the bus. Every field may be combined with the others; at
// least one must say something.
type Request struct {
	// URLs are absolute http or https URLs. A URL purge covers every Vary
	// variant of the URL and both schemes; its query counts as the route's
	// cache key counts it (parameters sorted, ignored ones ignored).
	URLs []string `json:"urls,omitempty"`
	// Prefixes are a host and a path prefix, with or without a scheme:
	// "example.com/static/" or "https://example.com/static/". A prefix
	// without a host is refused.
	Prefixes []string `json:"prefixes,omitempty"`
	// Hosts are bare host names: every object of the host, any port.
	Hosts []string `json:"hosts,omitempty"`
	// Tags are surrogate keys, as listed in the objects' tag headers
	// (Surrogate-Key, Cache-Tag): no spaces or commas.
	Tags []string `json:"tags,omitempty"`
	// All purges everything: it needs the admin scope.
	All bool `json:"all,omitempty"`
	// Soft marks the objects stale instead of removing them: they are
	// revalidated (a 304 keeps them) and may still be served under
	// stale-while-revalidate and stale-if-error.
	Soft bool `json:"soft,omitempty"`
}

// Limits of a Request.
const (
	// MaxItems caps the URLs, prefixes, hosts and tags of one request.
	MaxItems = 1000
	// maxURLBytes caps one URL or prefix.
	maxURLBytes = 8 << 10
	// maxTagBytes caps one tag.
	maxTagBytes = 1 << 10
	// maxHostBytes caps one host name (DNS: 253).
	maxHostBytes = 255
)

// RequestError is a bad purge request: the API answers 400 with Msg and
// publishes nothing.
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return "purge: bad request: " + e.Msg }

func badRequest(format string, args ...any) error {
	return &RequestError{Msg: fmt.Sprintf(format, args...)}
}

// ParseRequest decodes a Request strictly from r: one JSON object with
// only the documented fields, nothing after it, then [Request.Validate].
// Every error is a *RequestError, except r's own read errors.
//
// Field names must match exactly: encoding/json would take "URLs" for
// "urls", and a purge API should not guess.
func ParseRequest(r io.Reader) (*Request, error) {
	dec := json.NewDecoder(r)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, decodeProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, badRequest("unexpected data after the JSON object")
		}
		if re := readProblem(err); re != nil {
			return nil, re
		}
		return nil, badRequest("unexpected data after the JSON object: %s", jsonProblem(err))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, decodeProblem(err)
	}
	for k := range fields {
		switch k {
		case "urls", "prefixes", "hosts", "tags", "all", "soft":
		default:
			return nil, badRequest("unknown field %q", k)
		}
	}
	var q Request
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, decodeProblem(err)
	}
	for _, l := range []*[]string{&q.URLs, &q.Prefixes, &q.Hosts, &q.Tags} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return &q, nil
}

// decodeProblem turns a decoding error into the reader's own error or a
// *RequestError.
func decodeProblem(err error) error {
	if re := readProblem(err); re != nil {
		return re
	}
	return badRequest("%s", jsonProblem(err))
}

// readProblem returns the reader's error within err, if that is what it
// is.
func readProblem(err error) error {
	var readErr *readError
	if errors.As(err, &readErr) {
		return readErr.err
	}
	return nil
}

// readError marks an error of the underlying reader, as opposed to the
// JSON in it (see [errReader]).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

// errReader wraps a body so that ParseRequest can tell its read errors
// (a body too large, a client gone) from bad JSON.
type errReader struct{ r io.Reader }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// jsonProblem describes a decoding error for a client.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "empty body: want a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: want %v, not %s", te.Field, te.Type, te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON: " + err.Error()
}

// Validate checks a Request as ParseRequest does: not empty, at most
// MaxItems items, and every item well-formed.
func (q *Request) Validate() error {
	n := len(q.URLs) + len(q.Prefixes) + len(q.Hosts) + len(q.Tags)
	switch {
	case n == 0 && !q.All:
		return badRequest("empty purge: give urls, prefixes, hosts, tags or all")
	case n > MaxItems:
		return badRequest("%d items: at most %d per request", n, MaxItems)
	}
	for _, u := range q.URLs {
		if _, err := parseURL(u); err != nil {
			return err
		}
	}
	for _, p := range q.Prefixes {
		if _, err := parsePrefix(p); err != nil {
			return err
		}
	}
	for _, h := range q.Hosts {
		if err := checkHost(h); err != nil {
			return err
		}
	}
	for _, t := range q.Tags {
		if err := checkTag(t); err != nil {
			return err
		}
	}
	return nil
}

// Kinds lists the kinds of purge q asks for, in a fixed order.
func (q *Request) Kinds() []string {
	var k []string
	for _, c := range []struct {
		name string
		n    int
	}{{"url", len(q.URLs)}, {"prefix", len(q.Prefixes)}, {"host", len(q.Hosts)}, {"tag", len(q.Tags)}} {
		if c.n > 0 {
			k = append(k, c.name)
		}
	}
	if q.All {
		k = append(k, "all")
	}
	return k
}

// parseURL parses an absolute http(s) URL of a purge.
func parseURL(s string) (*url.URL, error) {
	if len(s) > maxURLBytes {
		return nil, badRequest("url longer than %d bytes", maxURLBytes)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, badRequest("url %q: %v", s, unwrapURLError(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, badRequest("url %q: want an absolute http:// or https:// URL", s)
	case u.Host == "" || u.Opaque != "":
		return nil, badRequest("url %q has no host", s)
	case u.User != nil:
		return nil, badRequest("url %q: user info is not allowed", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, badRequest("url %q: a fragment is not part of a cached URL", s)
	}
	if err := checkHost(u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// prefix is a parsed purge prefix.
type prefix struct {
	scheme, host, path string // scheme "" when none was given
}

// parsePrefix parses "host/path", "//host/path" or "scheme://host/path".
func parsePrefix(s string) (prefix, error) {
	if len(s) > maxURLBytes {
		return prefix{}, badRequest("prefix longer than %d bytes", maxURLBytes)
	}
	if s == "" || strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return prefix{}, badRequest("prefix %q has no host: write it as host/path, like \"example.com/static/\"", s)
	}
	raw := s
	if !strings.Contains(s, "://") {
		raw = "http://" + strings.TrimPrefix(s, "//")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return prefix{}, badRequest("prefix %q: %v", s, unwrapURLError(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return prefix{}, badRequest("prefix %q: the scheme must be http or https", s)
	case u.Host == "" || u.Opaque != "":
		return prefix{}, badRequest("prefix %q has no host", s)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return prefix{}, badRequest("prefix %q: a prefix is a host and a path, nothing else", s)
	}
	if err := checkHost(u.Hostname()); err != nil {
		return prefix{}, err
	}
	p := prefix{host: u.Host, path: u.EscapedPath()}
	if strings.Contains(s, "://") {
		p.scheme = u.Scheme
	}
	if p.path == "" {
		p.path = "/"
	}
	return p, nil
}

// portScheme is the scheme whose default port the prefix's host drops,
// as cache keys do: the prefix's own, or for a prefix without a scheme
// the one whose default port it names (80 http, 443 https). A bare
// "a.test:443/s/" then matches the site's requests, which are keyed
// without the port, rather than nothing.
func (p prefix) portScheme() string {
	if p.scheme != "" {
		return p.scheme
	}
	if strings.HasSuffix(p.host, ":443") {
		return "https"
	}
	return "http"
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// checkHost accepts a bare host name or IP literal: no port, path or
// spaces.
func checkHost(h string) error {
	if h == "" {
		return badRequest("empty host")
	}
	if len(h) > maxHostBytes {
		return badRequest("host longer than %d bytes", maxHostBytes)
	}
	ip6 := strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]")
	for i := 0; i < len(h); i++ {
		c := h[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' ||
			ip6 && (c == ':' || c == '[' || c == ']')
		if !ok {
			return badRequest("host %q: want a bare host name (no scheme, port or path)", h)
		}
	}
	return nil
}

// checkTag accepts a tag: visible ASCII or UTF-8, no spaces or commas
// (they separate tags in the headers).
func checkTag(t string) error {
	switch {
	case t == "":
		return badRequest("empty tag")
	case len(t) > maxTagBytes:
		return badRequest("tag longer than %d bytes", maxTagBytes)
	case !utf8.ValidString(t):
		return badRequest("tag %q is not UTF-8", t)
	}
	for _, r := range t {
		if r <= ' ' || r == ',' || r == 0x7f {
			return badRequest("tag %q: no spaces, commas or control characters", t)
		}
	}
	return nil
}
