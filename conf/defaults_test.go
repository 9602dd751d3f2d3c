package conf

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestEnsureDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	o, r := c.Origins[0], c.Routes[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"role", c.Role, RoleEdge},
		{"server.listen", c.Server.Listen, []string{"127.0.0.1:8080"}},
		{"server.name", c.Server.Name, "popcache"},
		{"server.max_header_bytes", c.Server.MaxHeaderBytes, 64 * KiB},
		{"server.max_uri_bytes", c.Server.MaxURIBytes, 8 * KiB},
		{"server.max_request_body_bytes", c.Server.MaxRequestBodyBytes, 100 * MiB},
		{"server.read_header_timeout", c.Server.ReadHeaderTimeout.D(), 10 * time.Second},
		{"server.read_timeout", c.Server.ReadTimeout.D(), 60 * time.Second},
		{"server.write_timeout", c.Server.WriteTimeout.D(), 300 * time.Second},
		{"server.idle_timeout", c.Server.IdleTimeout.D(), 75 * time.Second},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout.D(), 30 * time.Second},
		{"server.trusted_proxies", len(c.Server.TrustedPrefixes), 0},
		{"server.event_loop_slice", c.Server.EventLoopSlice.D(), 200 * time.Microsecond},
		{"server.event_loop_pin", *c.Server.EventLoopPin, true},
		{"admin.listen", c.Admin.Listen, "127.0.0.1:9090"},
		{"demo.enabled", c.Demo.Enabled, false},
		{"demo.listen", c.Demo.Listen, "127.0.0.1:8081"},
		{"cache.memory_max_bytes", c.Cache.MemoryMaxBytes, 512 * MiB},
		{"cache.max_object_bytes", c.Cache.MaxObjectBytes, 64 * MiB},
		{"cache.sendfile_min_bytes", *c.Cache.SendfileMinBytes, 32 * KiB},
		{"cache.fill_timeout", c.Cache.FillTimeout.D(), 60 * time.Second},
		{"cache.hit_for_miss_ttl", c.Cache.HitForMissTTL.D(), 30 * time.Second},
		{"origin.balance", o.Balance, BalanceRoundRobin},
		{"origin.servers[0].weight", o.Servers[0].Weight, 1},
		{"origin.connect_timeout", o.ConnectTimeout.D(), 5 * time.Second},
		{"origin.header_timeout", o.HeaderTimeout.D(), 30 * time.Second},
		{"origin.idle_timeout", o.IdleTimeout.D(), 90 * time.Second},
		{"origin.max_idle_conns", o.MaxIdleConns, 128},
		{"origin.max_conns", o.MaxConns, 0},
		{"origin.health.path", o.Health.Path, ""},
		{"origin.health.interval", o.Health.Interval.D(), 5 * time.Second},
		{"origin.health.timeout", o.Health.Timeout.D(), 2 * time.Second},
		{"origin.health.rise", o.Health.Rise, 2},
		{"origin.health.fall", o.Health.Fall, 3},
		{"origin.passive.max_fails", o.Passive.MaxFails, 5},
		{"origin.passive.eject", o.Passive.Eject.D(), 30 * time.Second},
		{"route.name", r.Name, "route-0"},
		{"route.effective", r.Effective, EffectivePolicy{
			Enabled:              true,
			DefaultTTL:           0,
			HeuristicFraction:    0.1,
			HeuristicMax:         24 * time.Hour,
			StaleWhileRevalidate: 0,
			StaleIfError:         0,
			StaleIfUnreachable:   10 * time.Second,
			AllowSetCookie:       false,
			TargetedHeaders:      []string{"Cdn-Cache-Control", "Surrogate-Control"},
			StripTargetedHeaders: true,
			Key:                  Key{Query: QueryAll},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}

	// cache.policy itself ends up with every field set.
	p := reflect.ValueOf(c.Cache.Policy)
	for i := range p.NumField() {
		if p.Field(i).IsNil() {
			t.Errorf("cache.policy.%s is still unset", p.Type().Field(i).Name)
		}
	}
}

func TestEnsureDefaultsIsIdempotentAndKeepsSetFields(t *testing.T) {
	build := func() *Config {
		return &Config{
			Server:  Server{Name: "edge-7", ReadTimeout: Duration(time.Second)},
			Origins: []Origin{{Name: "o", Balance: BalanceHash, Servers: []Upstream{{URL: "http://a", Weight: 3}}}},
			Routes:  []Route{{Name: "r"}, {Cache: Policy{Key: &Key{}}}},
		}
	}
	once, c := build(), build()
	once.EnsureDefaults()
	c.EnsureDefaults()
	c.EnsureDefaults()
	if !reflect.DeepEqual(once, c) {
		t.Errorf("a second EnsureDefaults changed the config:\n%+v\n%+v", once, c)
	}
	if c.Routes[1].Cache.Key.Query != QueryAll {
		t.Errorf("a route's key recipe got query %q, want the default %q", c.Routes[1].Cache.Key.Query, QueryAll)
	}
	if c.Server.Name != "edge-7" || c.Server.ReadTimeout.D() != time.Second || c.Origins[0].Balance != BalanceHash ||
		c.Origins[0].Servers[0].Weight != 3 || c.Routes[0].Name != "r" || c.Routes[1].Name != "route-1" {
		t.Errorf("set fields were overwritten: %+v", c)
	}
}

func TestEnsureDefaultsAdminDisabled(t *testing.T) {
	c := mustParse(t, "[admin]\ndisabled = true\n"+minimal)
	if c.Admin.Listen != "" {
		t.Errorf("disabled admin got listen %q", c.Admin.Listen)
	}
}

func TestShieldPassesTargetedHeadersOn(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want bool
	}{
		{"edge strips", minimal, true},
		{"shield keeps", "role = \"shield\"\n" + minimal, false},
		{"shield told to strip", "role = \"shield\"\n[cache.policy]\nstrip_targeted_headers = true\n" + minimal, true},
		{"edge route told to keep", minimal + "[routes.cache]\nstrip_targeted_headers = false\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.toml)
			if got := c.Routes[0].Effective.StripTargetedHeaders; got != tt.want {
				t.Errorf("StripTargetedHeaders = %v, want %v", got, tt.want)
			}
		})
	}
}

// A route's cache table overrides the node policy field by field; its key
// recipe replaces the node's as a whole.
func TestEffectivePolicyMerge(t *testing.T) {
	c := mustParse(t, `
[cache.policy]
enabled = true
default_ttl = "1m"
stale_if_error = "1h"
targeted_headers = ["surrogate-control"]
[cache.policy.key]
prefix = "node"
query_exclude = ["utm_source"]
headers = ["accept-encoding"]

[[origins]]
name = "o"
servers = [{url = "http://a"}]

[[routes]]
name = "inherits"
origin = "o"

[[routes]]
name = "overrides"
origin = "o"
[routes.cache]
enabled = false
default_ttl = "0s"
heuristic_fraction = 0.0
allow_set_cookie = true
stale_if_unreachable = "0s"
targeted_headers = []
key = {query = "none", headers = ["x-device", "ACCEPT-language"], cookies = ["Session_ID"]}
`)
	inherits, overrides := c.Routes[0].Effective, c.Routes[1].Effective
	tests := []struct {
		name      string
		got, want any
	}{
		{"inherits enabled", inherits.Enabled, true},
		{"inherits ttl", inherits.DefaultTTL, time.Minute},
		{"inherits stale-if-error", inherits.StaleIfError, time.Hour},
		{"inherits built-in stale-if-unreachable", inherits.StaleIfUnreachable, 10 * time.Second},
		{"inherits built-in fraction", inherits.HeuristicFraction, 0.1},
		{"inherits targeted, canonical", inherits.TargetedHeaders, []string{"Surrogate-Control"}},
		{"inherits key", inherits.Key, Key{Prefix: "node", Query: QueryAll, QueryExclude: []string{"utm_source"}, Headers: []string{"Accept-Encoding"}}},
		{"overrides enabled with false", overrides.Enabled, false},
		{"overrides ttl with 0", overrides.DefaultTTL, time.Duration(0)},
		{"overrides fraction with 0", overrides.HeuristicFraction, 0.0},
		{"overrides set-cookie", overrides.AllowSetCookie, true},
		{"still inherits stale-if-error", overrides.StaleIfError, time.Hour},
		{"overrides stale-if-unreachable with 0", overrides.StaleIfUnreachable, time.Duration(0)},
		{"overrides targeted with none", overrides.TargetedHeaders, []string{}},
		{"replaces the whole key", overrides.Key, Key{Query: QueryNone, Headers: []string{"X-Device", "Accept-Language"}, Cookies: []string{"Session_ID"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}

	// Effective shares no memory with the config it came from.
	overrides.Key.Headers[0] = "changed"
	inherits.Key.QueryExclude[0] = "changed"
	if k := c.Routes[1].Cache.Key; k.Headers[0] != "x-device" {
		t.Errorf("Effective.Key aliases the route's key: %v", k.Headers)
	}
	if k := c.Cache.Policy.Key; !slices.Equal(k.QueryExclude, []string{"utm_source"}) {
		t.Errorf("Effective.Key aliases the node's key: %v", k.QueryExclude)
	}
}

func TestEventLoopSliceZeroIsNever(t *testing.T) {
	c := mustParse(t, "[server]\nevent_loop_slice = \"0s\"\n"+minimal)
	if got := c.Server.EventLoopSlice.D(); got != 0 {
		t.Fatalf("event_loop_slice = \"0s\": got %v, want 0 (never yield), not the default", got)
	}
}

func TestSendfileMinBytesZeroIsOff(t *testing.T) {
	c := mustParse(t, "[cache]\nsendfile_min_bytes = 0\n"+minimal)
	if got := *c.Cache.SendfileMinBytes; got != 0 {
		t.Fatalf("sendfile_min_bytes = 0: got %v, want 0 (off), not the default", got)
	}
}
