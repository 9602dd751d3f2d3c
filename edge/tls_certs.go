package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/popcache/popcache/conf"
)

// certStore picks the certificate for a TLS handshake by SNI and swaps in
// reloaded certificates without disturbing connections: a handshake reads
// one immutable certSet, and established connections keep the certificate
// they were made with.
type certStore struct {
	cfgs []conf.TLSCert
	def  int // index in cfgs of the default certificate
	log  *slog.Logger
	m    *listenMetrics

	set atomic.Pointer[certSet] // the certificates in use; never nil after newCertStore

	mu     sync.Mutex       // serialises reloads; protects stamps
	stamps []conf.FileStamp // of the files last loaded; zero for self-signed
}

// certSet is one generation of certificates, indexed for SNI lookups.
type certSet struct {
	exact    map[string]*tls.Certificate // by lower-case name
	wildcard map[string]*tls.Certificate // by the suffix after "*."
	def      *tls.Certificate
	certs    []*tls.Certificate // config order
}

// newCertStore builds the store from a validated TLS section: file
// certificates as Validate loaded them, self-signed ones made now.
func newCertStore(t *conf.TLS, log *slog.Logger, m *listenMetrics) (*certStore, error) {
	cs := &certStore{cfgs: t.Certs, def: t.DefaultCert, log: log, m: m, stamps: make([]conf.FileStamp, len(t.Certs))}
	certs := make([]*tls.Certificate, len(t.Certs))
	for i := range t.Certs {
		c := &t.Certs[i]
		switch {
		case c.SelfSigned:
			sc, err := SelfSignedCert(c.Names...)
			if err != nil {
				return nil, err
			}
			certs[i] = &sc
		case c.Certificate != nil:
			certs[i] = c.Certificate
			if st, err := c.Stamp(); err == nil {
				cs.stamps[i] = st
			}
		default:
			return nil, fmt.Errorf("edge: tls: certs[%d] (%s) was not loaded: validate the config first", i, c.CertFile)
		}
	}
	cs.set.Store(cs.index(certs))
	return cs, nil
}

// index builds a certSet. The first certificate to claim a name keeps it.
func (cs *certStore) index(certs []*tls.Certificate) *certSet {
	s := &certSet{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}, certs: certs}
	if len(certs) > 0 {
		s.def = certs[cs.def]
	}
	for i, c := range certs {
		for _, name := range cs.names(i, c) {
			m, key := s.exact, name
			if suffix, ok := strings.CutPrefix(name, "*."); ok {
				m, key = s.wildcard, suffix
			}
			if _, taken := m[key]; !taken {
				m[key] = c
			}
		}
	}
	return s
}

// names are the SNI names of certificate i: configured, or the DNS names
// of the certificate as loaded now (they may change on reload).
func (cs *certStore) names(i int, c *tls.Certificate) []string {
	cfg := &cs.cfgs[i]
	if len(cfg.Names) > 0 || c.Leaf == nil {
		return cfg.SNINames
	}
	names := make([]string, 0, len(c.Leaf.DNSNames))
	for _, n := range c.Leaf.DNSNames {
		names = append(names, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	return names
}

// getCertificate is tls.Config.GetCertificate: an exact name, then a
// wildcard of the name's first label, then the default. It never fails:
// a client with an unknown name gets the default certificate and decides
// for itself.
func (cs *certStore) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	set := cs.set.Load()
	// crypto/tls refuses a trailing dot but keeps the client's case;
	// ToLower returns the string itself when it has no upper case.
	name := strings.ToLower(hello.ServerName)
	if c, ok := set.exact[name]; ok {
		return c, nil
	}
	if _, suffix, ok := strings.Cut(name, "."); ok {
		if c, ok := set.wildcard[suffix]; ok {
			return c, nil
		}
	}
	return set.def, nil
}

// reload re-reads every certificate file. It is all or nothing: if one
// pair fails to load, the certificates in use stay and the error names
// the pair. force reloads unchanged files too.
func (cs *certStore) reload(force bool) (changed bool, err error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	old := cs.set.Load()
	certs := make([]*tls.Certificate, len(old.certs))
	stamps := make([]conf.FileStamp, len(cs.stamps))
	for i := range cs.cfgs {
		c := &cs.cfgs[i]
		certs[i] = old.certs[i]
		if c.SelfSigned {
			continue
		}
		st, err := c.Stamp()
		if err != nil {
			return false, fmt.Errorf("edge: tls: reload certs[%d]: %w", i, err)
		}
		stamps[i] = st
		if st == cs.stamps[i] && !force {
			continue
		}
		pair, err := c.Load()
		if err != nil {
			return false, fmt.Errorf("edge: tls: reload certs[%d]: %w", i, err)
		}
		certs[i] = pair
		changed = true
	}
	copy(cs.stamps, stamps)
	if changed {
		cs.set.Store(cs.index(certs))
	}
	return changed, nil
}

// hasFiles reports whether any certificate comes from files.
func (cs *certStore) hasFiles() bool {
	for i := range cs.cfgs {
		if !cs.cfgs[i].SelfSigned {
			return true
		}
	}
	return false
}

// watch reloads changed certificate files every interval until ctx is done.
func (cs *certStore) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cs.reloadAndLog(false)
		}
	}
}

// reloadAndLog reloads, counts and logs the outcome.
func (cs *certStore) reloadAndLog(force bool) error {
	changed, err := cs.reload(force)
	switch {
	case err != nil:
		cs.m.certReloads.WithLabelValues("error").Inc()
		cs.log.Error("certificate reload failed; keeping the certificates in use", "err", err)
	case changed:
		cs.m.certReloads.WithLabelValues("ok").Inc()
		cs.log.Info("certificates reloaded")
	}
	return err
}

// ReloadCerts re-reads every TLS certificate and key file now, changed or
// not, as SIGHUP asks. New handshakes use the new certificates; open
// connections are not touched. On error the certificates in use stay.
func (s *Server) ReloadCerts() error {
	if s.certs == nil {
		return errors.New("edge: reload certificates: TLS is not configured")
	}
	return s.certs.reloadAndLog(true)
}
