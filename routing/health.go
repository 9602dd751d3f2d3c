package routing

import (
	"context"
)

// runHealth checks every server of p at once, then again every
// Health.Interval, until ctx is done. Rounds never overlap: a round waits
// for its slowest probe (bounded by Health.Timeout).
func (p *Pool) runHealth(ctx context.Context) {
	RunHealthLoop(ctx, p.health.Interval.D(), p.checkRound)
}

// checkRound probes every server concurrently and applies the results.
func (p *Pool) checkRound(ctx context.Context) {
	CheckRound(ctx, &p.health, p.servers, func(s *server) *Health { return &s.health }, p.probe,
		func(s *server, up bool) {
			s.m.setUp(up)
			if up {
				p.log.Info("server up", "server", s.label, "successes", p.health.Rise)
			} else {
				p.log.Warn("server down", "server", s.label, "failures", p.health.Fall)
			}
		})
}

// probe sends one health check to s (see [Probe]).
func (p *Pool) probe(ctx context.Context, s *server) bool {
	return Probe(ctx, p.probes, &p.health, s.label, p.hostHeader, "popcache-health-check")
}
