package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// warmWorkers is how many requests warming keeps in flight.
const warmWorkers = 16

// get fetches url and hands the body to sink (nil: discard); non-200 is an error.
func (r *runner) get(ctx context.Context, url string, sink func([]byte) error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("compare: get %s: %w", url, err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("compare: get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("compare: get %s: status %d", url, resp.StatusCode)
	}
	if sink == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("compare: get %s: %w", url, err)
	}
	return sink(b)
}

// status returns the status code of a GET of url with the header
// fields hdr (name, value, ...), discarding the body.
func (r *runner) status(ctx context.Context, url string, hdr ...string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// fetchAll GETs base+path for every path with warmWorkers in flight and
// returns the first error.
func (r *runner) fetchAll(ctx context.Context, base string, paths []string, sink func(path string, b []byte) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan string)
	var wg sync.WaitGroup
	for range warmWorkers {
		wg.Go(func() {
			for p := range work {
				var s func([]byte) error
				if sink != nil {
					s = func(b []byte) error { return sink(p, b) }
				}
				if err := r.get(ctx, base+p, s); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
feed:
	for _, p := range paths {
		select {
		case work <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

// writeStatic fetches every path from the origin into the static ceiling's
// document root, so nginx-static serves byte-identical bodies.
func (r *runner) writeStatic(ctx context.Context, paths []string) error {
	made := sync.Map{}
	return r.fetchAll(ctx, r.originURL, paths, func(p string, b []byte) error {
		file := filepath.Join(r.staticDir, filepath.FromSlash(p))
		dir := filepath.Dir(file)
		if _, ok := made.Load(dir); !ok {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("compare: static dir: %w", err)
			}
			made.Store(dir, true)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return fmt.Errorf("compare: static file: %w", err)
		}
		return nil
	})
}

// warm reads every path through s twice, over HTTP/1.1 and, for the paths
// of TLS scenarios, also over TLS (a cache may key https apart from http, or
// include the Host port), and returns how many origin fetches the second
// pass caused: 0 means s now serves all of them as hits.
func (r *runner) warm(ctx context.Context, s *server, paths, tlsPaths []string) (int64, error) {
	pass := func() error {
		if err := r.fetchAll(ctx, fmt.Sprintf("http://127.0.0.1:%d", s.ports.H1), paths, nil); err != nil {
			return err
		}
		if port, why := s.port(tls); why == "" && len(tlsPaths) > 0 {
			return r.fetchAll(ctx, fmt.Sprintf("https://127.0.0.1:%d", port), tlsPaths, nil)
		}
		return nil
	}
	if err := pass(); err != nil {
		return 0, err
	}
	if err := r.resetOrigin(ctx); err != nil {
		return 0, err
	}
	if err := pass(); err != nil {
		return 0, err
	}
	return r.originTotal(ctx)
}

// resetOrigin zeroes the origin's fetch counts.
func (r *runner) resetOrigin(ctx context.Context) error {
	code, err := r.status(ctx, r.originURL+"/reset")
	if err != nil || code != http.StatusNoContent {
		return fmt.Errorf("compare: reset origin: status %d, %v", code, err)
	}
	return nil
}

// originTotal returns how many /obj and /slow requests reached the origin since the last reset.
func (r *runner) originTotal(ctx context.Context) (int64, error) {
	var total int64
	err := r.get(ctx, r.originURL+"/stats?prefix=/none", func(b []byte) error {
		var s struct {
			Total int64 `json:"total"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("compare: origin stats: %w", err)
		}
		total = s.Total
		return nil
	})
	return total, err
}
