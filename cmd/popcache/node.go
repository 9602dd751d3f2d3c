package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/edge"
	"github.com/popcache/popcache/routing"
)

// runNode wires one node from a validated config and serves until ctx is
// done. Every listener is opened before anything is served, so a bad
// address fails the start with nothing half-running.
// spare, when not nil, is the process's spare P, lent while the loops of
// any of its nodes are saturated.
func runNode(ctx context.Context, cfg *conf.Config, stdout, stderr io.Writer, demoToken string, spare *edge.SpareProc) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var demoLn net.Listener
	if cfg.Demo.Enabled {
		ln, err := net.Listen("tcp", cfg.Demo.Listen)
		if err != nil {
			return fmt.Errorf("demo origin: listen on %s: %w", cfg.Demo.Listen, err)
		}
		demoLn = ln
	}
	table, err := routing.New(cfg, routing.Options{Registerer: reg, Logger: logger})
	if err != nil {
		closeAll(demoLn)
		return err
	}
	store, err := cache.New(cfg.Cache, cache.Options{Registerer: reg, Logger: logger})
	if err != nil {
		closeAll(demoLn)
		return err
	}
	defer store.Close()
	if d := cfg.Cache.Disk; d.Dir != "" {
		logger.Info("disk tier open", "dir", d.Dir, "max_bytes", int64(d.MaxBytes), "load_time", store.LoadTime())
	}
	tier, err := newShieldTier(cfg, table, reg, logger)
	if err != nil {
		closeAll(demoLn)
		return err
	}
	defer tier.close()
	pg, err := startPurging(ctx, cfg, store, table, reg, logger) // applies missed purges before serving
	if err != nil {
		closeAll(demoLn)
		return err
	}
	defer pg.close()
	pg.shareBus(tier.demo)
	srv, err := edge.New(cfg, table, store, edge.Options{Registerer: reg, Logger: logger, Upstream: tier.upstream(), Methods: pg.methods(), SpareProc: spare})
	if err != nil {
		closeAll(demoLn)
		return err
	}
	lns, err := edge.Listen(cfg)
	if err != nil {
		closeAll(demoLn)
		return err
	}
	var adminLn net.Listener
	if !cfg.Admin.Disabled {
		if adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			closeAll(demoLn)
			lns.Close()
			return fmt.Errorf("admin: listen on %s: %w", cfg.Admin.Listen, err)
		}
	}

	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var servers []*http.Server
	if demoLn != nil {
		servers = append(servers, serveAux(&wg, demoLn, newDemoOrigin(), logger))
	}
	if adminLn != nil {
		servers = append(servers, serveAux(&wg, adminLn, pg.admin(edge.AdminHandler(reg, nil, cfg.Admin.Pprof)), logger))
	}
	wg.Add(1)
	go func() { defer wg.Done(); table.Run(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); store.Run(ctx) }() // disk tier expiry
	tier.start(ctx, &wg, stderr, logger, spare)
	pg.run(ctx, &wg)
	if len(cfg.TLS.Listen) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); reloadCertsOnHUP(ctx, srv, logger) }()
	}

	logger.Info("popcache serving", "version", version, "config", cfg.Source, "role", cfg.Role,
		"listen", cfg.Server.Listen, "tls", cfg.TLS.Listen, "http3", len(lns.QUIC) > 0, "admin", cfg.Admin.Listen)
	if cfg.Demo.Enabled {
		banner(stdout, cfg, len(lns.QUIC) > 0, demoToken)
		shieldBanner(stdout, cfg)
	}
	err = srv.ServeListeners(ctx, lns)
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	wg.Wait()
	logger.Info("popcache stopped")
	return err
}

// serveAux serves a secondary listener (admin, demo origin) in the background.
func serveAux(wg *sync.WaitGroup, ln net.Listener, h http.Handler, logger *slog.Logger) *http.Server {
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return s
}

func closeAll(lns ...net.Listener) {
	for _, l := range lns {
		if l != nil {
			l.Close()
		}
	}
}

// banner prints how to try the demo PoP.
func banner(w io.Writer, cfg *conf.Config, h3 bool, token string) {
	edgeAddr := cfg.Server.Listen[0]
	fmt.Fprintf(w, `
popcache demo PoP is up: edge http://%[1]s  ·  sample origin http://%[2]s  ·  admin http://%[3]s

  curl -si http://%[1]s/static/app.js | grep -i cache-status   # first: fwd=uri-miss; stored
  curl -si http://%[1]s/static/app.js | grep -i cache-status   # again: hit
  curl -si http://%[1]s/nostore       | grep -i cache-status   # never stored: detail=no-store
  curl -si -H 'Accept-Language: fr' http://%[1]s/vary           # Vary: one object per language
  curl -s  http://%[3]s/metrics | grep popcache_requests_total
`, edgeAddr, cfg.Demo.Listen, cfg.Admin.Listen)
	if len(cfg.TLS.Listen) > 0 {
		tlsBanner(w, cfg.TLS.Listen[0], h3, curlHasHTTP3())
	}
	purgeBanner(w, cfg, token)
	fmt.Fprint(w, "\nPaths: ")
	for i, p := range demoPaths {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprint(w, p.path)
	}
	fmt.Fprint(w, "\nStop with Ctrl-C.\n\n")
}
