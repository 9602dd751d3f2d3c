package conf

import (
	"fmt"
	"slices"
	"time"
)

// Roles a node can play.
const (
	// RoleEdge is a node that clients connect to. The default.
	RoleEdge = "edge"
	// RoleShield is a node that edges connect to, in front of the origins.
	RoleShield = "shield"
)

// Defaults, as the field docs in config.go state them. NB: when changing
// one, change the doc comment and default.toml too.
const (
	defaultListen              = "127.0.0.1:8080"
	defaultName                = "popcache"
	defaultMaxHeaderBytes      = 64 * KiB
	defaultMaxURIBytes         = 8 * KiB
	defaultMaxRequestBodyBytes = 100 * MiB
	defaultReadHeaderTimeout   = Duration(10 * time.Second)
	defaultReadTimeout         = Duration(60 * time.Second)
	defaultWriteTimeout        = Duration(300 * time.Second)
	defaultIdleTimeout         = Duration(75 * time.Second)
	defaultShutdownTimeout     = Duration(30 * time.Second)
	defaultEventLoopSlice      = Duration(200 * time.Microsecond)

	defaultAdminListen = "127.0.0.1:9090"
	defaultDemoListen  = "127.0.0.1:8081"

	defaultMemoryMaxBytes = 512 * MiB
	defaultMaxObjectBytes = 64 * MiB
	// defaultSendfileMinBytes: from 16 KiB up, a body written with
	// sendfile(2) from a memory file answered more hits per second than
	// one copied with writev(2), measured (bench/PROFILE.md, "Bodies in
	// memory files"); 32 KiB keeps the descriptors to larger bodies.
	defaultSendfileMinBytes = 32 * KiB
	defaultFillTimeout      = Duration(60 * time.Second)
	defaultHitForMissTTL    = Duration(30 * time.Second)

	defaultHeuristicFraction = 0.1
	defaultHeuristicMax      = Duration(24 * time.Hour)
	// defaultStaleIfUnreachable is Varnish's default grace.
	defaultStaleIfUnreachable = 10 * time.Second
	defaultKeyQuery           = "all"

	defaultBalance              = "round_robin"
	defaultWeight               = 1
	defaultConnectTimeout       = Duration(5 * time.Second)
	defaultHeaderTimeout        = Duration(30 * time.Second)
	defaultUpstreamIdle         = Duration(90 * time.Second)
	defaultMaxIdleConns         = 128
	defaultHealthInterval       = Duration(5 * time.Second)
	defaultHealthTimeout        = Duration(2 * time.Second)
	defaultHealthRise           = 2
	defaultHealthFall           = 3
	defaultPassiveMaxFails      = 5
	defaultPassiveEject         = Duration(30 * time.Second)
	minMemoryMaxBytes      Size = 1 * MiB
)

// defaultTargetedHeaders returns a fresh copy of the default
// Policy.TargetedHeaders.
func defaultTargetedHeaders() []string {
	return []string{"CDN-Cache-Control", "Surrogate-Control"}
}

// builtinPolicy returns the built-in cache policy, every field set, for a
// node of the given role. A shield keeps targeted headers on its responses
// by default, so that the edges behind it see and obey them too.
func builtinPolicy(role string) Policy {
	return Policy{
		Enabled:              ptr(true),
		DefaultTTL:           ptr(Duration(0)),
		HeuristicFraction:    ptr(defaultHeuristicFraction),
		HeuristicMax:         ptr(defaultHeuristicMax),
		StaleWhileRevalidate: ptr(Duration(0)),
		StaleIfError:         ptr(Duration(0)),
		StaleIfUnreachable:   ptr(Duration(defaultStaleIfUnreachable)),
		AllowSetCookie:       ptr(false),
		TargetedHeaders:      defaultTargetedHeaders(),
		StripTargetedHeaders: ptr(role != RoleShield),
		Key:                  &Key{Query: defaultKeyQuery},
	}
}

func ptr[T any](v T) *T { return &v }

// EnsureDefaults fills every unset field (zero, nil or empty string; a nil
// list, but not an explicitly empty one) with its documented default. It is
// idempotent and leaves set fields alone. Cache.Policy ends up with every
// field set; a route's own Cache stays as written (its unset fields inherit
// Cache.Policy in Route.Effective, which Validate computes). Routes without
// a name are named "route-N", N being their index.
func (c *Config) EnsureDefaults() {
	if c.Role == "" {
		c.Role = RoleEdge
	}
	c.Server.ensureDefaults()
	if !c.Admin.Disabled && c.Admin.Listen == "" {
		c.Admin.Listen = defaultAdminListen
	}
	if c.Demo.Listen == "" {
		c.Demo.Listen = defaultDemoListen
	}
	c.Cache.ensureDefaults(c.Role)
	c.Shield.ensureDefaults()
	c.Purge.ensureDefaults(c.Role)
	c.ensureTLSDefaults()
	for i := range c.Origins {
		c.Origins[i].ensureDefaults()
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Name == "" {
			r.Name = fmt.Sprintf("route-%d", i)
		}
		if r.Cache.Key != nil && r.Cache.Key.Query == "" {
			r.Cache.Key.Query = defaultKeyQuery
		}
	}
}

func (s *Server) ensureDefaults() {
	if s.Listen == nil {
		s.Listen = []string{defaultListen}
	}
	setDefault(&s.Name, defaultName)
	setDefault(&s.MaxHeaderBytes, defaultMaxHeaderBytes)
	setDefault(&s.MaxURIBytes, defaultMaxURIBytes)
	setDefault(&s.MaxRequestBodyBytes, defaultMaxRequestBodyBytes)
	setDefault(&s.ReadHeaderTimeout, defaultReadHeaderTimeout)
	setDefault(&s.ReadTimeout, defaultReadTimeout)
	setDefault(&s.WriteTimeout, defaultWriteTimeout)
	setDefault(&s.IdleTimeout, defaultIdleTimeout)
	setDefault(&s.ShutdownTimeout, defaultShutdownTimeout)
	if s.EventLoopSlice == nil {
		s.EventLoopSlice = ptr(defaultEventLoopSlice)
	}
	if s.EventLoopPin == nil {
		s.EventLoopPin = ptr(true)
	}
}

func (c *Cache) ensureDefaults(role string) {
	setDefault(&c.MemoryMaxBytes, defaultMemoryMaxBytes)
	setDefault(&c.MaxObjectBytes, defaultMaxObjectBytes)
	if c.SendfileMinBytes == nil {
		c.SendfileMinBytes = ptr(Size(defaultSendfileMinBytes))
	}
	setDefault(&c.FillTimeout, defaultFillTimeout)
	setDefault(&c.HitForMissTTL, defaultHitForMissTTL)
	c.Disk.ensureDefaults()
	c.Policy = c.Policy.over(builtinPolicy(role))
	if c.Policy.Key.Query == "" {
		c.Policy.Key.Query = defaultKeyQuery
	}
}

func (o *Origin) ensureDefaults() {
	setDefault(&o.Balance, defaultBalance)
	for i := range o.Servers {
		setDefault(&o.Servers[i].Weight, defaultWeight)
	}
	setDefault(&o.ConnectTimeout, defaultConnectTimeout)
	setDefault(&o.HeaderTimeout, defaultHeaderTimeout)
	setDefault(&o.IdleTimeout, defaultUpstreamIdle)
	setDefault(&o.MaxIdleConns, defaultMaxIdleConns)
	o.Health.ensureDefaults()
	setDefault(&o.Passive.MaxFails, defaultPassiveMaxFails)
	setDefault(&o.Passive.Eject, defaultPassiveEject)
}

func (h *HealthCheck) ensureDefaults() {
	setDefault(&h.Interval, defaultHealthInterval)
	setDefault(&h.Timeout, defaultHealthTimeout)
	setDefault(&h.Rise, defaultHealthRise)
	setDefault(&h.Fall, defaultHealthFall)
}

// setDefault sets *p to def if *p is the zero value.
func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// over returns p with its unset fields taken from base. Key is one field: a
// set key recipe replaces base's whole recipe. The result shares no memory
// with p or base.
func (p Policy) over(base Policy) Policy {
	out := Policy{
		Enabled:              pick(p.Enabled, base.Enabled),
		DefaultTTL:           pick(p.DefaultTTL, base.DefaultTTL),
		HeuristicFraction:    pick(p.HeuristicFraction, base.HeuristicFraction),
		HeuristicMax:         pick(p.HeuristicMax, base.HeuristicMax),
		StaleWhileRevalidate: pick(p.StaleWhileRevalidate, base.StaleWhileRevalidate),
		StaleIfError:         pick(p.StaleIfError, base.StaleIfError),
		StaleIfUnreachable:   pick(p.StaleIfUnreachable, base.StaleIfUnreachable),
		AllowSetCookie:       pick(p.AllowSetCookie, base.AllowSetCookie),
		StripTargetedHeaders: pick(p.StripTargetedHeaders, base.StripTargetedHeaders),
		Key:                  pick(p.Key, base.Key),
	}
	out.TargetedHeaders = slices.Clone(base.TargetedHeaders)
	if p.TargetedHeaders != nil {
		out.TargetedHeaders = slices.Clone(p.TargetedHeaders)
	}
	if out.Key != nil {
		out.Key = out.Key.clone()
	}
	return out
}

// pick returns a copy of *p if p is set, else a copy of *base (nil if both
// are nil).
func pick[T any](p, base *T) *T {
	if p == nil {
		p = base
	}
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// clone returns a deep copy of k.
func (k *Key) clone() *Key {
	c := *k
	c.QueryInclude = slices.Clone(k.QueryInclude)
	c.QueryExclude = slices.Clone(k.QueryExclude)
	c.Headers = slices.Clone(k.Headers)
	c.Cookies = slices.Clone(k.Cookies)
	return &c
}
