package routing

import (
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

// testOrigin returns an origin as conf would default it, with servers at urls.
func testOrigin(t testing.TB, name string, urls ...string) conf.Origin {
	t.Helper()
	o := conf.Origin{
		Name:           name,
		Balance:        "round_robin",
		ConnectTimeout: conf.Duration(2 * time.Second),
		HeaderTimeout:  conf.Duration(5 * time.Second),
		IdleTimeout:    conf.Duration(90 * time.Second),
		MaxIdleConns:   8,
		Passive:        conf.Passive{MaxFails: 5, Eject: conf.Duration(30 * time.Second)},
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("parse %q: %v", raw, err)
		}
		o.Servers = append(o.Servers, conf.Upstream{URL: raw, Weight: 1, Parsed: u})
	}
	return o
}

// testTable builds a table over origins with one catch-all route per
// origin, and closes it when the test ends.
func testTable(t *testing.T, clock *fakeClock, opts Options, origins ...conf.Origin) *Table {
	t.Helper()
	cfg := &conf.Config{Origins: origins}
	for _, o := range origins {
		cfg.Routes = append(cfg.Routes, conf.Route{Name: o.Name, Hosts: []string{o.Name + ".test"}, Origin: o.Name})
	}
	now := time.Now
	if clock != nil {
		now = clock.Now
	}
	tbl, err := newTable(cfg, opts, now)
	if err != nil {
		t.Fatalf("newTable: %v", err)
	}
	t.Cleanup(tbl.Close)
	return tbl
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex // protects t
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// closedAddr returns a loopback address nothing listens on: the port of a
// listener that was just closed.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
