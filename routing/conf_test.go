package routing

import (
	"testing"

	"github.com/popcache/popcache/conf"
)

// TestFromLoadedConfig builds a table from a config that went through
// conf's own loader, so drift between conf's defaults and what New
// requires shows up here.
func TestFromLoadedConfig(t *testing.T) {
	const src = `
[[origins]]
name = "web"
balance = "hash"
servers = [{url = "http://10.0.0.1:8080"}, {url = "https://10.0.0.2", weight = 3}]
host_header = "www.example.com"
health = {path = "/healthz"}

[[origins]]
name = "api"
servers = [{url = "http://10.0.0.3"}]
passive = {disabled = true}

[[routes]]
name = "api"
hosts = ["API.example.com"]
paths = ["/v1/", "/v2/**"]
origin = "api"

[[routes]]
name = "site"
hosts = ["*.example.com", "example.com"]
origin = "web"
`
	cfg, err := conf.Parse("<test>", []byte(src))
	if err != nil {
		t.Fatalf("conf.Parse: %v", err)
	}
	tbl, err := New(cfg, Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer tbl.Close()
	tests := []struct{ host, path, want string }{
		{"api.example.com", "/v1/items", "api"},
		{"api.example.com", "/v2/a/b", "api"},
		{"api.example.com", "/other", "site"},
		{"example.com", "/", "site"},
		{"elsewhere.org", "/", ""},
	}
	for _, tt := range tests {
		got := ""
		if r := tbl.Match(tt.host, tt.path); r != nil {
			got = r.Name
		}
		if got != tt.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tt.host, tt.path, got, tt.want)
		}
	}
	if p := tbl.Pool("web"); p.probes == nil || p.transport.TLSClientConfig.ServerName != "www.example.com" {
		t.Error("web pool: want a probe transport and TLS named after host_header")
	}
}
