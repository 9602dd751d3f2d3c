package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/popcache/popcache/edge"
)

// reloadCertsOnHUP reloads the TLS certificates on every SIGHUP until ctx
// is done. Open connections keep their certificates; a failed reload keeps
// the ones in use (and is logged by the edge).
func reloadCertsOnHUP(ctx context.Context, srv *edge.Server, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			logger.Info("SIGHUP: reloading TLS certificates")
			_ = srv.ReloadCerts()
		}
	}
}

// tlsBanner prints how to try the demo PoP's TLS listener, whose
// certificate is self-signed (hence -k).
func tlsBanner(w io.Writer, addr string, h3, curlH3 bool) {
	fmt.Fprintf(w, `
  TLS (self-signed certificate, made at start):
  curl -sk --http2 -o /dev/null -w '%%{http_version}\n' https://%[1]s/static/app.js   # 2
  curl -sik --http2 https://%[1]s/static/app.js | grep -iE 'cache-status|alt-svc'
`, addr)
	switch {
	case h3 && curlH3:
		fmt.Fprintf(w, "  curl -sik --http3-only https://%s/static/app.js | grep -i cache-status   # HTTP/3\n", addr)
	case h3:
		fmt.Fprintf(w, "  HTTP/3 is served on udp/%s (this curl has no HTTP/3: try a browser, or a curl built with it: curl -k --http3)\n", addr)
	}
}

// curlHasHTTP3 reports whether the local curl lists HTTP3 among its
// features, so that the banner only suggests what will work.
func curlHasHTTP3() bool {
	path, err := exec.LookPath("curl")
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Features:") {
			return strings.Contains(line, "HTTP3")
		}
	}
	return false
}
