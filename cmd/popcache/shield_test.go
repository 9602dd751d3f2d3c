package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popcache/popcache/conf"
)

func TestDemoShieldConfig(t *testing.T) {
	edgeCfg, err := conf.Default()
	if err != nil {
		t.Fatal(err)
	}
	c, err := demoShieldConfig(edgeCfg)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"role shield", c.Role == conf.RoleShield},
		{"listens on demo.shield_listen only", len(c.Server.Listen) == 1 && c.Server.Listen[0] == edgeCfg.Demo.ShieldListen},
		{"a name of its own", c.Server.Name == edgeCfg.Server.Name+"-shield"},
		{"no admin, demo, shield pool, disk or TLS", c.Admin.Disabled && !c.Demo.Enabled && !c.Shield.HasTier() &&
			c.Cache.Disk.Dir == "" && len(c.TLS.Listen) == 0},
		{"same origins and routes", len(c.Origins) == len(edgeCfg.Origins) && len(c.Routes) == len(edgeCfg.Routes) &&
			c.Routes[0].Effective.StaleIfError == edgeCfg.Routes[0].Effective.StaleIfError},
		{"keeps targeted headers for the edge", !c.Routes[0].Effective.StripTargetedHeaders},
		{"the edge still strips them", edgeCfg.Routes[0].Effective.StripTargetedHeaders},
		{"trusts the edge's X-Forwarded-For", len(c.Server.TrustedPrefixes) == 2},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if !ck.ok {
				t.Errorf("demo shield config: %+v", c)
			}
		})
	}
}

// freeAddrs returns n loopback addresses that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var lns []net.Listener
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return addrs
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The embedded demo PoP, on free ports: origin, shield and edge in one
// process, and Cache-Status shows both tiers.
func TestDemoPoPTiers(t *testing.T) {
	a := freeAddrs(t, 5)
	edgeAddr, originAddr, shieldAddr, adminAddr, tlsAddr := a[0], a[1], a[2], a[3], a[4]
	text := strings.NewReplacer(
		"127.0.0.1:8080", edgeAddr, "127.0.0.1:8081", originAddr, "127.0.0.1:8082", shieldAddr,
		"127.0.0.1:9090", adminAddr, "127.0.0.1:8443", tlsAddr,
		`"{cache_dir}/popcache"`, `"`+t.TempDir()+`"`,
	).Replace(conf.DefaultTOML())
	cfg, err := conf.Parse("demo-test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- runNode(ctx, cfg, &stdout, &stderr, "", nil) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Errorf("runNode did not return within 40s of cancel")
		}
	}()

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(url, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v\nstderr:\n%s", url, err, stderr.String())
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Cache-Status")
	}
	// Both nodes up: the shield answers on its own port.
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, "http://"+shieldAddr+"/", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo shield not up after 15s: %v\nstderr:\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A miss at both tiers: the shield's entry, then the edge's.
	code, cs := get("http://"+edgeAddr+"/short", "")
	if code != 200 || !strings.HasPrefix(cs, "popcache-shield; fwd=uri-miss") || !strings.Contains(cs, ", popcache; fwd=uri-miss") {
		t.Errorf("first /short: %d, Cache-Status %q; want a shield miss then an edge miss", code, cs)
	}
	// Edge miss, shield hit: warm the shield as another edge would.
	get("http://"+shieldAddr+"/vary", edgeAddr)
	code, cs = get("http://"+edgeAddr+"/vary", "")
	if code != 200 || !strings.HasPrefix(cs, "popcache-shield; hit") || !strings.Contains(cs, ", popcache; fwd=uri-miss") {
		t.Errorf("/vary after warming the shield: %d, Cache-Status %q; want a shield hit and an edge miss", code, cs)
	}
	if out := stdout.String(); !strings.Contains(out, "Tiers: edge http://"+edgeAddr) {
		t.Errorf("banner lacks the tiers:\n%s", out)
	}
}
