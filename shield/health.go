package shield

import (
	"context"

	"github.com/popcache/popcache/routing"
)

// Run runs the active health checks, if the config sets a health path,
// until ctx is done: every shield at once, then again every interval.
// Rounds never overlap: a round waits for its slowest probe (bounded by
// the health timeout). Without a path it only waits for ctx. A second Run
// waits for the first to return.
//
// A shield that fails fall consecutive probes is skipped (as if its
// circuit were open) until it passes rise consecutive ones; its circuit
// breaker is not touched.
func (c *Client) Run(ctx context.Context) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.health.Path == "" {
		<-ctx.Done()
		return
	}
	routing.RunHealthLoop(ctx, c.health.Interval.D(), c.checkRound)
}

// checkRound probes every shield concurrently and applies the results.
func (c *Client) checkRound(ctx context.Context) {
	routing.CheckRound(ctx, &c.health, c.peers, func(p *peer) *routing.Health { return &p.health }, c.probe,
		func(p *peer, up bool) {
			p.m.setUp(up)
			if up {
				c.log.Info("shield up", "shield", p.label, "successes", c.health.Rise)
			} else {
				c.log.Warn("shield down", "shield", p.label, "failures", c.health.Fall)
			}
		})
}

// probe sends one health check to p (see [routing.Probe]).
func (c *Client) probe(ctx context.Context, p *peer) bool {
	return routing.Probe(ctx, c.probes, &c.health, p.label, "", "popcache-shield-health-check")
}
