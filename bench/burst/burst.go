package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Config says where and how hard to burst.
type Config struct {
	Target  string        // host:port of the cache under test
	Path    string        // request path, fresh per burst (e.g. /slow/200/<unique>)
	Clients int           // connections opened before the release; one request each
	Timeout time.Duration // bounds dialing and, separately, the burst itself
	Stats   string        // origin /stats URL asked for the fetch count of Path; "" skips it
}

// Result is what one burst measured; it is printed as JSON.
type Result struct {
	Clients       int     `json:"clients"`
	OK            int     `json:"ok"`     // 200 responses with a complete body
	Errors        int     `json:"errors"` // everything else
	FirstError    string  `json:"first_error,omitempty"`
	P50Millis     float64 `json:"p50_ms"` // latency from the release to the last body byte, OK answers only
	P99Millis     float64 `json:"p99_ms"`
	MaxMillis     float64 `json:"max_ms"`
	OriginFetches int64   `json:"origin_fetches"` // -1 when Stats is ""
}

// Run opens cfg.Clients connections, waits until all are up (the barrier), then
// releases one request on each at the same instant and times every answer from
// that instant. It then asks the origin how often it was fetched for cfg.Path.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{Clients: cfg.Clients, OriginFetches: -1}
	conns, err := dialAll(ctx, cfg)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return res, err
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: popcache-bench-burst\r\n\r\n", cfg.Path, cfg.Target)
	lat := make([]time.Duration, len(conns))
	errs := make([]error, len(conns))
	release := make(chan struct{})
	var start time.Time // written before release is closed, read after
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			<-release
			errs[i] = roundTrip(c, req)
			lat[i] = time.Since(start)
		})
	}
	deadline := time.Now().Add(cfg.Timeout)
	for _, c := range conns {
		c.SetDeadline(deadline)
	}
	start = time.Now()
	close(release)
	wg.Wait()

	var ok []time.Duration
	for i, err := range errs {
		if err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
			continue
		}
		ok = append(ok, lat[i])
	}
	res.OK = len(ok)
	slices.Sort(ok)
	res.P50Millis = millis(percentile(ok, 50))
	res.P99Millis = millis(percentile(ok, 99))
	res.MaxMillis = millis(percentile(ok, 100))
	if cfg.Stats != "" {
		n, err := originFetches(ctx, cfg.Stats, cfg.Path)
		if err != nil {
			return res, err
		}
		res.OriginFetches = n
	}
	return res, nil
}

// dialAll opens every connection before any request is sent. On error it
// returns the connections opened so far so the caller can close them.
func dialAll(ctx context.Context, cfg Config) ([]net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conns := make([]net.Conn, 0, cfg.Clients)
	for range cfg.Clients {
		c, err := d.DialContext(ctx, "tcp", cfg.Target)
		if err != nil {
			return conns, fmt.Errorf("burst: dial %s (after %d connections): %w", cfg.Target, len(conns), err)
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// roundTrip writes one request on c and reads the whole response.
func roundTrip(c net.Conn, req string) error {
	if _, err := io.WriteString(c, req); err != nil {
		return fmt.Errorf("burst: write: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fmt.Errorf("burst: read response: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("burst: read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("burst: status %d", resp.StatusCode)
	}
	return nil
}

// percentile returns the p-th percentile (nearest rank) of sorted, or 0 if empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// originFetches asks the bench origin's /stats how many times path was fetched.
func originFetches(ctx context.Context, statsURL, path string) (int64, error) {
	u, err := url.Parse(statsURL)
	if err != nil {
		return 0, fmt.Errorf("burst: stats url: %w", err)
	}
	q := u.Query()
	q.Set("prefix", path)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("burst: stats request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("burst: get stats: %w", err)
	}
	defer resp.Body.Close()
	var s struct {
		Paths map[string]int64 `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return 0, fmt.Errorf("burst: decode stats: %w", err)
	}
	return s.Paths[path], nil
}
