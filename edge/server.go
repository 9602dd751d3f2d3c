package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/routing"
)

// Options are a Server's dependencies. The zero value is usable.
type Options struct {
	// Registerer receives the edge's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives access errors and lifecycle events; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
	// Hooks customise the request phases; the zero value changes nothing.
	Hooks Hooks
	// Upstream picks where a route's misses go (a shield tier); nil sends
	// them to the route's origin pool.
	Upstream UpstreamFunc
}

// Server is one node's client-facing side: it routes requests, answers
// them from the cache or fills the cache from upstream.
type Server struct {
	cfg   *conf.Config
	table *routing.Table
	store *cache.Store
	log   *slog.Logger
	now   func() time.Time
	hooks Hooks
	m     *metrics

	upstreamFor UpstreamFunc
	via         string // our Via entry, "1.1 <name>"
	maxURI      int

	bg   sync.WaitGroup // background revalidations
	bufs sync.Pool      // *[]byte of copyBufSize, for streaming bodies
}

// New builds a Server for a validated config, with its routing table and
// cache store.
func New(cfg *conf.Config, table *routing.Table, store *cache.Store, opts Options) (*Server, error) {
	if cfg == nil || table == nil || store == nil {
		return nil, errors.New("edge: new server: config, routing table and store are required")
	}
	s := &Server{
		cfg:   cfg,
		table: table,
		store: store,
		log:   opts.Logger,
		now:   opts.Now,
		hooks: opts.Hooks,

		upstreamFor: opts.Upstream,
		m:           newMetrics(opts.Registerer),
		via:         "1.1 " + cfg.Server.Name,
		maxURI:      int(cfg.Server.MaxURIBytes),
	}
	s.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Listen opens the configured client listeners.
func Listen(cfg *conf.Config) ([]net.Listener, error) {
	var lns []net.Listener
	for _, addr := range cfg.Server.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("edge: listen on %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// HTTPServer returns the net/http server for the client listeners:
// HTTP/1.1 and HTTP/2 with prior knowledge (h2c), with the configured
// limits and timeouts.
func (s *Server) HTTPServer() *http.Server {
	sc := s.cfg.Server
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP2(true)
	return &http.Server{
		Handler:           s,
		Protocols:         &p,
		ReadHeaderTimeout: sc.ReadHeaderTimeout.D(),
		ReadTimeout:       sc.ReadTimeout.D(),
		WriteTimeout:      sc.WriteTimeout.D(),
		IdleTimeout:       sc.IdleTimeout.D(),
		MaxHeaderBytes:    int(sc.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		HTTP2: &http.HTTP2Config{
			MaxReadFrameSize: 1 << 20,
		},
	}
}

// Serve serves the listeners until ctx is done, then drains: it stops
// accepting, lets requests in flight finish within the shutdown timeout,
// and waits for background revalidations.
func (s *Server) Serve(ctx context.Context, lns []net.Listener) error {
	hs := s.HTTPServer()
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- hs.Serve(ln) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Server.ShutdownTimeout.D())
	defer cancel()
	if serr := hs.Shutdown(sctx); serr != nil {
		hs.Close()
	}
	s.bg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
