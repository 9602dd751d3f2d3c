package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/edge"
	"github.com/popcache/popcache/routing"
	"github.com/popcache/popcache/shield"
)

// shieldTier wires a node's [shield] section: the shield client that the
// edge sends its misses, revalidations and passes through, one shield.Tier
// per origin pool (the pool being the fallback), and in the demo the
// in-process shield node those requests reach.
type shieldTier struct {
	client *shield.Client                 // nil without a [shield] pool
	tiers  map[*routing.Pool]*shield.Tier // by the route's origin pool
	demo   *conf.Config                   // the demo shield node; nil unless demo.shield_listen
}

// newShieldTier builds the shield wiring for cfg, whose routes and pools
// are in table. Without a [shield] pool it is inert: upstream returns nil
// and start does nothing.
func newShieldTier(cfg *conf.Config, table *routing.Table, reg prometheus.Registerer, logger *slog.Logger) (*shieldTier, error) {
	t := &shieldTier{}
	if !cfg.Shield.HasTier() {
		return t, nil
	}
	c, err := shield.New(&cfg.Shield, shield.Options{Registerer: reg, Logger: logger})
	if err != nil {
		return nil, err
	}
	t.client = c
	t.tiers = map[*routing.Pool]*shield.Tier{}
	for _, p := range table.Pools() {
		t.tiers[p] = c.Tier(p)
	}
	if cfg.Demo.Enabled && cfg.Demo.ShieldListen != "" {
		if t.demo, err = demoShieldConfig(cfg); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// upstream is the edge's Options.Upstream: every route through the shield
// tier in front of its origin pool. Nil without a shield pool.
func (t *shieldTier) upstream() edge.UpstreamFunc {
	if t.client == nil {
		return nil
	}
	return func(r *routing.Route) edge.Upstream {
		if u, ok := t.tiers[r.Pool]; ok {
			return u
		}
		return nil // a pool not in the table: its own origin
	}
}

// start runs the shield health checks and the demo shield node until ctx
// is done, each counted in wg. A demo shield that cannot start (its port
// is taken) is logged; the edge then fails over to the origin.
func (t *shieldTier) start(ctx context.Context, wg *sync.WaitGroup, stderr io.Writer, logger *slog.Logger, spare *edge.SpareProc) {
	if t.client == nil {
		return
	}
	wg.Go(func() { t.client.Run(ctx) })
	if t.demo == nil {
		return
	}
	wg.Go(func() {
		if err := runNode(ctx, t.demo, io.Discard, stderr, "", spare); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("demo shield stopped; the edge now sends its misses to the origin directly", "err", err)
		}
	})
}

// close closes idle connections to the shields.
func (t *shieldTier) close() {
	if t.client != nil {
		t.client.Close()
	}
}

// demoShieldConfig derives the demo shield node from the demo edge's
// config: role "shield" on demo.shield_listen, named after the edge with
// "-shield" (names must differ: CDN-Loop refuses a request that already
// passed a node of the same name), the same origins and routes, the
// memory tier only, no admin, no demo origin, no TLS, no shield pool of
// its own, the edge's event loop settings. It trusts loopback peers'
// X-Forwarded-For, since the edge is one. Targeted cache-control headers are left on its responses (a
// shield's default), so the edge sees them.
func demoShieldConfig(edgeCfg *conf.Config) (*conf.Config, error) {
	c := &conf.Config{
		Source: edgeCfg.Source + " (demo shield)",
		Role:   conf.RoleShield,
		Server: conf.Server{
			Listen:         []string{edgeCfg.Demo.ShieldListen},
			Name:           edgeCfg.Server.Name + "-shield",
			TrustedProxies: []string{"127.0.0.1", "::1"},
			EventLoops:     edgeCfg.Server.EventLoops,
			EventLoopSlice: edgeCfg.Server.EventLoopSlice,
			EventLoopPin:   edgeCfg.Server.EventLoopPin,
		},
		Admin: conf.Admin{Disabled: true},
		Cache: conf.Cache{
			MemoryMaxBytes: edgeCfg.Cache.MemoryMaxBytes,
			MaxObjectBytes: edgeCfg.Cache.MaxObjectBytes,
			FillTimeout:    edgeCfg.Cache.FillTimeout,
			HitForMissTTL:  edgeCfg.Cache.HitForMissTTL,
			Policy:         edgeCfg.Cache.Policy,
		},
	}
	// The edge's policy has its role's default for stripping filled in;
	// let the shield's apply instead.
	c.Cache.Policy.StripTargetedHeaders = nil
	// Validate writes into origins and routes (parsed URLs, normalised
	// hosts, effective policies): give it copies.
	for _, o := range edgeCfg.Origins {
		o.Servers = slices.Clone(o.Servers)
		c.Origins = append(c.Origins, o)
	}
	for _, r := range edgeCfg.Routes {
		r.Hosts = slices.Clone(r.Hosts)
		r.Paths = slices.Clone(r.Paths)
		c.Routes = append(c.Routes, r)
	}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("demo shield config: %w", err)
	}
	return c, nil
}

// shieldBanner prints how to see the tiers at work in the demo.
func shieldBanner(w io.Writer, cfg *conf.Config) {
	if !cfg.Demo.Enabled || cfg.Demo.ShieldListen == "" || !cfg.Shield.HasTier() {
		return
	}
	edgeAddr := cfg.Server.Listen[0]
	fmt.Fprintf(w, `
Tiers: edge http://%[1]s (%[3]s) -> shield http://%[2]s (%[3]s-shield) -> origin.
Each tier adds its entry to Cache-Status, the edge's last:
  curl -si http://%[1]s/short | grep -i cache-status
      # %[3]s-shield; fwd=uri-miss; stored, %[3]s; fwd=uri-miss; stored
Edge miss, shield hit: ask the shield first, as another edge of the PoP would
(with the edge's Host, so the cache key is the same), then the edge:
  curl -s -o /dev/null -H 'Host: %[1]s' http://%[2]s/vary
  curl -si http://%[1]s/vary | grep -i cache-status
      # %[3]s-shield; hit; ..., %[3]s; fwd=uri-miss; stored
  curl -s http://%[4]s/metrics | grep popcache_shield_
`, edgeAddr, cfg.Demo.ShieldListen, cfg.Server.Name, cfg.Admin.Listen)
}
