package routing

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// maxProbeBody is how much of a health-check answer is read so the
// connection can be reused; the rest is dropped with the connection.
const maxProbeBody = 64 << 10

// runHealth checks every server of p at once, then again every
// Health.Interval, until ctx is done. Rounds never overlap: a round waits
// for its slowest probe (bounded by Health.Timeout).
func (p *Pool) runHealth(ctx context.Context) {
	tick := time.NewTicker(p.health.Interval.D())
	defer tick.Stop()
	for {
		p.checkRound(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkRound probes every server concurrently and applies the results.
func (p *Pool) checkRound(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range p.servers {
		wg.Go(func() {
			ok := p.probe(ctx, s)
			if ctx.Err() != nil {
				return // shutting down: the probe proved nothing
			}
			up, changed := s.recordProbe(ok, p.health.Rise, p.health.Fall)
			if !changed {
				return
			}
			s.m.setUp(up)
			if up {
				p.log.Info("server up", "server", s.label, "successes", p.health.Rise)
			} else {
				p.log.Warn("server down", "server", s.label, "failures", p.health.Fall)
			}
		})
	}
	wg.Wait()
}

// probe sends one health check to s and reports whether it passed: status
// Health.ExpectCode if set, else any 2xx or 3xx, within Health.Timeout.
func (p *Pool) probe(ctx context.Context, s *server) bool {
	ctx, cancel := context.WithTimeout(ctx, p.health.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.label+p.health.Path, nil)
	if err != nil {
		return false
	}
	if p.hostHeader != "" {
		req.Host = p.hostHeader
	}
	req.Header.Set("User-Agent", "popcache-health-check")
	resp, err := p.probes.RoundTrip(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	resp.Body.Close()
	if p.health.ExpectCode != 0 {
		return resp.StatusCode == p.health.ExpectCode
	}
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}
