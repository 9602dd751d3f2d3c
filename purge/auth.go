package purge

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/popcache/popcache/conf"
)

// scopes is a set of token scopes.
type scopes uint8

const (
	scopePurge scopes = 1 << iota // purges other than all; status
	scopeAdmin                    // everything
)

// allows reports whether s grants need; admin grants everything.
func (s scopes) allows(need scopes) bool {
	return s&scopeAdmin != 0 || s&need == need
}

// tokens checks bearer tokens against the configured ones. It keeps only
// their SHA-256 digests, and compares a presented token's digest with
// every one of them in constant time, so neither the comparison nor the
// number of tokens tried tells how close a guess was.
type tokens struct {
	digests [][sha256.Size]byte
	names   []string
	scopes  []scopes
}

func newTokens(creds []conf.AdminToken) *tokens {
	t := &tokens{}
	for _, c := range creds {
		var s scopes
		for _, name := range c.Scopes {
			switch name {
			case conf.ScopePurge:
				s |= scopePurge
			case conf.ScopeAdmin:
				s |= scopeAdmin
			}
		}
		t.digests = append(t.digests, sha256.Sum256([]byte(c.Token)))
		t.names = append(t.names, c.Name)
		t.scopes = append(t.scopes, s)
	}
	return t
}

// check returns the name and scopes of the token in an Authorization
// header ("Bearer <token>"); ok is false when there is none or it is not
// a configured token.
func (t *tokens) check(h http.Header) (name string, s scopes, ok bool) {
	v := h.Get("Authorization")
	scheme, tok, found := strings.Cut(v, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", 0, false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", 0, false
	}
	d := sha256.Sum256([]byte(tok))
	match := -1
	for i := range t.digests {
		if subtle.ConstantTimeCompare(d[:], t.digests[i][:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return "", 0, false
	}
	return t.names[match], t.scopes[match], true
}
