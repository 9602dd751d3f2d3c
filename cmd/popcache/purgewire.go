package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/purge"
	"github.com/popcache/popcache/routing"
)

// purging wires a node's [purge] section: the purge service (API, bus,
// consumer, journal), the edge hooks that strip tag headers and answer
// PURGE, and the purge endpoints and health detail on the admin listener.
// With purge.disabled it is inert.
type purging struct {
	cfg *conf.Config
	svc *purge.Service // nil when purging is disabled
}

// startPurging builds the purge service and starts it: the journal is
// replayed into store and the purges missed while the node was away are
// applied before it returns, so call it before the node serves. An
// unreachable bus only delays it by purge.bus.catch_up_timeout.
func startPurging(ctx context.Context, cfg *conf.Config, store *cache.Store, table *routing.Table,
	reg prometheus.Registerer, logger *slog.Logger) (*purging, error) {
	p := &purging{cfg: cfg}
	if cfg.Purge.Disabled {
		return p, nil
	}
	store.SetPurgeTagHeaders(cfg.Purge.TagHeaders)
	svc, err := purge.New(cfg, store, purge.Options{
		Registerer: reg,
		Logger:     logger,
		Resolve: func(host, path string) *cache.KeyRecipe {
			if r := table.Match(host, path); r != nil {
				return r.Key
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if err := svc.Start(ctx); err != nil {
		svc.Close()
		return nil, err
	}
	p.svc = svc
	logger.Info("purge ready", "node", svc.NodeID(), "bus", busDescription(cfg, svc), "journal", cfg.Purge.JournalDir)
	return p, nil
}

// busDescription says where the node's purge bus is, for the log.
func busDescription(cfg *conf.Config, svc *purge.Service) string {
	if len(cfg.Purge.Bus.URLs) > 0 {
		return "joined " + cfg.Purge.Bus.URLs[0]
	}
	return "embedded " + svc.BusURL()
}

// methods are the extension methods purging answers on the client
// listeners: PURGE, when purge.method.enabled. (The tag headers are
// stripped from client responses by the edge itself, from the config.)
func (p *purging) methods() map[string]http.Handler {
	if p.svc == nil || !p.cfg.Purge.Method.Enabled {
		return nil
	}
	svc := p.svc
	return map[string]http.Handler{"PURGE": http.HandlerFunc(svc.ServePURGE)}
}

// admin adds the purge endpoints to the admin handler next, and the purge
// state to its /healthz answer.
func (p *purging) admin(next http.Handler) http.Handler {
	if p.svc == nil {
		return next
	}
	mux := http.NewServeMux()
	mux.Handle("/purge", p.svc.Handler())
	mux.Handle("/purge/", p.svc.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		hw := &healthWriter{ResponseWriter: w}
		next.ServeHTTP(hw, r)
		if hw.code == 0 || hw.code == http.StatusOK {
			w.Write([]byte(p.svc.Health() + "\n"))
		}
	})
	mux.Handle("/", next)
	return mux
}

// healthWriter remembers the status the admin handler's /healthz wrote,
// so that the purge detail is added to a healthy answer only.
type healthWriter struct {
	http.ResponseWriter
	code int
}

func (w *healthWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// run applies purges as they arrive until ctx is done, counted in wg.
func (p *purging) run(ctx context.Context, wg *sync.WaitGroup) {
	if p.svc != nil {
		wg.Go(func() { p.svc.Run(ctx) })
	}
}

// shareBus makes the demo shield node join this node's embedded bus, so
// that the demo PoP's tiers purge together.
func (p *purging) shareBus(demo *conf.Config) {
	if p.svc == nil || demo == nil || demo.Purge.Disabled || len(demo.Purge.Bus.URLs) > 0 {
		return
	}
	if u := p.svc.BusURL(); u != "" {
		demo.Purge.Bus.URLs = []string{u}
	}
}

// close stops the bus and closes the journal; run must have returned.
func (p *purging) close() {
	if p.svc != nil {
		p.svc.Close()
	}
}
