package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiskRules(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []errorCase{
		{name: "cap too small", msg: "at least 16MiB", toml: `
[cache.disk]
path = "/tmp/x"
max_bytes = "1MiB" # @cache.disk.max_bytes
` + minimal},
		{name: "object larger than the cap", msg: "must not exceed cache.disk.max_bytes", toml: `
[cache.disk]
max_bytes = "64MiB"
max_object_bytes = "65MiB" # @cache.disk.max_object_bytes
` + minimal},
		{name: "explicit zero", msg: "must not be 0", toml: `
[cache.disk]
max_object_bytes = 0 # @cache.disk.max_object_bytes
` + minimal},
		{name: "chunk too small", msg: "from 16KiB to 16MiB", toml: `
[cache.disk]
chunk_bytes = "4KiB" # @cache.disk.chunk_bytes
` + minimal},
		{name: "chunk too large", toml: `
[cache.disk]
chunk_bytes = "32MiB" # @cache.disk.chunk_bytes
` + minimal},
		{name: "unknown placeholder", msg: "only placeholder", toml: `
[cache.disk]
path = "{data_dir}/popcache" # @cache.disk.path
` + minimal},
		{name: "path is a file", msg: "not a directory", toml: `
[cache.disk]
path = "` + file + `" # @cache.disk.path
` + minimal},
		{name: "unknown key", toml: `
[cache.disk]
max_size = "1GiB" # @cache.disk.max_size
` + minimal},
		{name: "negative interval", toml: `
[cache.disk]
expiry_interval = "-1s" # @cache.disk.expiry_interval
` + minimal},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

func TestDiskPath(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/var/cache/test")
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"off by default", "", ""},
		{"absolute", "/srv/popcache/", "/srv/popcache"},
		{"relative", "data/cache", "data/cache"},
		{"user cache dir", "{cache_dir}/popcache", filepath.Join(cacheDir, "popcache")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toml := minimal
			if tc.path != "" {
				toml = "[cache.disk]\npath = \"" + tc.path + "\"\n" + minimal
			}
			c, err := Parse("test.toml", []byte(toml))
			if err != nil {
				t.Fatal(err)
			}
			if c.Cache.Disk.Dir != tc.want {
				t.Errorf("Dir = %q, want %q", c.Cache.Disk.Dir, tc.want)
			}
			d := c.Cache.Disk
			if d.MaxBytes != 10*GiB || d.MaxObjectBytes != GiB || d.ChunkBytes != 256*KiB || d.ExpiryInterval.String() != "1m0s" {
				t.Errorf("defaults = %+v", d)
			}
		})
	}
}

func TestDefaultHasDisk(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Cache.Disk.Dir; d == "" || !strings.HasSuffix(d, string(filepath.Separator)+"popcache") {
		t.Errorf("default disk dir = %q, want .../popcache under the user cache dir", d)
	}
}
