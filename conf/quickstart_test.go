package conf

import "testing"

func TestQuickStart(t *testing.T) {
	c, err := QuickStart([]string{":8080", "127.0.0.1:8443"}, "https://origin.example:8443", "127.0.0.1:9999")
	if err != nil {
		t.Fatalf("QuickStart: %v", err)
	}
	if c.Source != "<flags>" || len(c.Server.Listen) != 2 || c.Admin.Listen != "127.0.0.1:9999" {
		t.Errorf("config = %+v", c)
	}
	if len(c.Origins) != 1 || c.Origins[0].Name != "origin" || c.Origins[0].Servers[0].Parsed.Host != "origin.example:8443" {
		t.Errorf("origins = %+v", c.Origins)
	}
	if len(c.Routes) != 1 || c.Routes[0].Origin != "origin" || len(c.Routes[0].Hosts) != 0 || len(c.Routes[0].Paths) != 0 {
		t.Errorf("routes = %+v, want one catch-all route", c.Routes)
	}
	if !c.Routes[0].Effective.Enabled || c.Cache.MemoryMaxBytes != 512*MiB {
		t.Errorf("defaults not applied: %+v", c)
	}

	c, err = QuickStart(nil, "http://127.0.0.1:8000", "")
	if err != nil {
		t.Fatalf("QuickStart with defaults: %v", err)
	}
	if c.Server.Listen[0] != "127.0.0.1:8080" || c.Admin.Listen != "127.0.0.1:9090" {
		t.Errorf("listen %v admin %q, want the defaults", c.Server.Listen, c.Admin.Listen)
	}
}

func TestQuickStartErrors(t *testing.T) {
	tests := []struct {
		name   string
		listen []string
		origin string
		admin  string
		want   []string // keys; errors from flags have no line
		msg    string
	}{
		{name: "no origin", origin: "", want: []string{"--origin@0"}, msg: "is required"},
		{name: "origin with a path", origin: "http://a/api", want: []string{"--origin@0"}, msg: "a path is not allowed"},
		{name: "origin without scheme", origin: "127.0.0.1:8000", want: []string{"--origin@0"}},
		{name: "bad listen", listen: []string{"8080"}, origin: "http://a", want: []string{"--listen@0"}},
		{name: "bad admin", origin: "http://a", admin: "localhost", want: []string{"--admin@0"}},
		{name: "admin on the listener", listen: []string{":80"}, origin: "http://a", admin: ":80",
			want: []string{"--admin@0"}, msg: `":80" is already used by --listen`},
		{name: "everything wrong", listen: []string{"x"}, origin: "ftp://a", admin: "y",
			want: []string{"--admin@0", "--listen@0", "--origin@0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := QuickStart(tt.listen, tt.origin, tt.admin)
			if c != nil {
				t.Errorf("QuickStart returned a config along with an error")
			}
			checkErrors(t, err, "<flags>", tt.want, tt.msg)
		})
	}
}
