package shield

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/popcache/popcache/routing"
)

// RoundTrip sends req to the shields and returns the first answer; it has
// edge.Upstream's contract. key is the request's cache key; for "" (a
// request that is not looked up) the host and path are hashed instead, so
// passes spread over the shields too.
//
// The shields are tried in the rendezvous order of the key, skipping those
// whose circuit is open or whose health checks fail. A failed attempt (see
// the comment on verdict in failure.go for exactly what fails) moves the
// request on to the next shield when it may be retried: GET and HEAD
// without a body always, other bodiless requests only when the connection
// was refused. When the shields are exhausted, the request goes to the
// origin if the tier has one (failover "origin") and the request is still
// retryable or was never sent; without an origin, a request that found
// every shield skipped is tried on them anyway, in order, rather than
// failed untried. Otherwise the last shield's failure response is
// returned as is (a 502 from a shield, with its Cache-Status), or, when
// no shield answered at all, an error joining every attempt's error.
//
// A request whose context ends is returned at once with its error and
// counts for nothing. req is not modified: each attempt sends a shallow
// copy with the shield's scheme and host in its URL and req's Host (or
// req.URL's host) as the Host header. The caller closes the response
// body.
func (t *Tier) RoundTrip(req *http.Request, key string) (*http.Response, error) {
	c := t.c
	hashKey := key
	if hashKey == "" {
		hashKey = req.Host + req.URL.Path
	}
	var buf [maxStackPeers]*peer
	order := rank(c.peers, hashKey, buf[:0])

	r := run{c: c, req: req}
	for _, p := range order {
		ok, trial := p.admit(c.now())
		if !ok {
			p.m.skip()
			continue
		}
		if resp, err, done := r.try(p, trial); done {
			return resp, err
		}
	}
	if !r.tried && t.origin == nil {
		for _, p := range order {
			if resp, err, done := r.try(p, p.br.force()); done {
				return resp, err
			}
		}
	}
	if t.origin != nil {
		r.discard()
		if r.failed != nil {
			r.failed.m.failover(true)
		}
		c.m.originFallback()
		return t.origin.RoundTrip(req, key)
	}
	return r.final()
}

// run is the state of one RoundTrip across its attempts.
type run struct {
	c      *Client
	req    *http.Request
	tried  bool           // some attempt was made
	failed *peer          // the shield that failed last, nil if none
	resp   *http.Response // its failure response, if it answered one
	errs   []error        // the transport errors of every failed attempt
}

// try makes one attempt on p. done means RoundTrip returns resp, err: an
// answer, the request's own end, or a failure that may not be retried.
func (r *run) try(p *peer, trial bool) (resp *http.Response, err error, done bool) {
	if r.failed != nil {
		r.failed.m.failover(false)
	}
	r.tried = true
	resp, err, reason := r.c.attempt(r.req, p, trial)
	if reason == "" {
		return resp, err, true
	}
	r.discard()
	r.failed, r.resp = p, resp
	if err != nil {
		r.errs = append(r.errs, err)
	}
	if !mayRetry(r.req, reason) {
		resp, err = r.final()
		return resp, err, true
	}
	return nil, nil, false
}

// discard closes the failure response kept from the last attempt.
func (r *run) discard() {
	if r.resp != nil {
		r.resp.Body.Close()
		r.resp = nil
	}
}

// final is what RoundTrip returns when nothing answered: the last failure
// response, else every attempt's error.
func (r *run) final() (*http.Response, error) {
	if r.resp != nil {
		resp := r.resp
		r.resp = nil
		return resp, nil
	}
	if len(r.errs) == 0 {
		return nil, errors.New("shield: no shield available")
	}
	return nil, fmt.Errorf("shield: no shield answered: %w", errors.Join(r.errs...))
}

// attempt sends req to p once. A non-empty reason means the attempt failed
// (a failure reason label), with the shield's failure response or an
// error; "" means resp, err go to the caller as they are: an answer, or
// the error of a request whose context ended.
func (c *Client) attempt(req *http.Request, p *peer, trial bool) (resp *http.Response, err error, reason string) {
	out := forPeer(req, p)
	start := time.Now()
	p.m.request()
	resp, err = c.transport.RoundTrip(out)
	p.m.observe(time.Since(start).Seconds())
	if err != nil {
		// A client that left, or whose body could not be read, says
		// nothing about the shield.
		if req.Context().Err() != nil || routing.IsRequestBodyError(err) {
			p.br.record(noVerdict, trial, c.now())
			return nil, err, ""
		}
		reason = reasonOf(err)
		c.failed(p, trial, reason, shieldFailed)
		return nil, fmt.Errorf("shield: %s: %w", p.label, err), reason
	}
	v, reason := judge(resp)
	if v == answered && mayRetry(req, "") {
		if err := c.bufferBody(req, resp); err != nil {
			resp.Body.Close()
			if req.Context().Err() != nil {
				p.br.record(noVerdict, trial, c.now())
				return nil, err, ""
			}
			c.failed(p, trial, reasonBody, shieldFailed)
			return nil, fmt.Errorf("shield: %s: reading body: %w", p.label, err), reasonBody
		}
	}
	if v == answered {
		p.br.record(success, trial, c.now())
		return resp, nil, ""
	}
	c.failed(p, trial, reason, v)
	return resp, nil, reason
}

// failed counts a failed attempt on p. Only the shield's own failures
// count against its breaker; an origin failure behind it proves the shield
// works.
func (c *Client) failed(p *peer, trial bool, reason string, v verdict) {
	p.m.failed(reason)
	r := failure
	if v == originFailed {
		r = success
	}
	p.br.record(r, trial, c.now())
}

// forPeer returns the copy of req sent to p: shallow, sharing req's header
// and body, which the transport reads but does not modify.
func forPeer(req *http.Request, p *peer) *http.Request {
	out := new(http.Request)
	*out = *req
	u := *req.URL
	u.Scheme, u.Host = p.url.Scheme, p.url.Host
	out.URL = &u
	if out.Host == "" {
		out.Host = req.URL.Host
	}
	return out
}

// bufferBody reads a body of known length up to the retry buffer whole,
// so that a shield that breaks off half-way fails the attempt instead of
// the client's response. Other bodies are left to stream.
func (c *Client) bufferBody(req *http.Request, resp *http.Response) error {
	n := resp.ContentLength
	if req.Method == http.MethodHead || n <= 0 || n > c.buffer || resp.Body == http.NoBody {
		return nil
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return err
	}
	// Read to EOF, so the connection goes back to the pool.
	var one [1]byte
	if k, err := resp.Body.Read(one[:]); k != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("body longer than its Content-Length")
		}
		return err
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(buf))
	return nil
}
