package purge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/edge"
	"github.com/popcache/popcache/routing"
	"github.com/popcache/popcache/shield"
)

// fleetNode is a whole node on loopback, as the binary wires one: the
// edge server (in the role of an edge or a shield) on its own client
// listener, its memory store, and its purge service, which reads the
// stream through cache (the store, or a wrapper of it).
type fleetNode struct {
	name  string
	addr  string // client listener, host:port
	svc   *Service
	store *cache.Store
}

// fleetSpec describes a fleetNode.
type fleetSpec struct {
	name, role string
	origin     string        // origin URL
	shield     string        // edges: the shield's host:port
	busURL     string        // "" to embed the bus
	every      time.Duration // announcement period; 0 for the default
	wrap       func(*cache.Store) Cache
	onApply    func(Applied)
}

// startFleetNode starts a node and stops it at the end of the test.
func startFleetNode(t *testing.T, sp fleetSpec) *fleetNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bus, tier := "", ""
	if sp.busURL != "" {
		bus = fmt.Sprintf("urls = [%q]", sp.busURL)
	}
	if sp.shield != "" {
		tier = fmt.Sprintf("[shield]\nservers = [{ url = \"http://%s\" }]\nfailover = \"none\"\n", sp.shield)
	}
	doc := fmt.Sprintf(`
role = %q
[server]
listen = [%q]
name = %q
[admin]
listen = "127.0.0.1:0"
[purge]
node_id = %q
wait = "5s"
[purge.bus]
catch_up_timeout = "5s"
connect_timeout = "500ms"
%s
%s
[[origins]]
name = "o"
servers = [{ url = %q }]
[[routes]]
origin = "o"
`, sp.role, ln.Addr().String(), sp.name, sp.name, bus, tier, sp.origin)
	cfg, err := conf.Parse(sp.name+".toml", []byte(doc))
	if err != nil {
		ln.Close()
		t.Fatalf("config of %s: %v\n%s", sp.name, err, doc)
	}
	table, err := routing.New(cfg, routing.Options{})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	store, err := cache.New(cfg.Cache, cache.Options{})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	var up edge.UpstreamFunc
	if cfg.Shield.HasTier() {
		c, err := shield.New(&cfg.Shield, shield.Options{})
		if err != nil {
			ln.Close()
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		tiers := map[*routing.Pool]*shield.Tier{}
		for _, p := range table.Pools() {
			tiers[p] = c.Tier(p)
		}
		up = func(r *routing.Route) edge.Upstream { return tiers[r.Pool] }
	}
	srv, err := edge.New(cfg, table, store, edge.Options{Upstream: up})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	var pc Cache = store
	if sp.wrap != nil {
		pc = sp.wrap(store)
	}
	svc, err := New(cfg, pc, Options{OnApply: sp.onApply})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	svc.shields.every = sp.every
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Start(ctx); err != nil {
		cancel()
		ln.Close()
		t.Fatalf("Start %s: %v", sp.name, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	wg.Go(func() { srv.Serve(ctx, []net.Listener{ln}) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		svc.Close()
		store.Close()
	})
	return &fleetNode{name: sp.name, addr: ln.Addr().String(), svc: svc, store: store}
}

// fleetGet is a GET through a node's client listener: the body and the
// Cache-Status line.
func fleetGet(t *testing.T, n *fleetNode, host, path string) (body, status string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.addr+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s%s via %s: %v", host, path, n.name, err)
		return "", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), strings.Join(resp.Header.Values("Cache-Status"), ", ")
}

// versionedOrigin answers every path with "v<version>", fresh for an
// hour.
func versionedOrigin(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var version atomic.Int64
	version.Store(1)
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintf(w, "v%d", version.Load())
	}))
	t.Cleanup(o.Close)
	return o, &version
}

// gatedCache holds every Purge while its gate is shut, as a shield
// that is slow to apply purges (a busy disk, a later reconnection)
// would: the rules are not in the cache until the gate opens.
type gatedCache struct {
	*cache.Store
	mu   sync.Mutex
	gate chan struct{} // nil while open; closed to open it; protected by mu
}

func (c *gatedCache) Purge(ctx context.Context, rules []cache.PurgeRule) error {
	c.mu.Lock()
	g := c.gate
	c.mu.Unlock()
	if g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return c.Store.Purge(ctx, rules)
}

// shut makes the next Purges wait for open.
func (c *gatedCache) shut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gate == nil {
		c.gate = make(chan struct{})
	}
}

// open lets the held Purges through.
func (c *gatedCache) open() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gate != nil {
		close(c.gate)
		c.gate = nil
	}
}

// link is a TCP relay standing for the network between a node and its
// NATS server: cut closes its connections and refuses new ones until
// restore.
type link struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool                  // protected by mu
	conns  map[net.Conn]struct{} // protected by mu
	wg     sync.WaitGroup
	// linger keeps the target's side of a cut connection open that long,
	// as over a real network, where the server learns of a lost client
	// late: meanwhile it delivers to it, and what it sends is lost.
	linger time.Duration
}

func startLink(t *testing.T, target string, linger time.Duration) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target, conns: map[net.Conn]struct{}{}, linger: linger}
	l.wg.Go(l.accept)
	t.Cleanup(func() { ln.Close(); l.cut(); l.wg.Wait() })
	return l
}

// url is the NATS URL that reaches the target through the link.
func (l *link) url() string { return "nats://" + l.ln.Addr().String() }

func (l *link) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		down := l.down
		l.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		done := make(chan struct{})
		l.wg.Go(func() {
			io.Copy(u, c) // until the client's side closes (or cut closes it)
			c.Close()
			close(done)
			if l.linger > 0 {
				time.Sleep(l.linger)
			}
			u.Close()
		})
		l.wg.Go(func() {
			io.Copy(c, u) // what the target sends once c is closed is lost
			c.Close()
			<-done
			u.Close()
		})
	}
}

// cut drops the link's connections and refuses new ones.
func (l *link) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		c.Close()
		delete(l.conns, c)
	}
}

// restore lets connections through again.
func (l *link) restore() {
	l.mu.Lock()
	l.down = false
	l.mu.Unlock()
}
