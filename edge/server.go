package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/popcache/popcache/edge/internal/h2"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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
	// Methods answers requests with these (extension) methods, such as
	// PURGE, with their handler instead of the pipeline, after the loop
	// check and before routing. GET and HEAD cannot be taken over.
	Methods map[string]http.Handler
	// SpareProc, when set, lends Go a P while this server's event loops
	// are saturated; the binary makes one per process (NewSpareProc).
	SpareProc *SpareProc
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
	methods     map[string]http.Handler
	spare       *SpareProc
	via         string // our Via entry, "1.1 <name>"
	maxURI      int
	// strip are the fields stored but never sent to clients: the purge
	// tag headers, unless purge.strip_tag_headers is off.
	strip []string

	bg     sync.WaitGroup // background revalidations
	bgMu   sync.Mutex     // orders bg.Add before the Wait that ends serving
	bgDone bool           // serving ended: no more revalidations; under bgMu
	bufs   sync.Pool      // *[]byte of copyBufSize, for streaming bodies

	lm      *listenMetrics
	certs   *certStore             // nil without tls.listen
	tlsConf *tls.Config            // of the TCP TLS listeners; nil without tls.listen
	https   map[string]*routeHTTPS // by route name; nil when no route redirects or sends HSTS
	tlsPort atomic.Int32           // the first TLS listener's port, for redirects; set by ServeListeners

	noFastPath bool // serve plain listeners with net/http alone (tests compare the two)
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
		methods:     opts.Methods,
		spare:       opts.SpareProc,
		m:           newMetrics(opts.Registerer),
		via:         "1.1 " + cfg.Server.Name,
		maxURI:      int(cfg.Server.MaxURIBytes),
	}
	s.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	if p := &cfg.Purge; !p.Disabled && p.StripTagHeaders != nil && *p.StripTagHeaders {
		s.strip = p.TagHeaders
	}
	for m := range opts.Methods {
		if m == http.MethodGet || m == http.MethodHead {
			return nil, fmt.Errorf("edge: new server: Options.Methods cannot take over %s", m)
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.lm = newListenMetrics(opts.Registerer)
	s.https = newRouteHTTPS(cfg.Routes)
	if len(cfg.TLS.Listen) > 0 {
		certs, err := newCertStore(&cfg.TLS, s.log, s.lm)
		if err != nil {
			return nil, err
		}
		s.certs = certs
		s.tlsConf = serverTLSConfig(&cfg.TLS, certs)
	}
	return s, nil
}

// HTTPServer returns the net/http server for the plain client listeners:
// HTTP/1.1 and HTTP/2 with prior knowledge (h2c), with the configured
// limits and timeouts. [Server.ServeListeners] uses it, and one like it
// for each TLS listener.
func (s *Server) HTTPServer() *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return s.httpServer(s.plainFront(), &p)
}

// httpServer is a net/http server for handler f and protocols p, with
// the configured limits and timeouts. Its HTTP/2 is edge/internal/h2,
// which answers plain hits itself (h2hit.go) unless hooks are set.
func (s *Server) httpServer(f *front, p *http.Protocols) *http.Server {
	sc := s.cfg.Server
	hs := &http.Server{
		Handler:           f,
		Protocols:         p,
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
	// One HTTP/2 server in every mode, x/net's, which is stricter than
	// the copy in Go 1.26's net/http (a Host field that disagrees with
	// :authority, for one); with hooks it has no hit path.
	var hit func(*http.Request, *h2.Hit) bool
	if s.fastPathOK() {
		hit = f.h2Hit
	}
	// It fails only on a TLSConfig with cipher suites HTTP/2 forbids; hs
	// has none (the TLS listeners do their own handshakes).
	if err := h2.ConfigureServer(hs, &h2.Server{Hit: hit}); err != nil {
		panic("edge: configuring HTTP/2: " + err.Error())
	}
	return hs
}

// Serve serves plain listeners (HTTP/1.1 and h2c) until ctx is done, as
// [Server.ServeListeners] does.
func (s *Server) Serve(ctx context.Context, lns []net.Listener) error {
	return s.ServeListeners(ctx, &Listeners{Plain: lns})
}
