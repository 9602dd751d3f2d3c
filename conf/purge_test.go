package conf

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPurgeDefaults(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want func(t *testing.T, c *Config)
	}{
		{name: "edge", toml: minimal, want: func(t *testing.T, c *Config) {
			p := &c.Purge
			if p.Disabled || !*p.StripTagHeaders || p.Wait.D() != 5*time.Second || p.Retention.D() != 24*time.Hour ||
				p.MaxBodyBytes != 64*KiB || p.JournalDir != "" || p.Method.Enabled {
				t.Errorf("defaults not applied: %+v", *p)
			}
			if !slices.Equal(p.TagHeaders, []string{"Surrogate-Key", "Cache-Tag"}) {
				t.Errorf("TagHeaders = %q", p.TagHeaders)
			}
			if want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}; !slices.Equal(p.Method.AllowPrefixes, want) {
				t.Errorf("Method.AllowPrefixes = %v", p.Method.AllowPrefixes)
			}
			b := &p.Bus
			if len(b.URLs) != 0 || b.Listen != "127.0.0.1:0" || b.Stream != "POPCACHE_PURGE" || b.Subject != "popcache.purge" ||
				b.Replicas != 1 || b.ConnectTimeout.D() != 2*time.Second || b.CatchUpTimeout.D() != 10*time.Second {
				t.Errorf("bus defaults not applied: %+v", *b)
			}
			if len(c.Admin.Credentials) != 0 {
				t.Errorf("Credentials = %+v, want none", c.Admin.Credentials)
			}
		}},
		{name: "shield keeps tag headers", toml: "role = \"shield\"\n" + minimal, want: func(t *testing.T, c *Config) {
			if *c.Purge.StripTagHeaders {
				t.Errorf("a shield strips tag headers by default")
			}
		}},
		{name: "journal beside the disk tier", toml: "[cache.disk]\npath = \"/var/cache/pc\"\n" + minimal, want: func(t *testing.T, c *Config) {
			if c.Purge.JournalDir != "/var/cache/pc.purge" {
				t.Errorf("JournalDir = %q", c.Purge.JournalDir)
			}
		}},
		{name: "set", toml: `
[admin]
tokens = [{ name = "ops", token = "0123456789abcdef-_.~+/=", scopes = ["purge"] },
          { name = "root", token = "fedcba9876543210fedcba", scopes = ["purge", "admin"] }]
[purge]
node_id = "edge-fra-1"
dir = "/srv/purge"
tag_headers = ["x-tags"]
strip_tag_headers = false
wait = "250ms"
retention = "1h"
[purge.method]
enabled = true
allow = ["10.0.0.0/8"]
[purge.bus]
urls = ["nats://10.0.0.1:4222", "tls://user:pw@nats.example:4222"]
replicas = 3
` + minimal, want: func(t *testing.T, c *Config) {
			p := &c.Purge
			if p.NodeID != "edge-fra-1" || p.JournalDir != "/srv/purge" || *p.StripTagHeaders || p.Wait.D() != 250*time.Millisecond ||
				p.Retention.D() != time.Hour || !p.Method.Enabled || p.Bus.Replicas != 3 || len(p.Bus.URLs) != 2 {
				t.Errorf("settings = %+v", *p)
			}
			if !slices.Equal(p.TagHeaders, []string{"X-Tags"}) {
				t.Errorf("TagHeaders = %q, want canonical", p.TagHeaders)
			}
			if len(c.Admin.Credentials) != 2 || c.Admin.Credentials[1].Name != "root" {
				t.Errorf("Credentials = %+v", c.Admin.Credentials)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want(t, mustParse(t, tt.toml))
		})
	}
}

func TestPurgeValidation(t *testing.T) {
	tests := []errorCase{
		{name: "short token", msg: "at least 16 characters", toml: `
[admin]
tokens = [{ name = "ops", token = "short", scopes = ["purge"] }] # @admin.tokens[0].token
` + minimal},
		{name: "token with a space", msg: "at least 16 characters", toml: `
[admin]
tokens = [{ name = "ops", token = "0123456789 abcdefgh", scopes = ["purge"] }] # @admin.tokens[0].token
` + minimal},
		{name: "duplicate token", msg: "same token as admin.tokens[0]", toml: `
[admin]
tokens = [{ name = "a", token = "0123456789abcdefgh", scopes = ["purge"] },
  { name = "b", token = "0123456789abcdefgh", scopes = ["admin"] }] # @admin.tokens[1].token
` + minimal},
		{name: "unknown scope and no name", msg: `"root" is not a scope`, toml: `
[admin]
tokens = [{ token = "0123456789abcdefgh", scopes = ["root"] }] # @admin.tokens[0].name admin.tokens[0].scopes
` + minimal},
		{name: "no scope", msg: "at least one scope", toml: `
[admin]
tokens = [{ name = "a", token = "0123456789abcdefgh" }] # @admin.tokens[0].scopes
` + minimal},
		{name: "missing token file", msg: "no such file", toml: `
[admin]
token_file = "/nonexistent/tokens" # @admin.token_file
` + minimal},
		{name: "bad purge values", toml: `
[purge]
node_id = "edge.1" # @purge.node_id
tag_headers = ["bad header"] # @purge.tag_headers[0]
retention = "30s" # @purge.retention
max_body_bytes = "100B" # @purge.max_body_bytes
[purge.method]
allow = ["nope"] # @purge.method.allow[0]
` + minimal},
		{name: "a framing field as a tag header", msg: "not a tag header", toml: `
[purge]
tag_headers = ["Surrogate-Key", "content-length"] # @purge.tag_headers[1]
` + minimal},
		{name: "embedded bus off loopback", msg: "loopback only", toml: `
[purge.bus]
listen = "0.0.0.0:4222" # @purge.bus.listen
replicas = 3 # @purge.bus.replicas
` + minimal},
		{name: "bad bus names and urls", toml: `
[purge.bus]
urls = ["http://x:4222", "nats://"] # @purge.bus.urls[0] purge.bus.urls[1]
stream = "a.b" # @purge.bus.stream
subject = "popcache.*" # @purge.bus.subject
` + minimal},
		{name: "purge dir is the disk tier", msg: "directory of its own", toml: `
[cache.disk]
path = "/tmp/pc-disk"
[purge]
dir = "/tmp/pc-disk" # @purge.dir
` + minimal},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "tokens")
	os.WriteFile(good, []byte("# ops tokens\nops purge 0123456789abcdefgh\n\nroot purge,admin fedcba9876543210ab\n"), 0o600)
	c := mustParse(t, "[admin]\ntoken_file = \""+good+"\"\n"+minimal)
	if len(c.Admin.Credentials) != 2 || c.Admin.Credentials[0].Name != "ops" || !slices.Equal(c.Admin.Credentials[1].Scopes, []string{"purge", "admin"}) {
		t.Errorf("Credentials = %+v", c.Admin.Credentials)
	}

	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("ops purge\nops nope 0123456789abcdefgh\n"), 0o600)
	_, err := Parse("test.toml", []byte("[admin]\ntoken_file = \""+bad+"\"\n"+minimal))
	checkErrors(t, err, "test.toml", []string{"admin.token_file@2", "admin.token_file@2"}, "bad line 2: scopes")
}
