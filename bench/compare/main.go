// Command compare is popcache's comparison benchmark: it puts popcache,
// nginx (proxy_cache), Varnish and Apache Traffic Server in front of the same
// deterministic origin, adds nginx serving the same bodies from files as a
// ceiling, applies identical load to each in turn, and prints one table of
// medians with popcache's ratio to each peer. Run it through bench/run,
// which installs the tools and builds the binaries it needs.
package main

import (
	"context"
	cryptotls "crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are compare's flags.
type options struct {
	quick       bool
	rounds      int
	duration    time.Duration // per steady-load run
	deadline    time.Duration // bound on the whole run
	tmp         string        // work dir: configs, logs, caches, static files, PID file
	configs     string        // bench/configs
	out         string        // RESULTS.md to write; "" skips it
	command     string        // the command line to quote in RESULTS.md
	popcacheBin string        // "" marks popcache as not built
	originBin   string
	burstBin    string
	cacheSize   string // memory budget per cache, as varnishd -s malloc wants it
	servers     string // comma-separated subset of servers to run; "" = all
	match       string // regexp: run only scenarios whose name matches; "" = all
}

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "fewer scenarios, shorter runs, one round (under 3 minutes)")
	flag.IntVar(&o.rounds, "rounds", 0, "rounds (default 3, or 1 with -quick)")
	flag.DurationVar(&o.duration, "duration", 0, "length of each steady-load run (default 10s, or 3s with -quick)")
	flag.DurationVar(&o.deadline, "deadline", 0, "bound on the whole run (default 50m, or 150s with -quick)")
	flag.StringVar(&o.tmp, "tmp", "", "work directory (default: a new temp dir)")
	flag.StringVar(&o.configs, "configs", "bench/configs", "directory of config templates")
	flag.StringVar(&o.out, "out", "", "also write the table to this Markdown file")
	flag.StringVar(&o.command, "command", "", "command line to record in -out")
	flag.StringVar(&o.popcacheBin, "popcache", "", "popcache binary; empty marks popcache n/a")
	flag.StringVar(&o.originBin, "origin", "", "bench/origin binary (required)")
	flag.StringVar(&o.burstBin, "burst", "", "bench/burst binary (required)")
	flag.StringVar(&o.cacheSize, "cache-size", "2G", "memory for each cache (popcache's is in its config)")
	flag.StringVar(&o.servers, "servers", "", "comma-separated servers to run (default all: popcache,nginx,varnish,ats,nginx-static)")
	flag.StringVar(&o.match, "scenarios", "", "regexp: run only scenarios whose name matches (default all)")
	flag.Parse()
	o.ensureDefaults()
	lg := log.New(os.Stderr, "bench: ", log.Ltime)
	if o.originBin == "" || o.burstBin == "" {
		lg.Fatal("-origin and -burst are required (bench/run passes them)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.deadline)
	defer cancel()
	if err := run(ctx, o, lg); err != nil {
		lg.Printf("FAILED: %v", err)
		os.Exit(1)
	}
}

func (o *options) ensureDefaults() {
	if o.rounds == 0 {
		o.rounds = map[bool]int{true: 1, false: 3}[o.quick]
	}
	if o.duration == 0 {
		o.duration = map[bool]time.Duration{true: 3 * time.Second, false: 10 * time.Second}[o.quick]
	}
	if o.deadline == 0 {
		o.deadline = map[bool]time.Duration{true: 150 * time.Second, false: 50 * time.Minute}[o.quick]
	}
}

// runner holds one benchmark run's shared state.
type runner struct {
	opts       options
	log        *log.Logger
	procs      *procs
	client     *http.Client // for warming and probes; its own transport
	originURL  string
	originPort int
	staticDir  string
	cert, key  string
	loadAvg    string // when the run started
	res        results
}

func run(ctx context.Context, o options, lg *log.Logger) error {
	start := time.Now()
	if o.tmp == "" {
		d, err := os.MkdirTemp("", "popcache-bench-")
		if err != nil {
			return fmt.Errorf("compare: temp dir: %w", err)
		}
		o.tmp = d
	}
	// varnishd and nginx workers drop privileges: they must traverse the tree.
	if err := os.Chmod(o.tmp, 0o755); err != nil {
		return fmt.Errorf("compare: temp dir: %w", err)
	}
	tr := &http.Transport{
		MaxIdleConnsPerHost: warmWorkers * 2,
		DisableCompression:  true,
		// Loopback servers with the self-signed certificate made for this run.
		TLSClientConfig: &cryptotls.Config{InsecureSkipVerify: true},
	}
	defer tr.CloseIdleConnections()
	r := &runner{
		opts:      o,
		log:       lg,
		procs:     newProcs(filepath.Join(o.tmp, "pids"), lg),
		client:    &http.Client{Transport: tr},
		staticDir: filepath.Join(o.tmp, "static"),
		loadAvg:   loadAvg(),
	}
	defer r.procs.stopAll()
	lg.Printf("work dir %s; %d round(s) of %v runs", o.tmp, o.rounds, o.duration)

	if err := r.makeCert(ctx); err != nil {
		return err
	}
	if err := r.startOrigin(ctx); err != nil {
		return err
	}
	scs, err := selectScenarios(scenarios(o.quick), o.match)
	if err != nil {
		return err
	}
	paths := warmPaths(scs)
	static := paths
	if !slices.Contains(paths, readyPath) {
		static = append(slices.Clip(paths), readyPath)
	}
	lg.Printf("writing %d static files", len(static))
	if err := r.writeStatic(ctx, static); err != nil {
		return err
	}
	servers, err := newServers(o.tmp, o.configs, o.popcacheBin)
	if err != nil {
		return err
	}
	if servers, err = selectServers(servers, o.servers); err != nil {
		return err
	}
	for _, s := range servers {
		if s.skip != "" {
			lg.Printf("%s: n/a: %s", s.name, s.skip)
			continue
		}
		if err := r.launch(ctx, s); err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.skip = "failed to start"
			r.res.note("%s failed to start: %v", s.name, err)
			lg.Printf("%s: %v", s.name, err)
			continue
		}
		if !s.caches {
			continue
		}
		lg.Printf("warming %s with %d objects", s.name, len(paths))
		misses, err := r.warm(ctx, s, paths, tlsPaths(scs))
		if err != nil {
			return fmt.Errorf("compare: warm %s: %w", s.name, err)
		}
		if misses > 0 {
			r.res.note("%s: %d of %d objects still went to the origin on the second warming pass", s.name, misses, len(paths))
		}
		if s.name == popcache {
			r.checkHitHeader(ctx, s)
		}
	}
	// An interrupted run (signal, deadline) still reports what it measured.
	runErr := r.rounds(ctx, servers, scs)
	if runErr != nil {
		r.res.note("INTERRUPTED, table incomplete: %v (at %v)", runErr, time.Since(start).Round(time.Second))
	}
	r.recordRSS(servers)

	names := make([]string, len(servers))
	for i, s := range servers {
		names[i] = s.name
	}
	table := r.res.table(names)
	fmt.Println()
	fmt.Print(table)
	for _, n := range r.res.notes {
		fmt.Println("- " + n)
	}
	lg.Printf("done in %v", time.Since(start).Round(time.Second))
	if o.out != "" {
		if err := r.writeResults(names, table, time.Since(start)); err != nil {
			return err
		}
	}
	return runErr
}

// makeCert generates the self-signed certificate the TLS listeners use.
func (r *runner) makeCert(ctx context.Context) error {
	r.cert = filepath.Join(r.opts.tmp, "cert.pem")
	r.key = filepath.Join(r.opts.tmp, "key.pem")
	_, err := runTool(ctx, 30*time.Second, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
		"-keyout", r.key, "-out", r.cert, "-days", "2", "-subj", "/CN=127.0.0.1",
		"-addext", "subjectAltName=IP:127.0.0.1")
	return err
}

// checkHitHeader notes when a warmed popcache does not label a hit with
// "Cache-Status: popcache; hit", as its responses are meant to.
func (r *runner) checkHitHeader(ctx context.Context, s *server) {
	u := fmt.Sprintf("http://127.0.0.1:%d/obj/1k/hot", s.ports.H1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.res.note("popcache: hit check: %v", err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(strings.ToLower(cs), "popcache; hit") {
		r.res.note("popcache: a warmed object came back with Cache-Status %q, want \"popcache; hit\"", cs)
	}
}

// startOrigin starts bench/origin on a free loopback port and waits for it.
func (r *runner) startOrigin(ctx context.Context) error {
	p, err := freePorts(1)
	if err != nil {
		return err
	}
	r.originPort = p[0]
	r.originURL = fmt.Sprintf("http://127.0.0.1:%d", r.originPort)
	pr, err := r.procs.start("origin", filepath.Join(r.opts.tmp, "origin.log"), nil,
		r.opts.originBin, "-listen", fmt.Sprintf("127.0.0.1:%d", r.originPort))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if done, err := pr.exited(); done {
			return fmt.Errorf("compare: origin exited: %v", err)
		}
		if code, err := r.status(ctx, r.originURL+"/stats"); err == nil && code == http.StatusOK {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("compare: origin not ready on %s", r.originURL)
}

// rounds runs every scenario against every server, rounds times. Within a
// round each scenario visits all servers back to back; the order rotates
// with the round and the scenario so no server always goes first.
func (r *runner) rounds(ctx context.Context, servers []*server, scs []scenario) error {
	for round := range r.opts.rounds {
		for i, sc := range scs {
			order := rotate(servers, round+i)
			for _, s := range order {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("compare: stopped: %w (a signal or -deadline)", context.Cause(ctx))
				}
				if err := r.measure(ctx, round, sc, s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// selectScenarios keeps the scenarios whose name matches the regexp expr ("" keeps all).
func selectScenarios(all []scenario, expr string) ([]scenario, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("compare: -scenarios: %w", err)
	}
	var out []scenario
	for _, sc := range all {
		if re.MatchString(sc.name) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("compare: -scenarios %q matches no scenario", expr)
	}
	return out, nil
}

// selectServers keeps the servers named in the comma-separated list ("" keeps all).
func selectServers(all []*server, list string) ([]*server, error) {
	if list == "" {
		return all, nil
	}
	var out []*server
	for _, name := range strings.Split(list, ",") {
		i := slices.IndexFunc(all, func(s *server) bool { return s.name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("compare: -servers: unknown server %q", name)
		}
		out = append(out, all[i])
	}
	return out, nil
}

func rotate[T any](xs []T, by int) []T {
	n := len(xs)
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, xs[(i+by)%n])
	}
	return out
}

// measure runs one scenario once against one server and records the result.
func (r *runner) measure(ctx context.Context, round int, sc scenario, s *server) error {
	rps := rowKey{sc.name, metric{name: "req/s", higherBetter: true}}
	p50 := rowKey{sc.name, metric{name: "p50 ms"}}
	p99 := rowKey{sc.name, metric{name: "p99 ms"}}
	fetches := rowKey{sc.name, metric{name: "origin fetches"}}
	keys := []rowKey{rps}
	if sc.proto.wrk() {
		keys = append(keys, p99) // wrk prints a latency distribution; h2load does not
	}
	if sc.burst {
		keys = []rowKey{p50, p99, fetches}
	}
	skip := func(why string) error {
		for _, k := range keys {
			r.res.skip(k, s.name, why)
		}
		return nil
	}
	if s.skip != "" {
		return skip(s.skip)
	}
	if sc.burst && !s.caches {
		return skip("no origin behind it")
	}
	port, why := s.port(sc.proto)
	if why != "" {
		return skip(why)
	}
	if done, err := s.proc.exited(); done {
		s.skip = "died during the run"
		r.res.note("%s exited during the run (%v); see %s", s.name, err, s.dir)
		return skip(s.skip)
	}
	if sc.rng != "" {
		u := fmt.Sprintf("http://127.0.0.1:%d%s", port, sc.path())
		if code, err := r.status(ctx, u, "Range", sc.rng); err != nil || code != http.StatusPartialContent {
			r.res.note("%s %s round %d: a Range probe got %d (%v), not a 206", s.name, sc.name, round+1, code, err)
		}
	}
	if err := r.resetOrigin(ctx); err != nil {
		return err
	}
	if sc.burst {
		id := fmt.Sprintf("r%d-%s-%d", round, s.name, time.Now().UnixNano())
		// First an unmeasured burst on another key: each server sat idle
		// while the others were measured, and this kind of machine wakes
		// slowly from that (bench/PROFILE.md, "The cold burst after
		// idleness"); a PoP under traffic is awake.
		if _, err := r.runBurst(ctx, sc, port, "warm-"+id); err != nil {
			r.res.note("%s %s round %d: warm-up burst: %v", s.name, sc.name, round+1, err)
			return ctx.Err()
		}
		if err := r.resetOrigin(ctx); err != nil {
			return err
		}
		res, err := r.runBurst(ctx, sc, port, id)
		if err != nil {
			r.res.note("%s %s round %d: %v", s.name, sc.name, round+1, err)
			return ctx.Err()
		}
		r.log.Printf("round %d %-24s %-12s p50 %.1fms p99 %.1fms fetches %d errors %d", round+1, sc.name, s.name,
			res.P50Millis, res.P99Millis, res.OriginFetches, res.Errors)
		if res.Errors > 0 {
			r.res.note("%s %s round %d: %d of %d requests failed (first: %s)", s.name, sc.name, round+1, res.Errors, res.Clients, res.FirstError)
		}
		r.res.add(p50, s.name, res.P50Millis)
		r.res.add(p99, s.name, res.P99Millis)
		r.res.add(fetches, s.name, float64(res.OriginFetches))
		return nil
	}
	res, err := r.runLoad(ctx, sc, port)
	if err != nil {
		r.res.note("%s %s round %d: %v", s.name, sc.name, round+1, firstLine(err.Error()))
		return ctx.Err()
	}
	misses, err := r.originTotal(ctx)
	if err != nil {
		return err
	}
	r.log.Printf("round %d %-24s %-12s %10.0f req/s  p99 %.2fms  errors %d  origin fetches %d", round+1, sc.name, s.name, res.rps, res.p99ms, res.errors, misses)
	if res.rps == 0 {
		r.res.note("%s %s round %d: no request completed; the run is left out", s.name, sc.name, round+1)
		return nil
	}
	if res.errors > 0 {
		r.res.note("%s %s round %d: %d errors or non-2xx answers", s.name, sc.name, round+1, res.errors)
	}
	if misses > 0 && s.caches {
		r.res.note("%s %s round %d: %d requests reached the origin (not all hits)", s.name, sc.name, round+1, misses)
	}
	r.res.add(rps, s.name, res.rps)
	switch {
	case res.hasP99:
		r.res.add(p99, s.name, res.p99ms)
	case sc.proto.wrk():
		r.res.note("%s %s round %d: wrk printed no 99%% latency line", s.name, sc.name, round+1)
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// recordRSS adds each running server's resident memory after the run.
func (r *runner) recordRSS(servers []*server) {
	k := rowKey{"after all runs", metric{name: "RSS+memfd MiB"}}
	for _, s := range servers {
		if s.proc == nil || s.skip != "" {
			why := s.skip
			if why == "" {
				why = "not running"
			}
			r.res.skip(k, s.name, why)
			continue
		}
		b, err := rssBytes(s.proc.cmd.Process.Pid)
		if err != nil {
			r.res.skip(k, s.name, "unreadable")
			continue
		}
		r.res.add(k, s.name, float64(b>>20))
	}
}
