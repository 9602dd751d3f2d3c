package routing

import (
	"strings"
	"testing"
)

func TestPathPattern(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		// Prefixes are plain string prefixes.
		{"/", "/", true},
		{"/", "/anything/at/all", true},
		{"/static/", "/static/a.css", true},
		{"/static/", "/static", false},
		{"/static", "/staticfiles", true},
		{"/static/", "/Static/a.css", false},

		// '*' stays within one segment, and a glob is anchored at both ends.
		{"/img/*.png", "/img/a.png", true},
		{"/img/*.png", "/img/.png", true},
		{"/img/*.png", "/img/x/a.png", false},
		{"/img/*.png", "/img/a.png.bak", false},
		{"/img/*.png", "/img/a.jpg", false},
		{"/*/index.html", "/en/index.html", true},
		{"/*/index.html", "/index.html", false},
		{"/*/index.html", "/en/us/index.html", false},
		{"/a*b*c", "/aXbYc", true},
		{"/a*b*c", "/abbbc", true},
		{"/a*b*c", "/aXc", false},
		{"/a*b*c", "/aXb/c", false},

		// "**" crosses segments and may be empty.
		{"/img/**.png", "/img/a.png", true},
		{"/img/**.png", "/img/x/y/a.png", true},
		{"/img/**", "/img/", true},
		{"/img/**", "/img/x/y", true},
		{"/img/**", "/img", false},
		{"/a/**/z", "/a/b/c/z", true},
		{"/a/**/z", "/a/b/z/y", false},
		{"/**/*.png", "/x/y/a.png", true},
		{"/**/*.png", "/a.png", false}, // "/**/" needs two slashes
		{"/**", "/", true},

		// Mixed stars backtrack correctly.
		{"/*/**/x*", "/a/b/c/xyz", true},
		{"/*/**/x*", "/a/xyz", false},
		{"/*a*a*a*b", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"/**a**a**a**b", strings.Repeat("/a", 200), false},
		{"/**a**a**a**b", strings.Repeat("/a", 200) + "b", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.path, func(t *testing.T) {
			p, err := parsePathPattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.match(tt.path); got != tt.want {
				t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.path, got, tt.want)
			}
		})
	}
}

// TestLongGlob covers globs too long for the NFA's inline state sets.
func TestLongGlob(t *testing.T) {
	seg := strings.Repeat("x", 300)
	p, err := parsePathPattern("/*" + seg + "*")
	if err != nil {
		t.Fatal(err)
	}
	if !p.match("/ab" + seg + "cd") {
		t.Error("long glob does not match")
	}
	if p.match("/ab" + seg[1:] + "cd") {
		t.Error("long glob matches a path one x short")
	}
}

func TestHostPattern(t *testing.T) {
	tests := []struct {
		in       string
		wantKind hostKind
		wantKey  string
		wantErr  bool
	}{
		{"*", hostAny, "", false},
		{"", hostAny, "", false},
		{"Example.COM", hostExact, "example.com", false},
		{"example.com.", hostExact, "example.com", false},
		{"*.example.com", hostWildcard, "example.com", false},
		{"[::1]", hostExact, "::1", false},
		{"10.0.0.1", hostExact, "10.0.0.1", false},
		{"*.", 0, "", true},
		{"*.*.com", 0, "", true},
		{"a*.com", 0, "", true},
		{"example.com:80", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			kind, key, err := parseHostPattern(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (kind != tt.wantKind || key != tt.wantKey) {
				t.Errorf("= %v %q, want %v %q", kind, key, tt.wantKind, tt.wantKey)
			}
		})
	}
}

func TestAppendHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.com", "example.com"},
		{"EXAMPLE.com", "example.com"},
		{"example.com:8080", "example.com"},
		{"example.com.", "example.com"},
		{"example.com.:80", "example.com"},
		{"[::1]:80", "::1"},
		{"[::1]", "::1"},
		{"::1", "::1"}, // bare IPv6 (not a valid Host, but not a port either)
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := string(appendHost(nil, tt.in)); got != tt.want {
				t.Errorf("appendHost(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
