// Command burst measures a cold-key stampede: it opens many connections to a
// cache, releases one request for the same uncached path on all of them at
// once, and prints latency percentiles and the origin's fetch count as JSON.
//
//	burst -target 127.0.0.1:8080 -path /slow/200/fresh1 -stats http://127.0.0.1:8081/stats
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

func main() {
	var cfg Config
	flag.StringVar(&cfg.Target, "target", "", "loopback host:port of the cache under test")
	flag.StringVar(&cfg.Path, "path", "", "request path, e.g. /slow/200/<fresh id>")
	flag.IntVar(&cfg.Clients, "clients", 500, "connections, one request each, released together")
	flag.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "bound on dialing and on the burst")
	flag.StringVar(&cfg.Stats, "stats", "", "origin /stats URL; empty skips the fetch count")
	flag.Parse()
	if err := check(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

// check refuses incomplete flags and any non-loopback target.
func check(cfg Config) error {
	if cfg.Path == "" || cfg.Clients < 1 || cfg.Timeout <= 0 {
		return fmt.Errorf("burst: need -path, -clients >= 1 and -timeout > 0")
	}
	host, _, err := net.SplitHostPort(cfg.Target)
	if err != nil {
		return fmt.Errorf("burst: -target %q: %w", cfg.Target, err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return fmt.Errorf("burst: -target %q: want a loopback IP", cfg.Target)
	}
	return nil
}
