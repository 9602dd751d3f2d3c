package shield

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
	tick := time.NewTicker(c.health.Interval.D())
	defer tick.Stop()
	for {
		c.checkRound(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkRound probes every shield concurrently and applies the results.
func (c *Client) checkRound(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range c.peers {
		wg.Go(func() {
			ok := c.probe(ctx, p)
			if ctx.Err() != nil {
				return // shutting down: the probe proved nothing
			}
			up, changed := p.recordProbe(ok, c.health.Rise, c.health.Fall)
			if !changed {
				return
			}
			p.m.setUp(up)
			if up {
				c.log.Info("shield up", "shield", p.label, "successes", c.health.Rise)
			} else {
				c.log.Warn("shield down", "shield", p.label, "failures", c.health.Fall)
			}
		})
	}
	wg.Wait()
}

// probe sends one health check to p and reports whether it passed: status
// Health.ExpectCode if set, else any 2xx or 3xx, within Health.Timeout.
func (c *Client) probe(ctx context.Context, p *peer) bool {
	ctx, cancel := context.WithTimeout(ctx, c.health.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.label+c.health.Path, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "popcache-shield-health-check")
	resp, err := c.probes.RoundTrip(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	resp.Body.Close()
	if c.health.ExpectCode != 0 {
		return resp.StatusCode == c.health.ExpectCode
	}
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// recordProbe counts one probe result and returns the new verdict and
// whether it changed: rise consecutive successes bring a down shield up,
// fall consecutive failures take an up shield down. Only the health loop
// calls it.
func (p *peer) recordProbe(ok bool, rise, fall int) (up, changed bool) {
	up = p.up.Load()
	if ok {
		p.probeFail = 0
		p.probeOK++
		if !up && p.probeOK >= rise {
			p.up.Store(true)
			return true, true
		}
		return up, false
	}
	p.probeOK = 0
	p.probeFail++
	if up && p.probeFail >= fall {
		p.up.Store(false)
		return false, true
	}
	return up, false
}
