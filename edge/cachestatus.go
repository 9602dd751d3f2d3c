package edge

import (
	"strconv"
	"time"
)

// fwd values of RFC 9211 §2.2.
const (
	fwdNone     = ""
	fwdBypass   = "bypass"   // the route does not cache
	fwdMethod   = "method"   // the method is not cacheable
	fwdURIMiss  = "uri-miss" // nothing stored for the URL
	fwdVaryMiss = "vary-miss"
	fwdMiss     = "miss" // stored but unusable (hit-for-miss pass)
	fwdRequest  = "request"
	fwdStale    = "stale" // stored but stale: revalidated
)

// cacheStatus is one Cache-Status entry (RFC 9211) under construction.
type cacheStatus struct {
	hit       bool
	fwd       string
	fwdStatus int
	stored    bool
	collapsed bool
	ttl       time.Duration
	hasTTL    bool
	detail    string
}

// appendTo appends the entry, introduced by the node's name, to dst.
func (c *cacheStatus) appendTo(dst []byte, name string) []byte {
	dst = append(dst, name...)
	if c.hit {
		dst = append(dst, "; hit"...)
	}
	if c.fwd != fwdNone {
		dst = append(dst, "; fwd="...)
		dst = append(dst, c.fwd...)
		if c.fwdStatus != 0 {
			dst = append(dst, "; fwd-status="...)
			dst = strconv.AppendInt(dst, int64(c.fwdStatus), 10)
		}
	}
	if c.stored {
		dst = append(dst, "; stored"...)
	}
	if c.collapsed {
		dst = append(dst, "; collapsed"...)
	}
	if c.hasTTL {
		dst = append(dst, "; ttl="...)
		dst = strconv.AppendInt(dst, int64(c.ttl/time.Second), 10)
	}
	if c.detail != "" {
		dst = append(dst, "; detail="...)
		dst = append(dst, c.detail...)
	}
	return dst
}

// setTTL records the remaining freshness.
func (c *cacheStatus) setTTL(d time.Duration) {
	c.ttl, c.hasTTL = d, true
}

// isPlainHit reports whether c is a fresh hit and nothing more: the form
// whose line depends only on the object and its age (see hitMemo).
func (c *cacheStatus) isPlainHit() bool {
	return c.hit && c.fwd == fwdNone && !c.stored && !c.collapsed && c.detail == "" && c.fwdStatus == 0
}
