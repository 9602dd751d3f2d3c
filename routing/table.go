package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
	"github.com/prometheus/client_golang/prometheus"
)

// Options holds what a [Table] needs besides its config.
type Options struct {
	// Registerer receives the table's metrics. Nil means no metrics.
	// Tables built one after another on the same Registerer (config
	// reloads) share the same collectors. Labels: pool is the origin name,
	// server the server's scheme://host.
	//
	//   - popcache_upstream_requests_total{pool,server,outcome}: attempts,
	//     a retry being a second attempt; outcome is ok, bad_status (502,
	//     503, 504), connect_error, error, canceled or client_body_error
	//     (the client's request body could not be read: not counted by
	//     passive checks).
	//   - popcache_upstream_retries_total{pool}: requests retried on
	//     another server after failing to connect.
	//   - popcache_upstream_server_up{pool,server}: 1 while active checks
	//     (if any) find the server up, else 0; ejections do not show here.
	//   - popcache_upstream_ejections_total{pool,server}: passive ejections.
	Registerer prometheus.Registerer
	// Logger receives server state changes (down, up, ejected). Nil discards
	// them.
	Logger *slog.Logger
}

// Route is what a request is served with. A Route is shared by every
// request it matches and must not be modified.
type Route struct {
	// Name is the route's configured name.
	Name string
	// Policy is the route's cache policy, node defaults applied.
	Policy conf.EffectivePolicy
	// Key builds the route's cache keys, compiled from Policy.Key.
	Key *cache.KeyRecipe
	// Pool sends the route's misses and passes to its origin.
	Pool *Pool
}

// Table is a compiled route table plus the origin pools its routes use.
// It is built once per config and is safe for concurrent use; a reload
// builds a new Table.
type Table struct {
	exact    map[string][]entry // by host name
	wildcard map[string][]entry // by the suffix after "*."
	any      []entry            // host "*"
	pools    []*Pool            // config order
	byName   map[string]*Pool

	runMu sync.Mutex // serialises Run: the health loops own the health state
}

// entry is one (host pattern, path pattern) pair of a route.
type entry struct {
	path  pathPattern
	order int // config order: route index, then path index
	route *Route
}

// New compiles cfg's routes and origin pools. It assumes cfg has been
// loaded and validated by conf, and reports, all at once, any problem that
// would make it unusable here.
func New(cfg *conf.Config, opts Options) (*Table, error) {
	return newTable(cfg, opts, time.Now)
}

// newTable is New with the clock passive ejection reads.
func newTable(cfg *conf.Config, opts Options, now func() time.Time) (*Table, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	t := &Table{
		exact:    make(map[string][]entry),
		wildcard: make(map[string][]entry),
		byName:   make(map[string]*Pool, len(cfg.Origins)),
	}
	var errs []error
	for i := range cfg.Origins {
		o := &cfg.Origins[i]
		if _, dup := t.byName[o.Name]; dup {
			errs = append(errs, fmt.Errorf("routing: origin %q: defined twice", o.Name))
			continue
		}
		p, err := newPool(o, m, log, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.pools = append(t.pools, p)
		t.byName[o.Name] = p
	}
	order := 0
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		r, err := newRoute(rc, t.byName)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := t.add(rc, r, &order); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Close()
		return nil, err
	}
	for _, es := range t.buckets() {
		slices.SortFunc(es, compareEntries)
	}
	return t, nil
}

func newRoute(rc *conf.Route, pools map[string]*Pool) (*Route, error) {
	p := pools[rc.Origin]
	if p == nil {
		return nil, fmt.Errorf("routing: route %q: origin %q is not defined", rc.Name, rc.Origin)
	}
	key, err := cache.NewKeyRecipe(rc.Effective.Key)
	if err != nil {
		return nil, fmt.Errorf("routing: route %q: %w", rc.Name, err)
	}
	return &Route{Name: rc.Name, Policy: rc.Effective, Key: key, Pool: p}, nil
}

// add indexes every (host, path) pair of route rc, numbering them from
// *order on.
func (t *Table) add(rc *conf.Route, r *Route, order *int) error {
	paths := rc.Paths
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	hosts := rc.Hosts
	if len(hosts) == 0 {
		hosts = []string{"*"}
	}
	var errs []error
	compiled := make([]pathPattern, 0, len(paths))
	for _, p := range paths {
		pp, err := parsePathPattern(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("routing: route %q: %w", rc.Name, err))
			continue
		}
		compiled = append(compiled, pp)
	}
	first := *order
	*order += len(compiled)
	for _, h := range hosts {
		kind, name, err := parseHostPattern(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("routing: route %q: %w", rc.Name, err))
			continue
		}
		for j, pp := range compiled {
			e := entry{path: pp, order: first + j, route: r}
			switch kind {
			case hostExact:
				t.exact[name] = append(t.exact[name], e)
			case hostWildcard:
				t.wildcard[name] = append(t.wildcard[name], e)
			case hostAny:
				t.any = append(t.any, e)
			}
		}
	}
	return errors.Join(errs...)
}

// buckets returns every entry list, to sort them.
func (t *Table) buckets() [][]entry {
	out := [][]entry{t.any}
	for _, es := range t.exact {
		out = append(out, es)
	}
	for _, es := range t.wildcard {
		out = append(out, es)
	}
	return out
}

// compareEntries orders the pairs of one host pattern: longer literal
// first, then prefix before glob, then config order.
func compareEntries(a, b entry) int {
	if d := len(b.path.literal) - len(a.path.literal); d != 0 {
		return d
	}
	if ag, bg := a.path.isGlob(), b.path.isGlob(); ag != bg {
		if bg {
			return -1
		}
		return 1
	}
	return a.order - b.order
}

// maxInlineHost is the longest host Match normalises without allocating
// (DNS names have at most 253 bytes).
const maxInlineHost = 256

// Match returns the route for a request, or nil when no route matches.
// The Route is shared and must not be modified.
// host is the request's Host header as received (any case, maybe with a
// port or a trailing dot); path is its URL path ("" means "/"). The order
// in which routes are tried is in the package doc. Match does not allocate
// for hosts of up to 256 bytes.
func (t *Table) Match(host, path string) *Route {
	if path == "" {
		path = "/"
	}
	var buf [maxInlineHost]byte
	h := buf[:0]
	if len(host) > len(buf) {
		h = make([]byte, 0, len(host))
	}
	h = appendHost(h, host)
	if r := matchPath(t.exact[string(h)], path); r != nil {
		return r
	}
	for i := 1; i < len(h); i++ { // i > 0: a wildcard needs a label in front
		if h[i] != '.' {
			continue
		}
		if es, ok := t.wildcard[string(h[i+1:])]; ok {
			if r := matchPath(es, path); r != nil {
				return r
			}
		}
	}
	return matchPath(t.any, path)
}

func matchPath(es []entry, path string) *Route {
	for i := range es {
		if es[i].path.match(path) {
			return es[i].route
		}
	}
	return nil
}

// Pool returns the pool of the origin called name, or nil.
func (t *Table) Pool(name string) *Pool { return t.byName[name] }

// Pools returns every origin pool, in config order.
func (t *Table) Pools() []*Pool { return slices.Clone(t.pools) }

// Run runs the active health checks of every pool that has a health path,
// one loop per pool, until ctx is done; it returns once every loop has
// stopped. A second Run waits for the first to return.
func (t *Table) Run(ctx context.Context) {
	t.runMu.Lock()
	defer t.runMu.Unlock()
	var wg sync.WaitGroup
	for _, p := range t.pools {
		if p.health.Path != "" {
			wg.Go(func() { p.runHealth(ctx) })
		}
	}
	wg.Wait()
	<-ctx.Done()
}

// Close closes the idle upstream connections of every pool. Requests in
// flight are not interrupted. Call it once the table is out of service and
// its Run has returned (a later request or probe would open new ones).
func (t *Table) Close() {
	for _, p := range t.pools {
		p.Close()
	}
}
