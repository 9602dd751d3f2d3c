package conf

import (
	"errors"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	c := mustParse(t, `
[server]
listen = [":8080"]
trusted_proxies = ["10.0.0.0/8"]
[admin]
disabled = true
[[origins]]
name = "web"
balance = "weighted"
servers = [{url = "http://10.0.0.1:80", weight = 3}, {url = "http://10.0.0.2:80"}]
health = {path = "/healthz"}
[[routes]]
name = "static"
origin = "web"
hosts = ["*.Example.com"]
paths = ["/static/"]
cache = {default_ttl = "1h", key = {query = "none", headers = ["accept-encoding"]}}
[[routes]]
name = "rest"
origin = "web"
cache = {enabled = false}
`)
	var b strings.Builder
	if err := c.Describe(&b); err != nil {
		t.Fatalf("Describe: %v", err)
	}
	out := b.String()
	for _, want := range []string{
		"client  :8080",
		"admin   disabled",
		"trusted from: 10.0.0.0/8",
		"web: balance weighted",
		"http://10.0.0.1:80 (weight 3)",
		"health checks: GET /healthz every 5s, timeout 2s",
		"passive ejection: 30s after 5",
		`routes[0] "static" -> origin "web"`,
		"hosts: *.example.com",
		"paths: /static/",
		"default TTL 1h0m0s",
		"key: scheme + host + path + no query + headers Accept-Encoding",
		`routes[1] "rest" -> origin "web"`,
		"hosts: *\n    paths: /",
		"cache: off",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Describe output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, `"static"`) > strings.Index(out, `"rest"`) {
		t.Errorf("routes are not in match order:\n%s", out)
	}
}

type failingWriter struct{ n int }

var errWrite = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errWrite
}

func TestDescribeReturnsWriteError(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	w := &failingWriter{}
	if err := c.Describe(w); !errors.Is(err, errWrite) {
		t.Errorf("Describe = %v, want the write error", err)
	}
	if w.n != 1 {
		t.Errorf("Describe kept writing after an error: %d writes", w.n)
	}
}
