package conf

import (
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Purge configures purging: the purge API on the admin listener (see
// [Admin.Tokens]), the tags stored with objects, and the bus that carries
// every purge to every node, edges and shields (see package purge).
type Purge struct {
	// Disabled turns purging off: no purge API, no bus, no embedded NATS
	// server. Default false.
	Disabled bool `toml:"disabled"`
	// NodeID names this node on the bus: its durable consumer, and its
	// line in a purge's status. Letters, digits, '-' and '_', at most 64
	// bytes; unique in the fleet and the same across restarts. Default:
	// the host name, server.name and a hash of the purge directory (of the
	// listen addresses without one). Set it in a fleet.
	NodeID string `toml:"node_id"`
	// Dir holds the node's purge journal (the purges applied, with the
	// last stream sequence) and, with the embedded bus, the NATS server's
	// JetStream store. A leading "{cache_dir}" is expanded as in
	// cache.disk.path. Default: cache.disk.path with ".purge" appended when
	// the disk tier is on; otherwise none, and the purge state lives in
	// memory, which is enough for a node whose cache starts empty.
	Dir string `toml:"dir"`
	// TagHeaders are the response header fields whose values are an
	// object's tags (surrogate keys), space or comma separated, matched by
	// a purge by tag. Default ["Surrogate-Key", "Cache-Tag"]. Fields that
	// framing or caching relies on (Content-Length, Content-Type, Vary, ...)
	// are refused: tag headers are stripped from client responses.
	TagHeaders []string `toml:"tag_headers"`
	// StripTagHeaders removes the tag headers from responses to clients
	// (they stay stored). Default true on an edge, false on a shield: the
	// edges behind it store the tags too.
	StripTagHeaders *bool `toml:"strip_tag_headers"`
	// Wait is how long POST /purge waits for every live node to apply a
	// purge before answering 202 with the nodes still pending; and how long
	// an edge waits for the live shields to apply a purge before it does
	// (so that it never refetches a purged object from a shield that still
	// has it). Default 5s.
	Wait Duration `toml:"wait"`
	// Retention is how long a purge rule is kept. An older rule folds into
	// a node-wide revalidation: the objects fetched before it are
	// revalidated once (a 304 keeps them) instead of the rule being kept
	// for ever. It is also the bus stream's maximum age, and how long a
	// node may be away and still catch up with the purges it missed
	// (longer, and it revalidates everything it has). Memory: about 150
	// bytes per distinct URL, tag, host or prefix purged within it.
	// Default 24h; at least 1m.
	Retention Duration `toml:"retention"`
	// MaxBodyBytes caps a POST /purge body; a larger one is refused (400)
	// and nothing is published. Default 64KiB.
	MaxBodyBytes Size `toml:"max_body_bytes"`
	// Method configures PURGE requests on the client listeners.
	Method PurgeMethod `toml:"method"`
	// Bus configures the NATS JetStream bus.
	Bus PurgeBus `toml:"bus"`

	// JournalDir is Dir with defaults and "{cache_dir}" applied; "" for
	// an in-memory purge state. Set by Validate.
	JournalDir string `toml:"-"`
}

// PurgeMethod configures the PURGE method on the client listeners: one
// URL, the request's own, purged like POST /purge {"urls": [...]}.
type PurgeMethod struct {
	// Enabled answers PURGE from Allow. Default false: PURGE is passed to
	// the origin like any other method.
	Enabled bool `toml:"enabled"`
	// Allow lists the CIDR prefixes or IPs allowed to PURGE; anyone else
	// gets 403. Default ["127.0.0.1", "::1"].
	Allow []string `toml:"allow"`
	// Soft makes PURGE a soft purge (mark stale) instead of a removal.
	// Default false.
	Soft bool `toml:"soft"`

	// AllowPrefixes is Allow parsed; set by Validate.
	AllowPrefixes []netip.Prefix `toml:"-"`
}

// PurgeBus configures the NATS JetStream bus purges travel on. By default
// the node embeds a NATS server with JetStream, listening on loopback
// only, which is all one node (or the demo PoP) needs. A fleet joins a
// NATS cluster with URLs instead, typically a leaf node in each PoP (see
// package purge for the deployment).
type PurgeBus struct {
	// URLs are the NATS servers to join (nats://, tls://, ws:// or wss://;
	// user:password@ allowed). Default none: embed a server.
	URLs []string `toml:"urls"`
	// Listen is the embedded server's client address: loopback only, port
	// 0 for any free port. Default "127.0.0.1:0". Other nodes on the host
	// may join it at a fixed port.
	Listen string `toml:"listen"`
	// CredentialsFile is a NATS credentials file (user JWT and nkey seed)
	// for URLs. Default none.
	CredentialsFile string `toml:"credentials_file"`
	// Stream is the JetStream stream's name. Default "POPCACHE_PURGE".
	Stream string `toml:"stream"`
	// Subject is the stream's subject prefix: a purge is published on
	// Subject.<id>. Default "popcache.purge".
	Subject string `toml:"subject"`
	// Replicas is the stream's replica count on a NATS cluster (1 to 5;
	// more than 1 only with URLs). The node that creates the stream sets
	// it. Default 1.
	Replicas int `toml:"replicas"`
	// ConnectTimeout bounds a connection attempt to the bus; the node
	// keeps retrying in the background. Default 2s.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// CatchUpTimeout bounds the wait at start for the purges issued while
	// the node was away, before it serves. When it runs out (or the bus is
	// unreachable) the node serves anyway and revalidates everything it
	// had before its start. Default 10s.
	CatchUpTimeout Duration `toml:"catch_up_timeout"`
}

// AdminToken is a bearer token of the admin API.
type AdminToken struct {
	// Name identifies the token in logs and in the purges it issues;
	// required, an RFC 9110 token.
	Name string `toml:"name"`
	// Token is the secret: at least 16 characters of A-Z a-z 0-9 - . _ ~
	// + / (RFC 6750 b64token), unique. Required.
	Token string `toml:"token"`
	// Scopes are what the token may do: "purge" (purge URLs, prefixes,
	// hosts and tags, read purge status) and "admin" (all that, and purge
	// everything). At least one.
	Scopes []string `toml:"scopes"`
}

// Scopes of [AdminToken].
const (
	// ScopePurge allows purges other than "all", and reading their status.
	ScopePurge = "purge"
	// ScopeAdmin allows everything, purging "all" included.
	ScopeAdmin = "admin"
)

// Purge defaults and limits. NB: when changing one, change the doc
// comments above and default.toml too.
const (
	defaultPurgeWait              = Duration(5 * time.Second)
	defaultPurgeRetention         = Duration(24 * time.Hour)
	defaultPurgeMaxBodyBytes      = 64 * KiB
	defaultPurgeBusListen         = "127.0.0.1:0"
	defaultPurgeStream            = "POPCACHE_PURGE"
	defaultPurgeSubject           = "popcache.purge"
	defaultPurgeReplicas          = 1
	defaultPurgeConnect           = Duration(2 * time.Second)
	defaultPurgeCatchUp           = Duration(10 * time.Second)
	minPurgeRetention             = Duration(time.Minute)
	minPurgeMaxBodyBytes     Size = 1 * KiB
	maxPurgeMaxBodyBytes     Size = 16 * MiB
	minAdminTokenLen              = 16
	maxNodeIDLen                  = 64
)

func defaultTagHeaders() []string { return []string{"Surrogate-Key", "Cache-Tag"} }

// ensureDefaults fills the unset fields of [purge] for a node of role.
func (p *Purge) ensureDefaults(role string) {
	if p.TagHeaders == nil {
		p.TagHeaders = defaultTagHeaders()
	}
	if p.StripTagHeaders == nil {
		p.StripTagHeaders = ptr(role != RoleShield)
	}
	setDefault(&p.Wait, defaultPurgeWait)
	setDefault(&p.Retention, defaultPurgeRetention)
	setDefault(&p.MaxBodyBytes, defaultPurgeMaxBodyBytes)
	if p.Method.Allow == nil {
		p.Method.Allow = []string{"127.0.0.1", "::1"}
	}
	b := &p.Bus
	setDefault(&b.Listen, defaultPurgeBusListen)
	setDefault(&b.Stream, defaultPurgeStream)
	setDefault(&b.Subject, defaultPurgeSubject)
	setDefault(&b.Replicas, defaultPurgeReplicas)
	setDefault(&b.ConnectTimeout, defaultPurgeConnect)
	setDefault(&b.CatchUpTimeout, defaultPurgeCatchUp)
}

// purge validates [purge] and the admin tokens, and sets the derived
// fields. It runs after the cache section, whose disk directory it reads.
func (v *validator) purge(c *Config) {
	v.adminTokens(&c.Admin)
	p := &c.Purge
	p.JournalDir = ""
	p.Method.AllowPrefixes = make([]netip.Prefix, 0, len(p.Method.Allow))
	for i, a := range p.Method.Allow {
		prefix, err := parsePrefix(a)
		if err != nil {
			v.fail(index("purge.method.allow", i), "%v", err)
			continue
		}
		p.Method.AllowPrefixes = append(p.Method.AllowPrefixes, prefix)
	}
	for i, h := range p.TagHeaders {
		if !isToken(h) {
			v.fail(index("purge.tag_headers", i), "%q is not a header field name", h)
			continue
		}
		p.TagHeaders[i] = textproto.CanonicalMIMEHeaderKey(h)
		if slices.Contains(notTagHeaders[:], p.TagHeaders[i]) {
			// Stripped from client responses, it would break their framing
			// or their caching downstream.
			v.fail(index("purge.tag_headers", i), "%q is a field HTTP or caching relies on, not a tag header", h)
		}
	}
	v.positive("purge.wait", p.Wait)
	if p.Retention < minPurgeRetention {
		v.fail("purge.retention", "must be at least %v, not %v", minPurgeRetention, p.Retention)
	}
	if p.MaxBodyBytes < minPurgeMaxBodyBytes || p.MaxBodyBytes > maxPurgeMaxBodyBytes {
		v.fail("purge.max_body_bytes", "must be from %v to %v, not %v", minPurgeMaxBodyBytes, maxPurgeMaxBodyBytes, p.MaxBodyBytes)
	}
	v.purgeDir(c)
	if p.NodeID != "" && !isNodeID(p.NodeID) {
		v.fail("purge.node_id", "%q: use at most %d letters, digits, '-' and '_'", p.NodeID, maxNodeIDLen)
	}
	v.purgeBus(&p.Bus)
}

// purgeDir sets JournalDir from purge.dir or the disk tier's directory.
func (v *validator) purgeDir(c *Config) {
	p := &c.Purge
	if p.Dir == "" {
		if c.Cache.Disk.Dir != "" {
			p.JournalDir = c.Cache.Disk.Dir + ".purge"
		}
		return
	}
	dir, err := expandDiskPath(p.Dir)
	if err != nil {
		v.fail("purge.dir", "%v", err)
		return
	}
	if c.Cache.Disk.Dir != "" && dir == c.Cache.Disk.Dir {
		v.fail("purge.dir", "%q is cache.disk.path: give the purge state a directory of its own", p.Dir)
		return
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		v.fail("purge.dir", "%q exists and is not a directory", dir)
		return
	}
	p.JournalDir = dir
}

func (v *validator) purgeBus(b *PurgeBus) {
	for i, u := range b.URLs {
		pu, err := url.Parse(u)
		switch {
		case err != nil:
			v.fail(index("purge.bus.urls", i), "%q is not a URL", u)
		case pu.Scheme != "nats" && pu.Scheme != "tls" && pu.Scheme != "ws" && pu.Scheme != "wss":
			v.fail(index("purge.bus.urls", i), "%q: the scheme must be nats, tls, ws or wss", u)
		case pu.Host == "":
			v.fail(index("purge.bus.urls", i), "%q has no host", u)
		}
	}
	if len(b.URLs) == 0 {
		v.listenAddr("purge.bus.listen", b.Listen)
		if host, _, err := net.SplitHostPort(b.Listen); err == nil && !isLoopback(host) {
			v.fail("purge.bus.listen", "%q: the embedded NATS server listens on loopback only (127.0.0.1, ::1 or localhost); join a cluster with purge.bus.urls instead", b.Listen)
		}
		if b.Replicas > 1 {
			v.fail("purge.bus.replicas", "must be 1 with the embedded server, not %d: replicas need a NATS cluster (purge.bus.urls)", b.Replicas)
		}
		if b.CredentialsFile != "" {
			v.fail("purge.bus.credentials_file", "is for purge.bus.urls; the embedded server needs none")
		}
	}
	if b.CredentialsFile != "" {
		if _, err := os.Stat(b.CredentialsFile); err != nil {
			v.fail("purge.bus.credentials_file", "%v", err)
		}
	}
	if !isNATSName(b.Stream) {
		v.fail("purge.bus.stream", "%q: use letters, digits, '-' and '_' only", b.Stream)
	}
	for _, tok := range strings.Split(b.Subject, ".") {
		if !isNATSName(tok) {
			v.fail("purge.bus.subject", "%q: use dot-separated names of letters, digits, '-' and '_' (no wildcards)", b.Subject)
			break
		}
	}
	if b.Replicas < 1 || b.Replicas > 5 {
		v.fail("purge.bus.replicas", "must be from 1 to 5, not %d", b.Replicas)
	}
	v.positive("purge.bus.connect_timeout", b.ConnectTimeout)
	v.positive("purge.bus.catch_up_timeout", b.CatchUpTimeout)
}

// adminTokens validates admin.tokens and admin.token_file and sets
// a.Credentials.
func (v *validator) adminTokens(a *Admin) {
	a.Credentials = nil
	seen := map[string]string{} // token → key that first had it
	// check validates t, found at key k; where, when set, is the token
	// file's line, and the messages name it instead of the fields' keys.
	check := func(k, where string, t AdminToken) {
		field := func(name string) (string, string) {
			if where != "" {
				return k, where + ": " + name + " "
			}
			return k + "." + name, ""
		}
		ok := true
		if fk, pre := field("name"); !isToken(t.Name) {
			v.fail(fk, "%s%q is not a valid name (an RFC 9110 token)", pre, t.Name)
			ok = false
		}
		fk, pre := field("token")
		if len(t.Token) < minAdminTokenLen || !isB64Token(t.Token) {
			v.fail(fk, "%smust be at least %d characters of A-Z a-z 0-9 - . _ ~ + /", pre, minAdminTokenLen)
			ok = false
		} else if first, dup := seen[t.Token]; dup {
			v.fail(fk, "%sis the same token as %s", pre, first)
			ok = false
		} else {
			seen[t.Token] = strings.TrimSpace(k + " " + where)
		}
		fk, pre = field("scopes")
		if len(t.Scopes) == 0 {
			v.fail(fk, "%sat least one scope is required: %q or %q", pre, ScopePurge, ScopeAdmin)
			ok = false
		}
		for _, s := range t.Scopes {
			if s != ScopePurge && s != ScopeAdmin {
				v.fail(fk, "%s%q is not a scope: %q or %q", pre, s, ScopePurge, ScopeAdmin)
				ok = false
			}
		}
		if ok {
			a.Credentials = append(a.Credentials, t)
		}
	}
	for i, t := range a.Tokens {
		check(index("admin.tokens", i), "", t)
	}
	if a.TokenFile == "" {
		return
	}
	data, err := os.ReadFile(a.TokenFile)
	if err != nil {
		v.fail("admin.token_file", "%v", err)
		return
	}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		where := fmt.Sprintf("%s line %d", filepath.Base(a.TokenFile), n+1)
		if len(f) != 3 {
			v.fail("admin.token_file", "%s: want NAME SCOPES TOKEN (scopes comma-separated), got %d fields", where, len(f))
			continue
		}
		check("admin.token_file", where, AdminToken{Name: f[0], Scopes: strings.Split(f[1], ","), Token: f[2]})
	}
}

// isLoopback reports whether host names a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// isNATSName reports whether s is a non-empty name of letters, digits,
// '-' and '_': safe as a stream, consumer or subject token.
func isNATSName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isNodeID reports whether s is a valid purge.node_id.
func isNodeID(s string) bool { return len(s) <= maxNodeIDLen && isNATSName(s) }

// isB64Token reports whether s is an RFC 6750 b64token: the characters
// of a bearer token.
func isB64Token(s string) bool {
	t := strings.TrimRight(s, "=")
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// notTagHeaders are the response fields purge.tag_headers may not name:
// tag headers are stripped from client responses, and these carry the
// framing, the representation or what downstream caches go by.
var notTagHeaders = [...]string{
	"Age", "Cache-Control", "Cache-Status", "Connection", "Content-Encoding", "Content-Length",
	"Content-Range", "Content-Type", "Date", "Etag", "Expires", "Last-Modified", "Transfer-Encoding", "Vary",
}
