package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Server names, in the order the table lists them.
const (
	popcache    = "popcache"
	nginxCache  = "nginx"
	varnish     = "varnish"
	ats         = "ats"
	nginxStatic = "nginx-static"
)

// protocol is how a scenario talks to a server.
type protocol int

const (
	h1    protocol = iota // HTTP/1.1 keep-alive
	h2c                   // HTTP/2 over cleartext, prior knowledge
	tls                   // HTTP/2 over TLS (ALPN h2)
	tlsH1                 // HTTP/1.1 over TLS (wrk offers no ALPN)
)

// wrk reports whether p's scenarios are driven by wrk (HTTP/1.1) rather
// than h2load.
func (p protocol) wrk() bool { return p == h1 || p == tlsH1 }

// ports are a server's loopback listen ports; zero means "not served".
type ports struct {
	H1, H2C, TLS, Admin int
}

// server is one system under test and its runtime state.
type server struct {
	name   string
	ports  ports
	caches bool   // false for the static ceiling: no origin behind it
	dir    string // its configs, logs and storage
	proc   *proc  // nil until launched
	skip   string // why it is not measured at all ("" = it is)
	noTLS  string // why it serves no TLS h2 ("" = it does)
	noH2C  string // why it serves no h2c ("" = it does)
}

// port returns the port for p, or a reason it is not served.
func (s *server) port(p protocol) (int, string) {
	switch p {
	case h2c:
		if s.noH2C != "" {
			return 0, s.noH2C
		}
		return s.ports.H2C, ""
	case tls, tlsH1:
		if s.noTLS != "" {
			return 0, s.noTLS
		}
		return s.ports.TLS, ""
	default:
		return s.ports.H1, ""
	}
}

// tmplData is what the templates in bench/configs may refer to.
type tmplData struct {
	Dir, StaticDir, Cert, Key                     string
	Port, H2CPort, TLSPort, AdminPort, OriginPort int
}

// newServers lays out the five servers with free ports. popcacheBin == ""
// marks popcache as not built. popcache serves TLS h2 once its config
// template (configs/popcache.toml.tmpl) uses {{.TLSPort}}.
func newServers(tmp, configs, popcacheBin string) ([]*server, error) {
	free, err := freePorts(13)
	if err != nil {
		return nil, err
	}
	next := func() int { p := free[0]; free = free[1:]; return p }
	pc := &server{name: popcache, caches: true}
	pc.ports.H1 = next()
	pc.ports.H2C = pc.ports.H1 // h2c on the same listener
	pc.ports.Admin = next()
	pc.ports.TLS = next()
	tmpl, err := os.ReadFile(filepath.Join(configs, "popcache.toml.tmpl"))
	if err != nil {
		return nil, fmt.Errorf("compare: popcache config: %w", err)
	}
	if !strings.Contains(string(tmpl), "{{.TLSPort}}") {
		pc.noTLS = "no TLS listener in popcache's bench config yet"
	}
	if popcacheBin == "" {
		pc.skip = "not built (go build ./cmd/popcache failed)"
	}
	ng := &server{name: nginxCache, caches: true, ports: ports{H1: next(), H2C: next(), TLS: next()}}
	vn := &server{name: varnish, caches: true, noTLS: "varnish has no TLS (needs hitch)"}
	vn.ports.H1 = next()
	vn.ports.H2C = vn.ports.H1
	at := &server{name: ats, caches: true, ports: ports{H1: next(), TLS: next()}, noH2C: "ATS has no h2c"}
	st := &server{name: nginxStatic, ports: ports{H1: next(), H2C: next(), TLS: next()}}
	all := []*server{pc, ng, vn, at, st}
	for _, s := range all {
		s.dir = filepath.Join(tmp, s.name)
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return nil, fmt.Errorf("compare: server dir: %w", err)
		}
	}
	return all, nil
}

// freePorts finds n distinct free loopback ports by holding n listeners open at once.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("compare: free port: %w", err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// render executes the template configs/<src> into dst.
func render(configs, src, dst string, data tmplData) error {
	t, err := template.New(filepath.Base(src)).Option("missingkey=error").ParseFiles(filepath.Join(configs, src))
	if err != nil {
		return fmt.Errorf("compare: parse %s: %w", src, err)
	}
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("compare: render %s: %w", src, err)
	}
	if err := t.Execute(f, data); err != nil {
		f.Close()
		return fmt.Errorf("compare: render %s: %w", src, err)
	}
	return f.Close()
}

// launch writes s's configs and starts it. It returns once s answers on its
// HTTP/1.1 port (and, for popcache, on /healthz), or fails.
func (r *runner) launch(ctx context.Context, s *server) error {
	d := tmplData{
		Dir: s.dir, StaticDir: r.staticDir, Cert: r.cert, Key: r.key,
		Port: s.ports.H1, H2CPort: s.ports.H2C, TLSPort: s.ports.TLS, AdminPort: s.ports.Admin,
		OriginPort: r.originPort,
	}
	logPath := filepath.Join(s.dir, "stdout.log")
	var argv []string
	switch s.name {
	case popcache:
		conf := filepath.Join(s.dir, "popcache.toml")
		if err := render(r.opts.configs, "popcache.toml.tmpl", conf, d); err != nil {
			return err
		}
		argv = []string{r.opts.popcacheBin, "serve", "-c", conf}
	case nginxCache, nginxStatic:
		conf := filepath.Join(s.dir, "nginx.conf")
		src := "nginx-cache.conf.tmpl"
		if s.name == nginxStatic {
			src = "nginx-static.conf.tmpl"
		}
		if err := render(r.opts.configs, src, conf, d); err != nil {
			return err
		}
		argv = []string{"nginx", "-c", conf, "-p", s.dir, "-e", filepath.Join(s.dir, "error.log")}
	case varnish:
		vcl := filepath.Join(s.dir, "default.vcl")
		if err := render(r.opts.configs, "varnish.vcl.tmpl", vcl, d); err != nil {
			return err
		}
		argv = []string{"varnishd", "-F", "-a", "127.0.0.1:" + strconv.Itoa(s.ports.H1), "-f", vcl,
			"-s", "malloc," + r.opts.cacheSize, "-n", filepath.Join(s.dir, "work"), "-p", "feature=+http2"}
	case ats:
		root, err := r.layoutATS(s, d)
		if err != nil {
			return err
		}
		argv = []string{"traffic_server", "--run-root=" + root}
	default:
		return fmt.Errorf("compare: unknown server %q", s.name)
	}
	p, err := r.procs.start(s.name, logPath, nil, argv...)
	if err != nil {
		return err
	}
	s.proc = p
	if err := r.waitReady(ctx, s); err != nil {
		return fmt.Errorf("%w (see %s)", err, s.dir)
	}
	return nil
}

// layoutATS builds an ATS runroot under s.dir and returns its runroot.yaml.
func (r *runner) layoutATS(s *server, d tmplData) (string, error) {
	for _, sub := range []string{"etc", "var", "run", "log", "cache", "share"} {
		if err := os.MkdirAll(filepath.Join(s.dir, sub), 0o755); err != nil {
			return "", fmt.Errorf("compare: ats layout: %w", err)
		}
	}
	root := filepath.Join(s.dir, "runroot.yaml")
	if err := render(r.opts.configs, "ats/runroot.yaml.tmpl", root, d); err != nil {
		return "", err
	}
	for _, f := range []string{"records.config", "remap.config", "storage.config", "ssl_multicert.config"} {
		if err := render(r.opts.configs, "ats/"+f+".tmpl", filepath.Join(s.dir, "etc", f), d); err != nil {
			return "", err
		}
	}
	allow, err := os.ReadFile(filepath.Join(r.opts.configs, "ats", "ip_allow.yaml"))
	if err != nil {
		return "", fmt.Errorf("compare: ats ip_allow: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "etc", "ip_allow.yaml"), allow, 0o644); err != nil {
		return "", fmt.Errorf("compare: ats ip_allow: %w", err)
	}
	// Optional files ATS warns about when absent; empty means "no rules".
	for _, f := range []string{"cache.config", "parent.config", "plugin.config", "volume.config", "hosting.config"} {
		if err := os.WriteFile(filepath.Join(s.dir, "etc", f), nil, 0o644); err != nil {
			return "", fmt.Errorf("compare: ats %s: %w", f, err)
		}
	}
	return root, nil
}

// readyPath is the object waitReady polls: the static ceiling has it
// whatever the scenarios read.
const readyPath = "/obj/1k/hot"

// waitReady polls s until a GET of readyPath answers 200 (popcache: and
// its admin /healthz), for at most 60 seconds.
func (r *runner) waitReady(ctx context.Context, s *server) error {
	urls := []string{fmt.Sprintf("http://127.0.0.1:%d%s", s.ports.H1, readyPath)}
	if s.name == popcache {
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d/healthz", s.ports.Admin))
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for _, u := range urls {
		for {
			if done, err := s.proc.exited(); done {
				return fmt.Errorf("compare: %s exited during start: %v", s.name, err)
			}
			code, err := r.status(ctx, u)
			if err == nil && code == http.StatusOK {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("compare: %s not ready (%s: status %d, %v): %w", s.name, u, code, err, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return nil
}
