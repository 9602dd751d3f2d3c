package edge

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/popcache/popcache/cache"
)

// fillStripped are request fields never sent on a fill or revalidation:
// the cache wants the whole, unconditional representation, and answers
// the client's own conditionals and ranges itself.
var fillStripped = [...]string{
	"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range",
	// Method overrides would let a GET that fills the cache act as another
	// method at origins that honour them (cache poisoning).
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
}

// untrustedStripped are request fields that origins and frameworks use to
// pick the URL, scheme, host or port they serve or redirect to. They are
// not part of the cache key, so from an untrusted peer they would let a
// client poison the cache for everyone under the URL's key (the classic
// unkeyed-header attacks). The node sets X-Forwarded-Proto and
// X-Forwarded-Host itself. The client-address fields other CDNs and
// proxies set go too: from a client they are a spoofed address (the node
// sets X-Forwarded-For).
var untrustedStripped = [...]string{
	"X-Original-Url", "X-Rewrite-Url", "X-Forwarded-Server",
	"X-Forwarded-Scheme", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Ssl",
	"X-Url-Scheme", "X-Host", "X-Http-Host-Override", "Front-End-Https",
	"X-Real-Ip", "True-Client-Ip", "X-Client-Ip", "Client-Ip", "X-Cluster-Client-Ip",
	"Cf-Connecting-Ip", "Fastly-Client-Ip",
}

// outbound builds the upstream request for in: a copy with hop-by-hop
// fields removed and Via and the forwarding fields set. With fill true it
// is a bodiless GET stripped of conditionals and ranges; otherwise it
// keeps in's method and streams in's body.
func (s *Server) outbound(ctx context.Context, rq *Request, fill bool) *http.Request {
	in := rq.In
	out := in.Clone(ctx)
	out.RequestURI = ""
	out.Close = false
	// The key normalises the host: send that form, or "A.TEST.:80" would
	// fill a.test's entry with an answer to a host the origin may spell
	// into its links.
	host := in.Host
	if rq.Route != nil {
		host = cache.NormalHost(s.keyScheme(rq), host)
		out.Host = host
	}
	removeHopHeaders(out.Header)
	dropUnderscoredAliases(out.Header)
	if fill {
		out.Method = http.MethodGet
		out.Body = nil
		out.ContentLength = 0
		out.GetBody = nil
		for _, f := range fillStripped {
			delete(out.Header, f)
		}
	}
	peer, trusted := s.peer(in)
	if !trusted {
		for _, f := range untrustedStripped {
			delete(out.Header, f)
		}
		delete(out.Header, "Forwarded")
		delete(out.Header, "X-Forwarded-For")
	}
	if peer.IsValid() {
		ip := peer.String()
		if prior := out.Header["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		out.Header["X-Forwarded-For"] = []string{ip}
	}
	// A trusted proxy in front (an edge, before a shield) knows the
	// client's scheme and host better than we do: keep what it says.
	if !trusted || len(out.Header["X-Forwarded-Proto"]) == 0 {
		proto := "http"
		if in.TLS != nil {
			proto = "https"
		}
		out.Header["X-Forwarded-Proto"] = []string{proto}
	}
	if !trusted || len(out.Header["X-Forwarded-Host"]) == 0 {
		out.Header["X-Forwarded-Host"] = []string{host}
	}
	out.Header["Via"] = appendVia(out.Header["Via"], protoVersion(in)+" "+s.cfg.Server.Name)
	out.Header["Cdn-Loop"] = s.appendCDNLoop(out.Header["Cdn-Loop"])
	return out
}

// forwardedHTTPS reports whether a trusted proxy in front (an edge, before
// a shield) says the client's request came over https. outbound forwards
// that X-Forwarded-Proto to the origin, whose answer may depend on it (an
// http-to-https redirect): so the key must too, or the shield would serve
// the redirect to https clients. Only a request carrying the field pays
// for the trust check.
func (s *Server) forwardedHTTPS(r *http.Request) bool {
	xfp := r.Header["X-Forwarded-Proto"]
	if len(xfp) == 0 {
		return false
	}
	if _, trusted := s.peer(r); !trusted {
		return false
	}
	first, _, _ := strings.Cut(xfp[0], ",")
	return strings.EqualFold(strings.TrimSpace(first), "https")
}

// peer returns the client's address and whether it is a trusted proxy.
func (s *Server) peer(in *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(in.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	for _, p := range s.cfg.Server.TrustedPrefixes {
		if p.Contains(ip) {
			return ip, true
		}
	}
	return ip, false
}

// protoVersion is the received protocol in Via's form ("1.1", "2", "3").
func protoVersion(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "2"
	case 3:
		return "3"
	case 1:
		if r.ProtoMinor == 0 {
			return "1.0"
		}
	}
	return "1.1"
}

// appendVia returns the Via field lines with entry appended, in a new slice.
func appendVia(lines []string, entry string) []string {
	if len(lines) == 0 {
		return []string{entry}
	}
	return []string{strings.Join(lines, ", ") + ", " + entry}
}

// dropUnderscoredAliases deletes the fields whose names, '_' read as '-'
// as CGI-style origins (PHP, WSGI, Rack) read them, are fields this node
// strips or sets itself: X_Original_URL would otherwise reach such an
// origin as X-Original-URL. (nginx drops every name with '_' by default.)
func dropUnderscoredAliases(h http.Header) {
	for name := range h {
		if !strings.Contains(name, "_") {
			continue
		}
		alias := http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
		if slices.Contains(untrustedStripped[:], alias) || slices.Contains(fillStripped[:], alias) ||
			slices.Contains(hopHeaders[:], alias) || alias == "Forwarded" || alias == "Via" || alias == "Cdn-Loop" ||
			strings.HasPrefix(alias, "X-Forwarded-") {
			delete(h, name)
		}
	}
}
