package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/popcache/popcache/conf"
)

// demoPath is one path of the sample origin.
type demoPath struct {
	path, about string
}

// demoPaths lists what the sample origin serves, for the index page and
// the start-up banner.
var demoPaths = [...]demoPath{
	{"/", "this index (max-age=60)"},
	{"/static/app.js", "long-lived asset (public, max-age=86400, ETag)"},
	{"/short", "short max-age=5"},
	{"/swr", "max-age=2, stale-while-revalidate=30"},
	{"/etag", "no-cache with ETag and Last-Modified: revalidated with 304s"},
	{"/vary", "Vary: Accept-Language (max-age=300)"},
	{"/nostore", "no-store: never cached"},
	{"/private", "private: never shared"},
	{"/cookie", "sets a cookie: passed, not stored"},
	{"/slow", "answers after 500ms (max-age=30): try concurrent misses"},
	{"/large", "an 8 MiB body (max-age=3600)"},
	{"/error", "a 503 with no freshness"},
}

// demoOrigin is the built-in sample origin of the embedded default config.
type demoOrigin struct {
	fetches atomic.Int64
	large   []byte
	started time.Time
}

func newDemoOrigin() *demoOrigin {
	return &demoOrigin{
		large:   bytes.Repeat([]byte("popcache demo large body.\n"), 8<<20/26+1)[:8<<20],
		started: time.Now().Truncate(time.Second),
	}
}

func (d *demoOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := d.fetches.Add(1)
	h := w.Header()
	h.Set("X-Demo-Fetch", strconv.FormatInt(n, 10))
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	// Tags for purge by tag: every path has "demo", assets also "static".
	h.Set("Surrogate-Key", "demo")
	if strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Surrogate-Key", "demo static")
	}
	body := fmt.Sprintf("popcache demo origin: %s (origin fetch #%d at %s)\n", r.URL.Path, n, time.Now().Format(time.RFC3339Nano))
	switch r.URL.Path {
	case "/":
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=60")
		var b strings.Builder
		b.WriteString("<!doctype html><title>popcache demo</title><h1>popcache demo origin</h1><ul>")
		for _, p := range demoPaths {
			fmt.Fprintf(&b, "<li><a href=%q>%s</a> — %s</li>", p.path, p.path, p.about)
		}
		b.WriteString("</ul>")
		body = b.String()
	case "/static/app.js":
		h.Set("Content-Type", "text/javascript")
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("ETag", `"app-v1"`)
		body = "console.log('served by popcache');\n"
	case "/short":
		h.Set("Cache-Control", "max-age=5")
	case "/swr":
		h.Set("Cache-Control", "max-age=2, stale-while-revalidate=30")
	case "/etag":
		etag := `"demo-etag-1"`
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		h.Set("Last-Modified", d.started.UTC().Format(http.TimeFormat))
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body = "revalidate me\n"
	case "/vary":
		h.Set("Cache-Control", "max-age=300")
		h.Set("Vary", "Accept-Language")
		body = "language: " + r.Header.Get("Accept-Language") + "\n"
	case "/nostore":
		h.Set("Cache-Control", "no-store")
	case "/private":
		h.Set("Cache-Control", "private, max-age=60")
	case "/cookie":
		h.Set("Cache-Control", "max-age=60")
		h.Set("Set-Cookie", "session="+strconv.FormatInt(n, 10)+"; Path=/; HttpOnly")
	case "/slow":
		select {
		case <-time.After(500 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		h.Set("Cache-Control", "max-age=30")
	case "/large":
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "max-age=3600")
		h.Set("Content-Length", strconv.Itoa(len(d.large)))
		w.Write(d.large)
		return
	case "/error":
		http.Error(w, "demo origin: simulated outage", http.StatusServiceUnavailable)
		return
	case "/healthz":
		h.Set("Cache-Control", "no-store")
		body = "ok\n"
	default:
		h.Set("Cache-Control", "max-age=10")
		http.Error(w, "not found on the demo origin", http.StatusNotFound)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write([]byte(body))
}

// addDemoToken gives the demo PoP a purge token made at start, so a
// newcomer can try the purge API without writing a file. It returns the
// token, or "" when the config already has tokens or is not the demo.
func addDemoToken(cfg *conf.Config) string {
	if !cfg.Demo.Enabled || len(cfg.Admin.Credentials) > 0 || cfg.Admin.Disabled {
		return ""
	}
	b := make([]byte, 18)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	cfg.Admin.Credentials = append(cfg.Admin.Credentials, conf.AdminToken{Name: "demo", Token: tok, Scopes: []string{"purge", "admin"}})
	return tok
}

// purgeBanner prints how to purge from the demo PoP.
func purgeBanner(w io.Writer, cfg *conf.Config, token string) {
	if token == "" {
		return
	}
	fmt.Fprintf(w, `
  Purge (token made at start for this run):
  popcache purge --admin http://%[1]s --token %[2]s --url http://%[3]s/static/app.js
  curl -s -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' -d '{"tags":["demo"],"soft":true}' http://%[1]s/purge
`, cfg.Admin.Listen, token, cfg.Server.Listen[0])
}
