// Command popcache runs a popcache CDN edge node.
//
//	popcache [serve] [-c FILE]                      run a node (no -c: the embedded demo PoP)
//	popcache serve --listen ADDR --origin URL [--admin ADDR]
//	                                                run one cached catch-all route to URL
//	popcache check -c FILE                          validate a config, print its effective routes
//	popcache purge --admin URL --token T --url U    purge on every node (see purge.go)
//	popcache version                                print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/popcache/popcache/conf"
	"github.com/popcache/popcache/edge"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCmd(args, stdout, stderr)
	case "check":
		return checkCmd(args, stdout, stderr)
	case "purge":
		return purgeCmd(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "popcache", version+buildRevision())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "popcache: unknown command %q\n\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  popcache [serve] [-c FILE]        run a node; without -c, the embedded demo PoP
  popcache serve --listen ADDR --origin URL [--admin ADDR]
                                    one cached catch-all route to URL
  popcache check -c FILE            validate a config and print its effective routes
  popcache purge --admin URL --token T --url U | --tag T | --prefix P | --host H | --all [--soft]
                                    purge on every node (popcache purge -h for more)
  popcache version                  print the version
`)
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func serveCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "config `file` (TOML)")
	var listen listFlag
	fs.Var(&listen, "listen", "client listen `address` (repeatable; quick-start form)")
	origin := fs.String("origin", "", "origin `URL` (quick-start form)")
	admin := fs.String("admin", "", "admin listen `address` (quick-start form; default 127.0.0.1:9090)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "popcache serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	quick := len(listen) > 0 || *origin != "" || *admin != ""
	var cfg *conf.Config
	var err error
	switch {
	case quick && *file != "":
		fmt.Fprintln(stderr, "popcache serve: -c and --listen/--origin/--admin are exclusive: use one form")
		return 2
	case quick:
		cfg, err = conf.QuickStart(listen, *origin, *admin)
	case *file != "":
		cfg, err = conf.Load(*file)
	default:
		cfg, err = conf.Default()
	}
	if err != nil {
		fmt.Fprintf(stderr, "popcache: config error:\n%v\n", err)
		return 1
	}
	demoToken := addDemoToken(cfg)
	caps := []conf.Size{cfg.Cache.MemoryMaxBytes}
	if cfg.Demo.Enabled && cfg.Demo.ShieldListen != "" && cfg.Shield.HasTier() {
		caps = append(caps, cfg.Cache.MemoryMaxBytes) // the demo shield's memory tier
	}
	setMemoryLimit(caps...)
	_, stopGC := startGCTuner(gcHeadroomFloor)
	defer stopGC()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// One spare P for the whole process: the demo shield's loops share
	// the edge's CPUs.
	spare := edge.NewSpareProc(&cfg.Server)
	if spare != nil {
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); spare.Run(sctx) }()
		defer func() { cancel(); <-done }()
	}
	if err := runNode(ctx, cfg, stdout, stderr, demoToken, spare); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "popcache: %v\n", err)
		return 1
	}
	return 0
}

func checkCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "config `file` (TOML); default: the embedded demo config")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var cfg *conf.Config
	var err error
	if *file == "" {
		cfg, err = conf.Default()
	} else {
		cfg, err = conf.Load(*file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	cfg.Describe(stdout)
	fmt.Fprintf(stdout, "%s: OK\n", cfg.Source)
	return 0
}
