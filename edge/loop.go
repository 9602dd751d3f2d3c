package edge

import (
	"net/http"
	"strings"
)

// Loop detection: CDN-Loop (RFC 8586), and Via (RFC 9110 §7.6.3).
//
// Every request this node sends upstream carries its name (server.name)
// as an entry of CDN-Loop, after the entries already there, which are
// kept as they are. A request that arrives naming this node, as the
// cdn-id of a CDN-Loop entry or as the received-by of a Via entry, has
// already passed here: it is refused with 508 Loop Detected (RFC 5842
// §7.2; Cache-Status detail "loop") before routing, so that a
// misconfiguration (a shield listed in its own shield pool, an origin
// that points back at the edge) fails at once instead of looping until
// sockets run out. Names compare case-insensitively.
//
// This makes server.name an identity: every node of a tiered fleet needs
// its own, at least one per tier. An edge and a shield both called
// "popcache" would refuse each other's requests.

// errLoop answers a request that already passed this node.
var errLoop = &statusError{http.StatusLoopDetected, "loop detected: this request already passed this node (CDN-Loop or Via names it)", "loop"}

// checkLoop returns errLoop if r names this node in CDN-Loop or Via.
func (s *Server) checkLoop(r *http.Request) error {
	name := s.cfg.Server.Name
	for _, line := range r.Header["Cdn-Loop"] {
		for _, e := range splitList(line) {
			// cdn-info = cdn-id *( OWS ";" OWS parameter )
			id, _, _ := strings.Cut(e, ";")
			if strings.EqualFold(strings.TrimSpace(id), name) {
				return errLoop
			}
		}
	}
	for _, line := range r.Header["Via"] {
		for _, e := range splitList(line) {
			// received-protocol RWS received-by [ RWS comment ]
			_, rest, ok := strings.Cut(strings.TrimSpace(e), " ")
			if !ok {
				continue
			}
			by, _, _ := strings.Cut(strings.TrimLeft(rest, " \t"), " ")
			if strings.EqualFold(by, name) {
				return errLoop
			}
		}
	}
	return nil
}

// appendCDNLoop returns the CDN-Loop field lines with this node's entry
// appended, in a new slice.
func (s *Server) appendCDNLoop(lines []string) []string {
	name := s.cfg.Server.Name
	if len(lines) == 0 {
		return []string{name}
	}
	return []string{strings.Join(lines, ", ") + ", " + name}
}

// splitList splits a field line at the commas that separate list
// elements (RFC 9110 §5.6.1), not those inside a quoted string or a
// comment, and drops empty elements.
func splitList(line string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && (quoted || depth > 0):
			i++
		case c == '"' && depth == 0:
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			if e := strings.TrimSpace(line[start:i]); e != "" {
				out = append(out, e)
			}
			start = i + 1
		}
	}
	if e := strings.TrimSpace(line[start:]); e != "" {
		out = append(out, e)
	}
	return out
}
