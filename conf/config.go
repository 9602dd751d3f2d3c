package conf

import (
	"net/netip"
	"net/url"
	"time"
)

// Config is a whole node's configuration, decoded from one TOML file.
// Fields tagged `toml:"-"` are derived at load by [Config.Validate] and are
// the values the rest of the node reads; the hot path parses nothing.
//
// The life of a Config: [Load] or [Parse] (or [Default], [QuickStart])
// decode strictly, run [Config.EnsureDefaults] then [Config.Validate], and
// return it only if all of that succeeded. A Config in use is never
// mutated: a reload builds a new one.
//
// Zero means "default" for every field that documents a default; a file
// cannot set such a number to 0 (Parse refuses it rather than silently
// substituting the default). Fields whose zero is meaningful say so.
type Config struct {
	// Source names where the config came from (a file path, or "<embedded>"):
	// it prefixes every error.
	Source string `toml:"-"`

	// Role is "edge" (the default) or "shield".
	Role string `toml:"role"`
	// Server configures the client-facing listeners.
	Server Server `toml:"server"`
	// TLS configures the TLS listeners, their certificates and HTTP/3.
	TLS TLS `toml:"tls"`
	// Admin configures the admin listener.
	Admin Admin `toml:"admin"`
	// Cache configures the cache tiers and the default cache policy.
	Cache Cache `toml:"cache"`
	// Shield configures the shield tier in front of the origins; none by
	// default. See [Shield].
	Shield Shield `toml:"shield"`
	// Origins are the upstream pools; at least one.
	Origins []Origin `toml:"origins"`
	// Routes map requests to origins. The most specific match wins: host
	// first (exact, then the longest wildcard, then "*"), then path (the
	// longest literal part, prefix before glob), then config order; the
	// routing package doc has the full order. At least one.
	Routes []Route `toml:"routes"`

	// Purge configures the purge API, object tags and the purge bus.
	Purge Purge `toml:"purge"`

	// Demo, when true, also starts the built-in sample origin (see cmd/popcache)
	// on Demo.Listen. It is what the embedded default config uses.
	Demo Demo `toml:"demo"`
}

// Demo configures the built-in sample origin used by the embedded default config.
type Demo struct {
	// Enabled starts the sample origin. Default false.
	Enabled bool `toml:"enabled"`
	// Listen is the sample origin's address. Default "127.0.0.1:8081".
	Listen string `toml:"listen"`
	// ShieldListen, when set, also runs a shield node (role "shield",
	// same origins and routes) on this address in the same process; list
	// it in shield.servers so the edge sends its misses there. Default ""
	// (no demo shield).
	ShieldListen string `toml:"shield_listen"`
}

// Server configures the client-facing listeners and their limits.
type Server struct {
	// Listen lists host:port addresses served with HTTP/1.1 and h2c (HTTP/2
	// with prior knowledge). An empty host means every interface; port 0
	// any free port. Default (when nil) ["127.0.0.1:8080"]; an explicitly
	// empty list is an error.
	Listen []string `toml:"listen"`
	// Name is this node's pseudonym in Via, CDN-Loop and Cache-Status: an
	// RFC 9110 token. Default "popcache".
	Name string `toml:"name"`
	// MaxHeaderBytes caps the request line plus headers. Default 64KiB;
	// larger requests get 431.
	MaxHeaderBytes Size `toml:"max_header_bytes"`
	// MaxURIBytes caps the request target. Default 8KiB; longer gets 414.
	MaxURIBytes Size `toml:"max_uri_bytes"`
	// MaxRequestBodyBytes caps a request body forwarded to the origin.
	// Default 100MiB; larger gets 413.
	MaxRequestBodyBytes Size `toml:"max_request_body_bytes"`
	// ReadHeaderTimeout bounds reading a request's headers. Default 10s.
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included. Default 60s.
	ReadTimeout Duration `toml:"read_timeout"`
	// WriteTimeout bounds writing a response. Default 300s (large bodies to
	// slow clients need room; slow readers are still cut off).
	WriteTimeout Duration `toml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default 75s.
	IdleTimeout Duration `toml:"idle_timeout"`
	// ShutdownTimeout bounds the graceful drain on SIGTERM. Default 30s.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// TrustedProxies lists CIDR prefixes ("10.0.0.0/8") or bare IPs (one
	// address) whose X-Forwarded-For is kept and appended to; from any other
	// peer the header is replaced. Default none.
	TrustedProxies []string `toml:"trusted_proxies"`
	// ProxyProtocol requires a PROXY protocol (v1 or v2) header at the
	// start of every connection to Listen and takes the client address from
	// it (TLS listeners have their own tls.proxy_protocol). Only for
	// listeners that a load balancer alone can reach. Default false.
	ProxyProtocol bool `toml:"proxy_protocol"`
	// EventLoops is how many event loops share the HTTP/1.1 connections
	// of the plain listeners while they wait for a request (Linux only;
	// see edge/h1fast_poll_linux.go): a ready connection is answered by whichever
	// loop runs first, which keeps tail latency low when the CPU is
	// shared. Default 0: one per CPU the process may run on, but no more
	// than GOMAXPROCS (lower under a CPU quota); -1 turns them off,
	// leaving each connection to a goroutine of its own.
	EventLoops int `toml:"event_loops"`
	// EventLoopSlice is how long an event loop serves ready connections
	// in a row before it offers its CPU to any other thread waiting for
	// it (sched_yield; it carries on at once when none is). Without it a
	// loop at saturation is a CPU-bound thread that the kernel preempts
	// only at its tick, and whatever shares its core (clients, TLS and
	// miss goroutines' threads, other processes) waits that long. Default
	// 200µs; "0s" never yields.
	EventLoopSlice *Duration `toml:"event_loop_slice"`
	// EventLoopPin pins each event loop to a CPU of its own, when the
	// loops are one per CPU (event_loops = 0) and Go may run them all at
	// once (GOMAXPROCS at least the CPUs): with the loops spread over the
	// cores, what waits on a core waits behind one loop, which yields to
	// it. Not under a CPU quota (more CPUs allowed than Go uses), or with
	// fewer loops than CPUs: pinned loops of several processes would pile
	// up on the same cores. When it applies, the loops yield
	// (event_loop_slice is not "0s") and the environment does not set
	// GOMAXPROCS, the popcache binary lends Go one P more than CPUs while
	// the loops are saturated, so that goroutines (misses, passes, TLS,
	// HTTP/2) need not wait for a loop to yield (edge.SpareProc). The
	// node's own [server] settings decide it; the demo shield's loops
	// count towards saturation too. Default true.
	EventLoopPin *bool `toml:"event_loop_pin"`

	// TrustedPrefixes is TrustedProxies parsed, host bits masked off, bare
	// IPs as /32 or /128. Never nil after Validate.
	TrustedPrefixes []netip.Prefix `toml:"-"`
}

// Admin configures the admin listener (/metrics, /healthz).
type Admin struct {
	// Listen is the admin address. Default "127.0.0.1:9090"; "" after
	// defaults only if Disabled.
	Listen string `toml:"listen"`
	// Disabled turns the admin listener off. Default false.
	Disabled bool `toml:"disabled"`
	// Pprof serves Go's profiles under /debug/pprof/ on the admin
	// listener, for profiling a node under load. Default false: profiles
	// reveal internals, and a CPU profile costs while it runs.
	Pprof bool `toml:"pprof"`
	// Tokens are the bearer tokens of the admin API's /purge endpoints
	// (see [AdminToken]). Default none: /purge refuses every request.
	Tokens []AdminToken `toml:"tokens"`
	// TokenFile names a file of more tokens, read at load: one per line,
	// NAME SCOPES TOKEN with SCOPES comma-separated; blank lines and lines
	// starting with # are skipped. Default none.
	TokenFile string `toml:"token_file"`

	// Credentials are Tokens and the token file's, validated. Set by
	// Validate.
	Credentials []AdminToken `toml:"-"`
}

// Cache configures the cache tiers and the node-wide cache policy defaults.
type Cache struct {
	// MemoryMaxBytes is the hard cap of the memory tier: bodies, headers,
	// and each object's measured overhead (see cache.entry.cost).
	// Default 512MiB; at least 1MiB.
	MemoryMaxBytes Size `toml:"memory_max_bytes"`
	// MaxObjectBytes is the largest body the memory tier stores; larger
	// responses go to the disk tier only (up to Disk.MaxObjectBytes) or are
	// streamed through uncached. Default 64MiB; at most MemoryMaxBytes.
	MaxObjectBytes Size `toml:"max_object_bytes"`
	// SendfileMinBytes is the smallest body the memory tier keeps outside
	// the Go heap, in a sealed memory file of its own (Linux memfd), so
	// that plain HTTP/1.1 hits write it with sendfile(2) instead of
	// copying it into the socket: nginx's sendfile, from memory. At most a
	// quarter of the process's file-descriptor limit, and of
	// vm.max_map_count, are kept so; past it, and on other systems, bodies
	// stay in the heap. Default 32KiB; 0 keeps every body in the heap.
	SendfileMinBytes *Size `toml:"sendfile_min_bytes"`
	// FillTimeout bounds one coalesced upstream fetch, independent of the
	// clients waiting for it. Default 60s.
	FillTimeout Duration `toml:"fill_timeout"`
	// HitForMissTTL is how long a key whose response was uncacheable is
	// remembered so that later requests go straight upstream instead of
	// queueing behind one another (Varnish's hit-for-miss). Default 30s.
	HitForMissTTL Duration `toml:"hit_for_miss_ttl"`
	// Disk configures the disk tier; off unless Disk.Path is set.
	Disk Disk `toml:"disk"`
	// Policy is the default cache policy of every route; a route's own
	// [routes.cache] overrides it field by field. After EnsureDefaults
	// every field of it is set.
	Policy Policy `toml:"policy"`
}

// Policy is a cache policy. Pointers (and nil versus empty for
// TargetedHeaders) distinguish "unset" from zero, so a route can override a
// node default with false, 0 or []. Durations here may be 0.
type Policy struct {
	// Enabled turns caching on for the route. Default true.
	Enabled *bool `toml:"enabled"`
	// DefaultTTL is the freshness lifetime given to a response of a
	// heuristically cacheable status (200, 203, 204, 300, 301, 308, 404,
	// 405, 410, 414, 501) that carries no explicit freshness (no max-age,
	// s-maxage or Expires), like Varnish's default_ttl or nginx's
	// proxy_cache_valid; when set it takes precedence over the
	// Last-Modified heuristic. Default 0: the heuristic applies, and
	// responses with neither are stored only to be revalidated.
	DefaultTTL *Duration `toml:"default_ttl"`
	// HeuristicFraction is the share of (Date - Last-Modified) used as a
	// heuristic lifetime (RFC 9111 §4.2.2). Default 0.1.
	HeuristicFraction *float64 `toml:"heuristic_fraction"`
	// HeuristicMax caps heuristic lifetimes. Default 24h.
	HeuristicMax *Duration `toml:"heuristic_max"`
	// StaleWhileRevalidate applies when the response says nothing. Default 0.
	StaleWhileRevalidate *Duration `toml:"stale_while_revalidate"`
	// StaleIfError applies when the response says nothing. Default 0.
	StaleIfError *Duration `toml:"stale_if_error"`
	// StaleIfUnreachable is how long past its freshness a stored response
	// may still be served when upstream cannot be reached at all (refused
	// or dropped connections, timeouts; not error statuses): the cache is
	// then disconnected, when RFC 9111 §4.2.4 allows serving stale, as
	// Varnish's grace does. Never under no-cache, must-revalidate,
	// proxy-revalidate or s-maxage. Default 10s; 0 turns it off.
	StaleIfUnreachable *Duration `toml:"stale_if_unreachable"`
	// AllowSetCookie stores responses that carry Set-Cookie (the header is
	// stored and served to everyone). Default false: they are passed through.
	AllowSetCookie *bool `toml:"allow_set_cookie"`
	// TargetedHeaders lists the targeted cache-control fields this cache
	// obeys in order of precedence, before Cache-Control (RFC 9213).
	// Default ["CDN-Cache-Control", "Surrogate-Control"]; [] obeys only
	// Cache-Control.
	TargetedHeaders []string `toml:"targeted_headers"`
	// StripTargetedHeaders removes the targeted headers from responses to
	// clients (they are meant for CDNs). Default true.
	StripTargetedHeaders *bool `toml:"strip_targeted_headers"`
	// Key is the cache key recipe. It is one field: a route's key replaces
	// the node's whole recipe, it is not merged with it. Default: scheme,
	// host, path and the whole query.
	Key *Key `toml:"key"`
}

// Key is a cache key recipe. Scheme, host (lower-cased, default port
// dropped) and path (unreserved percent-encodings decoded) are always part
// of the key.
type Key struct {
	// Prefix is prepended to every key of the route (to share or split
	// keyspaces between routes). Default "".
	Prefix string `toml:"prefix"`
	// Query is "all" (every parameter, sorted by name then value — the
	// default), or "none". Include and Exclude refine "all".
	Query string `toml:"query"`
	// QueryInclude, when set (even to []), keeps only these query
	// parameters. Not with QueryExclude, nor with Query "none".
	QueryInclude []string `toml:"query_include"`
	// QueryExclude drops these query parameters (utm_source and the like).
	// Not with QueryInclude, nor with Query "none".
	QueryExclude []string `toml:"query_exclude"`
	// Headers lists request headers whose values join the key. In
	// Route.Effective they are in canonical form (textproto).
	Headers []string `toml:"headers"`
	// Cookies lists cookie names (exact, case-sensitive) whose values join
	// the key.
	Cookies []string `toml:"cookies"`
	// Scheme is "request" (the default, also when ""; http and https
	// requests are different objects) or "https" (every request is keyed
	// as https, so plain and TLS clients share objects); see
	// [KeySchemeHTTPS].
	Scheme string `toml:"scheme"`
}

// Origin is a named pool of upstream servers.
type Origin struct {
	// Name identifies the pool in Route.Origin; required and unique.
	Name string `toml:"name"`
	// Servers are the pool's members; at least one.
	Servers []Upstream `toml:"servers"`
	// Balance is "round_robin" (default), "weighted", "least_conn" or "hash"
	// (consistent hashing on the cache key).
	Balance string `toml:"balance"`
	// HostHeader, if set, replaces the Host sent upstream; otherwise the
	// client's Host is forwarded.
	HostHeader string `toml:"host_header"`
	// ConnectTimeout bounds a TCP (and TLS) connect. Default 5s.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// HeaderTimeout bounds the wait for response headers. Default 30s.
	HeaderTimeout Duration `toml:"header_timeout"`
	// IdleTimeout closes idle upstream keep-alive connections. Default 90s.
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxIdleConns caps idle keep-alive connections per server. Default 128.
	MaxIdleConns int `toml:"max_idle_conns"`
	// MaxConns caps connections per server (0 = unlimited). Default 0.
	MaxConns int `toml:"max_conns"`
	// InsecureSkipVerify disables TLS verification for https servers.
	// Default false.
	InsecureSkipVerify bool `toml:"insecure_skip_verify"`

	// TLS configures the connections to the origin's https servers.
	TLS OriginTLS `toml:"tls"`
	// Health configures active health checks.
	Health HealthCheck `toml:"health"`
	// Passive configures ejection on failures seen in live traffic.
	Passive Passive `toml:"passive"`
}

// Upstream is one server of an origin pool: {url = "http://10.0.0.1:8080", weight = 2}.
type Upstream struct {
	// URL is http:// or https://, a host and an optional port: no path
	// (a lone "/" is dropped), query, fragment or user info. Required.
	URL string `toml:"url"`
	// Weight is the server's share under "weighted" balancing. Default 1.
	Weight int `toml:"weight"`

	// Parsed is URL parsed (scheme and host only); set by Validate.
	Parsed *url.URL `toml:"-"`
}

// HealthCheck configures active health checks. Off unless Path is set.
type HealthCheck struct {
	// Path is requested with GET on every server; it starts with "/".
	Path       string   `toml:"path"`
	Interval   Duration `toml:"interval"`    // default 5s
	Timeout    Duration `toml:"timeout"`     // default 2s; less than Interval
	Rise       int      `toml:"rise"`        // successes to mark up; default 2
	Fall       int      `toml:"fall"`        // failures to mark down; default 3
	ExpectCode int      `toml:"expect_code"` // 0 = any 2xx or 3xx
}

// Passive configures ejection of a server after consecutive failures
// (connect errors, resets, 5xx answers to proxied requests).
type Passive struct {
	MaxFails int      `toml:"max_fails"` // default 5; 0 after defaults never happens, use Disabled
	Eject    Duration `toml:"eject"`     // how long an ejected server rests; default 30s
	Disabled bool     `toml:"disabled"`  // turns passive ejection off
}

// Route maps requests to an origin pool and a cache policy.
type Route struct {
	// Name identifies the route in logs and metrics; unique. Default
	// "route-N", N being its index in Config.Routes.
	Name string `toml:"name"`
	// Hosts are exact names ("example.com"), wildcards ("*.example.com",
	// matching one or more labels) or "*" (any). Empty means "*". Never a
	// port. Validate lower-cases them.
	Hosts []string `toml:"hosts"`
	// Paths are prefixes ("/static/") or globs containing '*' ("/img/*.png",
	// where * matches within one segment and ** across segments). Empty
	// means "/" (everything).
	Paths []string `toml:"paths"`
	// Origin names an [Origin].
	Origin string `toml:"origin"`
	// Cache overrides the node's [Cache.Policy] for this route.
	Cache Policy `toml:"cache"`
	// HTTPS sets the route's redirect to https and HSTS.
	HTTPS RouteHTTPS `toml:"https"`

	// Effective is Cache merged field by field over Cache.Policy over the
	// built-in defaults, all fields set; set by Validate.
	Effective EffectivePolicy `toml:"-"`
}

// EffectivePolicy is a route's cache policy with every default applied;
// each field means what the Policy field of the same name does.
type EffectivePolicy struct {
	Enabled              bool
	DefaultTTL           time.Duration
	HeuristicFraction    float64
	HeuristicMax         time.Duration
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	StaleIfUnreachable   time.Duration
	AllowSetCookie       bool
	// TargetedHeaders are canonical header names (textproto form, so
	// "Cdn-Cache-Control"), in order of precedence; never nil.
	TargetedHeaders      []string
	StripTargetedHeaders bool
	// Key has Query set ("all" or "none") and canonical Headers.
	Key Key
}
