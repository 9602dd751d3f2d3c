package conf

import (
	"testing"
	"time"
)

func TestShieldDefaults(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want func(t *testing.T, s *Shield)
	}{
		{name: "no tier", toml: minimal, want: func(t *testing.T, s *Shield) {
			if s.HasTier() {
				t.Errorf("HasTier() = true without servers")
			}
			if s.Failover != FailoverOrigin || s.ConnectTimeout.D() != time.Second ||
				s.HeaderTimeout.D() != time.Minute || s.RetryBuffer != 256*KiB ||
				s.Breaker.MaxFails != 3 || s.Breaker.OpenFor.D() != 5*time.Second ||
				s.Health.Interval.D() != 5*time.Second || s.Health.Path != "" {
				t.Errorf("defaults not applied: %+v", *s)
			}
		}},
		{name: "servers parsed with weights", toml: `
[shield]
servers = [{ url = "http://10.0.0.1:8080/" }, { url = "https://s2.example", weight = 3 }]
failover = "none"
[shield.breaker]
open_for = "250ms"
` + minimal, want: func(t *testing.T, s *Shield) {
			if !s.HasTier() || len(s.Servers) != 2 {
				t.Fatalf("servers = %+v", s.Servers)
			}
			if got := s.Servers[0].Parsed.String(); got != "http://10.0.0.1:8080" {
				t.Errorf("servers[0].Parsed = %q", got)
			}
			if s.Servers[0].Weight != 1 || s.Servers[1].Weight != 3 {
				t.Errorf("weights = %d, %d", s.Servers[0].Weight, s.Servers[1].Weight)
			}
			if s.Failover != FailoverNone || s.Breaker.OpenFor.D() != 250*time.Millisecond || s.Breaker.MaxFails != 3 {
				t.Errorf("settings = %+v", *s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.toml)
			tt.want(t, &c.Shield)
		})
	}
}

func TestShieldValidation(t *testing.T) {
	tests := []errorCase{
		{name: "bad url", msg: "a path is not allowed", toml: `
[shield]
servers = [{ url = "http://10.0.0.1/x" }] # @shield.servers[0].url
` + minimal},
		{name: "duplicate server", msg: "already shield.servers[0]", toml: `
[shield]
servers = [
  { url = "http://10.0.0.1" },
  { url = "http://10.0.0.1/" }, # @shield.servers[1].url
]
` + minimal},
		{name: "negative weight", toml: `
[shield]
servers = [{ url = "http://10.0.0.1", weight = -1 }] # @shield.servers[0].weight
` + minimal},
		{name: "unknown failover", msg: `not "shield"`, toml: `
[shield]
failover = "shield" # @shield.failover
` + minimal},
		{name: "explicit zero timeout", msg: "default, 1s", toml: `
[shield]
connect_timeout = "0s" # @shield.connect_timeout
` + minimal},
		{name: "explicit zero breaker", toml: `
[shield.breaker]
max_fails = 0 # @shield.breaker.max_fails
` + minimal},
		{name: "negative breaker", toml: `
[shield.breaker]
max_fails = -2 # @shield.breaker.max_fails
` + minimal},
		{name: "health timeout above interval", toml: `
[shield.health]
path = "/healthz"
interval = "1s"
timeout = "2s" # @shield.health.timeout
` + minimal},
		{name: "unknown key", msg: "did you mean", toml: `
[shield]
failovr = "none" # @shield.failovr
` + minimal},
		{name: "demo shield not listed", msg: "not in shield.servers", toml: `
[demo]
enabled = true
shield_listen = "127.0.0.1:8082" # @demo.shield_listen
` + minimal},
		{name: "demo shield on the edge's port", msg: "already used by server.listen[0]", toml: `
[server]
listen = ["127.0.0.1:8082"]
[demo]
enabled = true
shield_listen = "127.0.0.1:8082" # @demo.shield_listen
[shield]
servers = [{ url = "http://127.0.0.1:8082" }]
` + minimal},
		{name: "demo shield on port 0", msg: "fixed port", toml: `
[demo]
enabled = true
shield_listen = "127.0.0.1:0" # @demo.shield_listen
[shield]
servers = [{ url = "http://127.0.0.1:0" }]
` + minimal},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestDemoShieldListed(t *testing.T) {
	c := mustParse(t, `
[demo]
enabled = true
shield_listen = "127.0.0.1:8082"
[shield]
servers = [{ url = "http://127.0.0.1:8082" }]
`+minimal)
	if c.Demo.ShieldListen != "127.0.0.1:8082" || !c.Shield.HasTier() {
		t.Errorf("demo = %+v, shield servers = %+v", c.Demo, c.Shield.Servers)
	}
	// Disabled demo: shield_listen is ignored, not checked.
	mustParse(t, "[demo]\nshield_listen = \"nonsense\"\n"+minimal)
}
