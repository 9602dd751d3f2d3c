package routing

import (
	"crypto/tls"

	"github.com/popcache/popcache/conf"
)

// originTLSConfig is the TLS client configuration of an origin's https
// servers: the one conf built at validation (CA bundle, client
// certificate, server name, verification), cloned, or, for an origin that
// was not validated, one from InsecureSkipVerify and HostHeader alone.
//
// The server name is the Host the servers answer for, when host_header
// sets it, so that it is what SNI names and verification checks; by
// default crypto/tls takes each server URL's host.
func originTLSConfig(o *conf.Origin) *tls.Config {
	if cc := o.TLS.ClientConfig; cc != nil {
		return cc.Clone()
	}
	c := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify}
	if o.HostHeader != "" {
		c.ServerName = hostOnly(o.HostHeader)
	}
	return c
}
