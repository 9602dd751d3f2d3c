package conf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TLS configures TLS termination on the client-facing side: the TLS
// listeners, their certificates and HTTP/3.
type TLS struct {
	// Listen lists host:port addresses served over TLS: HTTP/1.1 and HTTP/2
	// (chosen by ALPN) on TCP and, unless HTTP3.Disabled, HTTP/3 on UDP at
	// the same address. Default none: no TLS. Setting it requires at least
	// one [[tls.certs]].
	Listen []string `toml:"listen"`
	// MinVersion is the oldest TLS version accepted: "1.2" (the default) or
	// "1.3". TLS 1.3 is always the newest. TLS 1.2 is limited to ECDHE key
	// exchange with AES-GCM or ChaCha20-Poly1305; TLS 1.3 has only AEAD
	// suites and (EC)DHE key exchange anyway.
	MinVersion string `toml:"min_version"`
	// HandshakeTimeout bounds a TCP connection's PROXY header and TLS
	// handshake together. Default 10s.
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	// ReloadInterval is how often the certificate and key files are checked
	// for changes (size or modification time); changed files are reloaded
	// without dropping connections. SIGHUP reloads at once. Default 30s.
	ReloadInterval Duration `toml:"reload_interval"`
	// ProxyProtocol requires a PROXY protocol (v1 or v2) header at the start
	// of every TCP connection to Listen, and takes the client address from
	// it. Only for listeners that a load balancer alone can reach: anyone
	// who can connect can claim any address. Default false: a header is not
	// understood, and the connection fails.
	ProxyProtocol bool `toml:"proxy_protocol"`
	// Certs are the certificates, chosen by the client's SNI: an exact name
	// first, then a wildcard, then the default certificate.
	Certs []TLSCert `toml:"certs"`
	// HTTP3 configures HTTP/3 (QUIC) on the TLS addresses.
	HTTP3 HTTP3 `toml:"http3"`

	// MinVersionID is MinVersion as a crypto/tls constant; set by Validate.
	MinVersionID uint16 `toml:"-"`
	// DefaultCert is the index in Certs of the certificate served when the
	// SNI matches no name (or is absent): the one marked default, else the
	// first. Set by Validate.
	DefaultCert int `toml:"-"`
}

// TLSCert is one certificate and its private key, or a self-signed
// certificate made at start.
type TLSCert struct {
	// CertFile is a PEM file: the certificate, then its intermediates. A
	// relative path is relative to the config file's directory. Required
	// unless SelfSigned.
	CertFile string `toml:"cert_file"`
	// KeyFile is the PEM private key of CertFile. Required unless SelfSigned.
	KeyFile string `toml:"key_file"`
	// SelfSigned makes a fresh self-signed certificate for Names each time
	// the node starts, instead of reading files: for the demo and for tests,
	// never for clients that verify. Not with CertFile or KeyFile.
	SelfSigned bool `toml:"self_signed"`
	// Names are the SNI names this certificate answers for: exact
	// ("example.com") or a wildcard of one label ("*.example.com"). A
	// self-signed certificate may also name IP addresses, which go into the
	// certificate but are never matched (SNI carries no IPs). Default: the
	// DNS names in the certificate. Required when SelfSigned.
	Names []string `toml:"names"`
	// Default makes this the certificate for SNI names no certificate
	// answers for, and for clients that send none. At most one; default the
	// first certificate.
	Default bool `toml:"default"`

	// CertPath and KeyPath are CertFile and KeyFile resolved against the
	// config file's directory; set by Validate.
	CertPath string `toml:"-"`
	KeyPath  string `toml:"-"`
	// Certificate is the pair read by Validate (Leaf set); nil when
	// SelfSigned.
	Certificate *tls.Certificate `toml:"-"`
	// SNINames are the lower-cased DNS names (exact and "*.") matched
	// against SNI: Names without IPs, or the certificate's DNS names. Set
	// by Validate.
	SNINames []string `toml:"-"`
}

// HTTP3 configures HTTP/3 on the TLS listeners.
type HTTP3 struct {
	// Disabled turns HTTP/3 off: no UDP sockets, no Alt-Svc. Default false.
	Disabled bool `toml:"disabled"`
	// MaxStreams caps the concurrent requests (bidirectional streams) of
	// one QUIC connection. Default 100.
	MaxStreams int `toml:"max_streams"`
	// IdleTimeout closes a QUIC connection idle this long. Default 30s.
	IdleTimeout Duration `toml:"idle_timeout"`
	// Allow0RTT accepts requests in 0-RTT early data, which an attacker can
	// replay: the node then answers only GET, HEAD and OPTIONS in early data
	// and tells the client to retry the others after the handshake (425
	// Too Early). Default false.
	Allow0RTT bool `toml:"allow_0rtt"`
	// AltSvcMaxAge is how long clients may remember the Alt-Svc
	// advertisement sent on HTTP/1.1 and HTTP/2 responses over TLS.
	// Default 24h.
	AltSvcMaxAge Duration `toml:"alt_svc_max_age"`
}

// OriginTLS configures the TLS connections to an origin's https servers.
type OriginTLS struct {
	// ServerName is the name sent as SNI and verified in the server's
	// certificate. Default: the host of Origin.HostHeader if set, else the
	// host of each server's URL.
	ServerName string `toml:"server_name"`
	// CAFile is a PEM bundle of the certificate authorities trusted for
	// this origin, instead of the system's. Default: the system's.
	CAFile string `toml:"ca_file"`
	// CertFile and KeyFile are a client certificate (mutual TLS) presented
	// to the origin. Both or neither. Read once, at load.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// HTTP2 offers HTTP/2 (ALPN "h2") to the origin's https servers, used
	// when they accept it; false speaks HTTP/1.1 only. Default true.
	HTTP2 *bool `toml:"http2"`

	// ClientConfig is the TLS client configuration of the origin's https
	// servers (roots, client certificate, server name, verification); set
	// by Validate, nil when the origin has no https server. Never modify
	// it: clone it.
	ClientConfig *tls.Config `toml:"-"`
}

// OffersHTTP2 reports whether HTTP/2 is offered to the origin.
func (t *OriginTLS) OffersHTTP2() bool { return t.HTTP2 == nil || *t.HTTP2 }

// RouteHTTPS configures how a route treats plain HTTP and HTTPS clients.
type RouteHTTPS struct {
	// Redirect answers every request that arrives on a plain listener with
	// 308 Permanent Redirect to the same URL over https. Requires
	// tls.listen. Default false.
	Redirect bool `toml:"redirect"`
	// RedirectPort is the port written in redirects. Default: the port of
	// tls.listen[0] (the actual one when that is 0); left out when 443.
	RedirectPort int `toml:"redirect_port"`
	// HSTSMaxAge, when set, adds Strict-Transport-Security with this
	// max-age to every response over TLS (never over plain HTTP, as RFC
	// 6797 requires). Whole seconds. Default 0: no HSTS.
	HSTSMaxAge Duration `toml:"hsts_max_age"`
	// HSTSIncludeSubdomains adds includeSubDomains. Default false.
	HSTSIncludeSubdomains bool `toml:"hsts_include_subdomains"`
	// HSTSPreload adds preload; it needs HSTSIncludeSubdomains and a
	// max-age of at least a year (the preload lists' rules). Default false.
	HSTSPreload bool `toml:"hsts_preload"`

	// HSTS is the Strict-Transport-Security value, "" when off; set by
	// Validate.
	HSTS string `toml:"-"`
}

// Key.Scheme values.
const (
	// KeySchemeRequest keys on the scheme the client used: http and https
	// requests for the same URL are different objects. The default.
	KeySchemeRequest = "request"
	// KeySchemeHTTPS keys every request as https, so clients over plain
	// HTTP (h1, h2c) and over TLS (h1, h2, h3) share one object. Only for
	// origins that answer both alike: an origin that redirects http to
	// https would have that redirect served to https clients, in a loop.
	KeySchemeHTTPS = "https"
)

// TLS defaults; see the field docs.
const (
	defaultTLSMinVersion       = "1.2"
	defaultTLSHandshakeTimeout = Duration(10 * time.Second)
	defaultTLSReloadInterval   = Duration(30 * time.Second)
	defaultHTTP3MaxStreams     = 100
	defaultHTTP3IdleTimeout    = Duration(30 * time.Second)
	defaultAltSvcMaxAge        = Duration(24 * time.Hour)
	// hstsPreloadMinAge is the shortest max-age the HSTS preload lists take.
	hstsPreloadMinAge = Duration(365 * 24 * time.Hour)
)

// ensureTLSDefaults fills the unset fields of the TLS section and of every
// origin's TLS section. Key.Scheme keeps "" for its default, "request".
func (c *Config) ensureTLSDefaults() {
	t := &c.TLS
	setDefault(&t.MinVersion, defaultTLSMinVersion)
	setDefault(&t.HandshakeTimeout, defaultTLSHandshakeTimeout)
	setDefault(&t.ReloadInterval, defaultTLSReloadInterval)
	setDefault(&t.HTTP3.MaxStreams, defaultHTTP3MaxStreams)
	setDefault(&t.HTTP3.IdleTimeout, defaultHTTP3IdleTimeout)
	setDefault(&t.HTTP3.AltSvcMaxAge, defaultAltSvcMaxAge)
	for i := range c.Origins {
		if c.Origins[i].TLS.HTTP2 == nil {
			c.Origins[i].TLS.HTTP2 = ptr(true)
		}
	}
}

// tls checks and provisions the TLS section, the origins' TLS sections
// and the routes' HTTPS sections. It reads the certificate and key files,
// so that a missing or mismatched pair fails the load.
func (v *validator) tls(c *Config) {
	dir := configDir(c.Source)
	t := &c.TLS
	switch t.MinVersion {
	case "1.2":
		t.MinVersionID = tls.VersionTLS12
	case "1.3":
		t.MinVersionID = tls.VersionTLS13
	default:
		v.fail("tls.min_version", "must be \"1.2\" or \"1.3\", not %q", t.MinVersion)
	}
	v.positive("tls.handshake_timeout", t.HandshakeTimeout)
	v.positive("tls.reload_interval", t.ReloadInterval)
	v.positive("tls.http3.idle_timeout", t.HTTP3.IdleTimeout)
	if t.HTTP3.MaxStreams < 1 {
		v.fail("tls.http3.max_streams", "must be at least 1, not %d", t.HTTP3.MaxStreams)
	}
	if t.HTTP3.AltSvcMaxAge < Duration(time.Second) {
		v.fail("tls.http3.alt_svc_max_age", "must be at least 1s, not %v", t.HTTP3.AltSvcMaxAge)
	}
	for i, a := range t.Listen {
		v.listenAddr(index("tls.listen", i), a)
	}
	v.tlsSharedListeners(c)
	if len(t.Listen) > 0 && len(t.Certs) == 0 {
		v.fail("tls.certs", "at least one [[tls.certs]] is required with tls.listen")
	}
	t.DefaultCert = 0
	defaults := 0
	for i := range t.Certs {
		cert := &t.Certs[i]
		k := index("tls.certs", i)
		v.tlsCert(k, dir, cert)
		if cert.Default {
			defaults++
			if defaults == 1 {
				t.DefaultCert = i
			} else {
				v.fail(k+".default", "only one certificate can be the default (%s already is)", index("tls.certs", t.DefaultCert))
			}
		}
	}
	for i := range c.Origins {
		v.originTLS(index("origins", i), dir, &c.Origins[i])
	}
	for i := range c.Routes {
		v.routeHTTPS(index("routes", i)+".https", &c.Routes[i].HTTPS, t)
	}
}

// tlsCert checks one [[tls.certs]] and loads its pair.
func (v *validator) tlsCert(k, dir string, c *TLSCert) {
	c.Certificate, c.SNINames = nil, nil
	c.CertPath, c.KeyPath = resolvePath(dir, c.CertFile), resolvePath(dir, c.KeyFile)
	names := make([]string, 0, len(c.Names))
	for j, n := range c.Names {
		name, isIP, err := certName(n)
		switch {
		case err != nil:
			v.fail(index(k+".names", j), "%v", err)
		case isIP && !c.SelfSigned:
			v.fail(index(k+".names", j), "%q is an IP address: SNI never carries one (leave it out, or mark the certificate default)", n)
		case !isIP:
			names = append(names, name)
		}
	}
	if c.SelfSigned {
		if c.CertFile != "" {
			v.fail(k+".cert_file", "cannot be used with self_signed")
		}
		if c.KeyFile != "" {
			v.fail(k+".key_file", "cannot be used with self_signed")
		}
		if len(c.Names) == 0 {
			v.fail(k+".names", "a self-signed certificate needs at least one name")
		}
		c.SNINames = names
		return
	}
	missing := false
	if c.CertFile == "" {
		v.fail(k+".cert_file", "is required (or set self_signed)")
		missing = true
	}
	if c.KeyFile == "" {
		v.fail(k+".key_file", "is required (or set self_signed)")
		missing = true
	}
	if missing {
		return
	}
	pair, err := c.Load()
	if err != nil {
		var ke *certKeyError
		if errors.As(err, &ke) {
			v.fail(k+"."+ke.key, "%v", ke.err)
		} else {
			v.fail(k, "%v", err)
		}
		return
	}
	c.Certificate = pair
	if len(c.Names) == 0 {
		for _, n := range pair.Leaf.DNSNames {
			if name, isIP, err := certName(n); err == nil && !isIP {
				names = append(names, name)
			}
		}
		if len(names) == 0 && !c.Default {
			v.fail(k+".names", "%s has no DNS names: list the names it answers for, or mark it default", c.CertFile)
		}
	}
	c.SNINames = names
}

// certKeyError is a failure to load a cert or key file, with the key
// ("cert_file" or "key_file") to blame.
type certKeyError struct {
	key string
	err error
}

func (e *certKeyError) Error() string { return e.key + ": " + e.err.Error() }
func (e *certKeyError) Unwrap() error { return e.err }

// Load reads the certificate and key files (CertPath and KeyPath, set by
// Validate) and returns the pair with its Leaf parsed. It fails if either
// file is missing or unreadable, if they are not PEM, if the key does not
// match the certificate, or if the certificate has expired. The edge calls
// it again to reload changed files.
func (c *TLSCert) Load() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(c.CertPath)
	if err != nil {
		return nil, &certKeyError{"cert_file", fileError(err)}
	}
	keyPEM, err := os.ReadFile(c.KeyPath)
	if err != nil {
		return nil, &certKeyError{"key_file", fileError(err)}
	}
	if !strings.Contains(string(certPEM), "CERTIFICATE-----") {
		return nil, &certKeyError{"cert_file", fmt.Errorf("%s holds no PEM certificate", c.CertFile)}
	}
	if !strings.Contains(string(keyPEM), "PRIVATE KEY-----") {
		return nil, &certKeyError{"key_file", fmt.Errorf("%s holds no PEM private key", c.KeyFile)}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &certKeyError{"key_file", fmt.Errorf("%s and %s are not a pair: %v", c.CertFile, c.KeyFile, err)}
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, &certKeyError{"cert_file", fmt.Errorf("%s: %v", c.CertFile, err)}
		}
	}
	if now := time.Now(); now.After(pair.Leaf.NotAfter) {
		return nil, &certKeyError{"cert_file", fmt.Errorf("%s expired on %s", c.CertFile, pair.Leaf.NotAfter.UTC().Format(time.RFC3339))}
	}
	return &pair, nil
}

// FileStamp identifies the contents of a cert and key file pair by size
// and modification time, to notice changes cheaply.
type FileStamp struct {
	certSize, keySize int64
	certMod, keyMod   time.Time
}

// Stamp returns the current FileStamp of the pair's files.
func (c *TLSCert) Stamp() (FileStamp, error) {
	ci, err := os.Stat(c.CertPath)
	if err != nil {
		return FileStamp{}, fmt.Errorf("conf: stat %s: %w", c.CertPath, err)
	}
	ki, err := os.Stat(c.KeyPath)
	if err != nil {
		return FileStamp{}, fmt.Errorf("conf: stat %s: %w", c.KeyPath, err)
	}
	return FileStamp{certSize: ci.Size(), keySize: ki.Size(), certMod: ci.ModTime(), keyMod: ki.ModTime()}, nil
}

// fileError shortens an *fs.PathError to its operation and cause, the path
// being in the message already or beside it.
func fileError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot read %s: %v", pe.Path, pe.Err)
	}
	return err
}

// certName checks a certificate name and returns it lower-cased, or
// reports it is an IP address.
func certName(n string) (name string, isIP bool, err error) {
	if _, err := netip.ParseAddr(n); err == nil {
		return n, true, nil
	}
	name = strings.ToLower(strings.TrimSuffix(n, "."))
	host := strings.TrimPrefix(name, "*.")
	if host == "" || strings.Contains(host, "*") || !isDNSName(host) {
		return "", false, fmt.Errorf("%q is not a DNS name or a wildcard of one label like \"*.example.com\"", n)
	}
	return name, false, nil
}

// isDNSName reports whether s is dot-separated labels of letters, digits,
// hyphens and underscores.
func isDNSName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// tlsSharedListeners reports a tls.listen address used twice, or also by a
// plain, admin or demo listener (all are TCP).
func (v *validator) tlsSharedListeners(c *Config) {
	seen := map[string]string{}
	for i, a := range c.Server.Listen {
		seen[a] = index("server.listen", i)
	}
	if !c.Admin.Disabled {
		seen[c.Admin.Listen] = "admin.listen"
	}
	if c.Demo.Enabled {
		seen[c.Demo.Listen] = "demo.listen"
	}
	for i, a := range c.TLS.Listen {
		k := index("tls.listen", i)
		if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
			continue
		}
		if first, ok := seen[a]; ok {
			v.fail(k, "%q is already used by %s", a, first)
			continue
		}
		seen[a] = k
	}
}

// originTLS checks an origin's TLS section and builds its ClientConfig.
func (v *validator) originTLS(k, dir string, o *Origin) {
	t := &o.TLS
	t.ClientConfig = nil
	k += ".tls"
	https := false
	for _, s := range o.Servers {
		https = https || (s.Parsed != nil && s.Parsed.Scheme == "https")
	}
	if !https {
		if t.ServerName != "" || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" {
			v.fail(k, "is set but no server of this origin uses https")
		}
		return
	}
	cc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify}
	switch {
	case t.ServerName != "":
		name, isIP, err := certName(t.ServerName)
		if err != nil || strings.HasPrefix(name, "*.") {
			v.fail(k+".server_name", "%q is not a host name or IP address", t.ServerName)
		}
		if isIP {
			name = t.ServerName
		}
		cc.ServerName = name
	case o.HostHeader != "":
		if h, _, err := net.SplitHostPort(o.HostHeader); err == nil {
			cc.ServerName = h
		} else {
			cc.ServerName = o.HostHeader
		}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(resolvePath(dir, t.CAFile))
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			v.fail(k+".ca_file", "%v", fileError(err))
		case !pool.AppendCertsFromPEM(pem):
			v.fail(k+".ca_file", "%s holds no PEM certificate", t.CAFile)
		default:
			cc.RootCAs = pool
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		client := TLSCert{CertFile: t.CertFile, KeyFile: t.KeyFile,
			CertPath: resolvePath(dir, t.CertFile), KeyPath: resolvePath(dir, t.KeyFile)}
		pair, err := client.Load()
		var ke *certKeyError
		switch {
		case errors.As(err, &ke):
			v.fail(k+"."+ke.key, "%v", ke.err)
		case err != nil:
			v.fail(k, "%v", err)
		default:
			cc.Certificates = []tls.Certificate{*pair}
		}
	case t.CertFile != "":
		v.fail(k+".key_file", "is required with cert_file")
	case t.KeyFile != "":
		v.fail(k+".cert_file", "is required with key_file")
	}
	t.ClientConfig = cc
}

// routeHTTPS checks a route's HTTPS section and derives its HSTS value.
func (v *validator) routeHTTPS(k string, h *RouteHTTPS, t *TLS) {
	h.HSTS = ""
	if h.Redirect && len(t.Listen) == 0 {
		v.fail(k+".redirect", "needs tls.listen: there is no https listener to redirect to")
	}
	if h.RedirectPort < 0 || h.RedirectPort > 65535 {
		v.fail(k+".redirect_port", "must be a port from 1 to 65535, not %d", h.RedirectPort)
	}
	if h.RedirectPort == 0 && h.Redirect && len(t.Listen) > 0 {
		if _, port, err := net.SplitHostPort(t.Listen[0]); err == nil {
			h.RedirectPort, _ = strconv.Atoi(port)
		}
	}
	if h.HSTSMaxAge == 0 {
		if h.HSTSIncludeSubdomains {
			v.fail(k+".hsts_include_subdomains", "needs hsts_max_age")
		}
		if h.HSTSPreload {
			v.fail(k+".hsts_preload", "needs hsts_max_age")
		}
		return
	}
	if h.HSTSMaxAge%Duration(time.Second) != 0 {
		v.fail(k+".hsts_max_age", "must be whole seconds, not %v", h.HSTSMaxAge)
	}
	if h.HSTSPreload && (!h.HSTSIncludeSubdomains || h.HSTSMaxAge < hstsPreloadMinAge) {
		v.fail(k+".hsts_preload", "needs hsts_include_subdomains and an hsts_max_age of at least %v", hstsPreloadMinAge)
	}
	var b strings.Builder
	b.WriteString("max-age=")
	b.WriteString(strconv.FormatInt(int64(h.HSTSMaxAge.D()/time.Second), 10))
	if h.HSTSIncludeSubdomains {
		b.WriteString("; includeSubDomains")
	}
	if h.HSTSPreload {
		b.WriteString("; preload")
	}
	h.HSTS = b.String()
}

// keyScheme checks a key recipe's scheme.
func (v *validator) keyScheme(k, scheme string) {
	switch scheme {
	case "", KeySchemeRequest, KeySchemeHTTPS:
	default:
		v.fail(k, "must be %q or %q, not %q", KeySchemeRequest, KeySchemeHTTPS, scheme)
	}
}

// configDir is the directory relative paths in a config are resolved
// against: the config file's, or the working directory for configs not
// read from a file ("<embedded>", "<flags>").
func configDir(source string) string {
	if source == "" || strings.HasPrefix(source, "<") {
		return "."
	}
	return filepath.Dir(source)
}

// resolvePath resolves p against dir unless it is absolute or empty.
func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
