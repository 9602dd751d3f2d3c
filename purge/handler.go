package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrBus wraps the errors of a purge that could not be published: the API
// answers 503 and nothing was published.
var ErrBus = errors.New("purge bus unavailable")

// Handler returns the purge API, for the admin listener:
//
//	POST /purge        a Request as JSON; answers a Status: 200 once every
//	                   live node applied it, 202 if some had not within
//	                   purge.wait (or at once with ?wait=false)
//	GET  /purge/{id}   the Status of a purge, per node
//
// Both need a bearer token (Authorization: Bearer T) with the purge scope;
// purging "all" needs the admin scope. Without a valid token the answer is
// 401, with one that lacks the scope 403, and either way nothing is read
// further or published. A bad request (malformed JSON, an unknown field,
// an empty purge, a prefix without a host, a body over
// purge.max_body_bytes) is a 400 with a message, and nothing is published.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /purge", s.servePost)
	mux.HandleFunc("GET /purge/{id}", s.serveGet)
	return mux
}

// authorize checks the request's token for need, answering 401 or 403
// itself when it fails.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request, need scopes) (name string, have scopes, ok bool) {
	name, have, ok = s.tokens.check(r.Header)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="popcache"`)
		s.fail(w, http.StatusUnauthorized, "a valid bearer token is required")
		return "", 0, false
	}
	if !have.allows(need) {
		s.fail(w, http.StatusForbidden, "this token lacks the scope for this request")
		return "", 0, false
	}
	return name, have, true
}

func (s *Service) servePost(w http.ResponseWriter, r *http.Request) {
	by, have, ok := s.authorize(w, r, scopePurge)
	if !ok {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		s.fail(w, http.StatusUnsupportedMediaType, "the body must be JSON (Content-Type: application/json)")
		return
	}
	limit := int64(s.cfg.MaxBodyBytes)
	q, err := ParseRequest(errReader{http.MaxBytesReader(w, r.Body, limit)})
	if err != nil {
		var re *RequestError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &re):
			s.fail(w, http.StatusBadRequest, re.Msg)
		case errors.As(err, &mbe):
			s.fail(w, http.StatusBadRequest, fmt.Sprintf("body larger than %d bytes (purge.max_body_bytes): split the purge", limit))
		default:
			s.fail(w, http.StatusBadRequest, "reading the body: "+err.Error())
		}
		return
	}
	if q.All && !have.allows(scopeAdmin) {
		s.fail(w, http.StatusForbidden, "purging all needs the admin scope")
		return
	}
	wait := true
	if v := r.URL.Query().Get("wait"); v != "" {
		if wait, err = strconv.ParseBool(v); err != nil {
			s.fail(w, http.StatusBadRequest, "wait must be true or false")
			return
		}
	}
	st, err := s.Publish(r.Context(), q, by, wait)
	if err != nil {
		s.fail(w, http.StatusServiceUnavailable, err.Error()+": nothing was published; retry")
		return
	}
	s.reply(w, st)
}

func (s *Service) serveGet(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.authorize(w, r, scopePurge); !ok {
		return
	}
	id := r.PathValue("id")
	if !validID(id) {
		s.fail(w, http.StatusNotFound, "no such purge")
		return
	}
	st, err := s.Status(r.Context(), id)
	switch {
	case errors.Is(err, errNoPurge):
		s.fail(w, http.StatusNotFound, "no such purge (or older than purge.retention)")
	case err != nil:
		s.fail(w, http.StatusServiceUnavailable, err.Error())
	default:
		s.reply(w, st)
	}
}

// ServePURGE answers the PURGE method on a client listener: the request's
// own URL is purged (soft with purge.method.soft), as POST /purge would,
// from the addresses in purge.method.allow only (others get 403). The
// node's wiring calls it for PURGE requests when purge.method.enabled.
func (s *Service) ServePURGE(w http.ResponseWriter, r *http.Request) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	allowed := false
	if err == nil {
		for _, p := range s.cfg.Method.AllowPrefixes {
			if p.Contains(ap.Addr().Unmap()) {
				allowed = true
				break
			}
		}
	}
	if !allowed {
		s.fail(w, http.StatusForbidden, "PURGE is not allowed from this address")
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := &Request{URLs: []string{scheme + "://" + r.Host + r.URL.RequestURI()}, Soft: s.cfg.Method.Soft}
	if err := q.Validate(); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	st, err := s.Publish(r.Context(), q, "PURGE "+ap.Addr().String(), true)
	if err != nil {
		s.fail(w, http.StatusServiceUnavailable, err.Error()+": nothing was published; retry")
		return
	}
	s.reply(w, st)
}

// Publish issues a validated purge: it stores it on the stream and, with
// wait, waits up to purge.wait for every live node to apply it. by names
// the issuer. An error (wrapping [ErrBus]) means nothing was published.
func (s *Service) Publish(ctx context.Context, q *Request, by string, wait bool) (*Status, error) {
	m := &message{V: messageVersion, ID: newID(), Issued: s.now().UTC(), By: by, Node: s.nodeID, Request: *q}
	pctx, cancel := context.WithTimeout(ctx, max(s.cfg.Bus.ConnectTimeout.D(), 2*time.Second))
	seq, err := s.bus.publish(pctx, m)
	cancel()
	if err != nil {
		s.m.errors.WithLabelValues("publish").Inc()
		return nil, fmt.Errorf("%w: %v", ErrBus, err)
	}
	for _, k := range q.Kinds() {
		s.m.published.WithLabelValues(k).Inc()
	}
	s.log.Info("purge published", "id", m.ID, "seq", seq, "by", by, "kinds", q.Kinds(), "soft", q.Soft)
	st := &Status{ID: m.ID, Seq: seq, State: StatePending}
	var nodes []NodeStatus
	if wait {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.Wait.D())
		nodes, _, err = s.waitApplied(wctx, seq, func(NodeStatus) bool { return true })
		cancel()
	} else {
		nodes, err = s.nodes(ctx, seq)
	}
	if err != nil {
		s.log.Warn("purge: reading the nodes' progress", "id", m.ID, "err", err)
	}
	st.Nodes = nodes
	if len(nodes) > 0 && allApplied(nodes) {
		st.State = StateApplied
	}
	return st, nil
}

// errNoPurge is Status's error for an unknown purge ID.
var errNoPurge = errors.New("purge: no such purge")

// Status returns the state of purge id across the fleet.
func (s *Service) Status(ctx context.Context, id string) (*Status, error) {
	st, err := s.bus.stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBus, err)
	}
	raw, err := st.GetLastMsgForSubject(ctx, s.bus.subject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, errNoPurge
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBus, err)
	}
	out := &Status{ID: id, Seq: raw.Sequence, State: StatePending}
	if m, err := decodeMessage(raw.Data); err == nil {
		out.Issued, out.By, out.Request = m.Issued, m.By, &m.Request
	}
	if out.Nodes, err = s.nodes(ctx, raw.Sequence); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBus, err)
	}
	if len(out.Nodes) > 0 && allApplied(out.Nodes) {
		out.State = StateApplied
	}
	return out, nil
}

// reply writes a Status: 200 when applied everywhere, 202 otherwise.
func (s *Service) reply(w http.ResponseWriter, st *Status) {
	code := http.StatusOK
	if st.State != StateApplied {
		code = http.StatusAccepted
	}
	s.writeJSON(w, code, st)
}

// fail writes an error as {"error": msg}.
func (s *Service) fail(w http.ResponseWriter, code int, msg string) {
	s.writeJSON(w, code, map[string]string{"error": msg})
}

func (s *Service) writeJSON(w http.ResponseWriter, code int, v any) {
	s.m.api.WithLabelValues(strconv.Itoa(code)).Inc()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// isJSON reports whether a Content-Type is application/json.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}
