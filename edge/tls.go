package edge

import (
	"crypto/tls"

	"github.com/popcache/popcache/conf"
)

// tls12Suites are the TLS 1.2 cipher suites offered: ECDHE key exchange
// with AES-GCM or ChaCha20-Poly1305 only (forward secrecy and AEAD, and
// nothing HTTP/2's cipher blocklist refuses). TLS 1.3's suites cannot be
// configured in crypto/tls and are all AEAD with (EC)DHE already.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLSConfig is the TLS configuration of the TCP listeners: ALPN h2
// then http/1.1, certificates from the store. The QUIC listeners use a
// clone with ALPN h3 (http3 makes it), sharing the store, so a reload
// reaches both.
func serverTLSConfig(t *conf.TLS, certs *certStore) *tls.Config {
	return &tls.Config{
		MinVersion:     t.MinVersionID,
		MaxVersion:     tls.VersionTLS13,
		CipherSuites:   tls12Suites,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: certs.getCertificate,
	}
}
