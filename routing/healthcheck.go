package routing

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/popcache/popcache/conf"
)

// maxProbeBody is how much of a health-check answer is read so the
// connection can be reused; the rest is dropped with the connection.
const maxProbeBody = 64 << 10

// Health is the active-check verdict of one target (an origin server, a
// shield), with rise/fall hysteresis. The zero value is up: a target is
// trusted until checks say otherwise. Up may be called by anyone; Record
// and SetUp only by the target's health loop.
type Health struct {
	down atomic.Bool
	// ok and fail count consecutive results; owned by the health loop.
	ok, fail int
}

// Up reports the verdict.
func (h *Health) Up() bool { return !h.down.Load() }

// SetUp sets the verdict directly.
func (h *Health) SetUp(up bool) { h.down.Store(!up) }

// Record counts one probe result and returns the new verdict and whether
// it changed: rise consecutive successes bring a down target up, fall
// consecutive failures take an up one down.
func (h *Health) Record(ok bool, rise, fall int) (up, changed bool) {
	up = h.Up()
	if ok {
		h.fail = 0
		h.ok++
		if !up && h.ok >= rise {
			h.SetUp(true)
			return true, true
		}
		return up, false
	}
	h.ok = 0
	h.fail++
	if up && h.fail >= fall {
		h.SetUp(false)
		return false, true
	}
	return up, false
}

// Probe sends one health check, GET base+hc.Path through rt (with Host
// host when not empty), and reports whether it passed: status
// hc.ExpectCode if set, else any 2xx or 3xx, within hc.Timeout.
func Probe(ctx context.Context, rt http.RoundTripper, hc *conf.HealthCheck, base, host, userAgent string) bool {
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+hc.Path, nil)
	if err != nil {
		return false
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	resp.Body.Close()
	if hc.ExpectCode != 0 {
		return resp.StatusCode == hc.ExpectCode
	}
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// RunHealthLoop calls round at once and then every interval, until ctx is
// done. Rounds never overlap: the next tick waits for round to return.
func RunHealthLoop(ctx context.Context, interval time.Duration, round func(context.Context)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// CheckRound probes every target concurrently and records each result in
// the target's Health with hc's rise and fall, calling changed with the
// new verdict of each target whose verdict flipped. A probe cut short by
// ctx proves nothing and is not recorded. Origin pools and shield tiers
// run their health loops on it.
func CheckRound[T any](ctx context.Context, hc *conf.HealthCheck, targets []T, health func(T) *Health,
	probe func(context.Context, T) bool, changed func(t T, up bool)) {
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			ok := probe(ctx, t)
			if ctx.Err() != nil {
				return // shutting down: the probe proved nothing
			}
			if up, flipped := health(t).Record(ok, hc.Rise, hc.Fall); flipped {
				changed(t, up)
			}
		})
	}
	wg.Wait()
}
