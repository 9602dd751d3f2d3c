package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Disk configures the disk tier: a Pebble store behind the memory tier
// that keeps responses across restarts and holds bodies too large for
// memory. It is off unless Path is set.
type Disk struct {
	// Path is the tier's directory, created at start if missing. "" (the
	// default) turns the disk tier off. A leading "{cache_dir}" stands for
	// the user's cache directory (os.UserCacheDir: $XDG_CACHE_HOME, else
	// ~/.cache on Linux), or the temp directory when there is none; a
	// relative path is relative to the working directory. Only one node
	// may use a directory at a time: a second one fails to start.
	Path string `toml:"path"`
	// MaxBytes is the hard cap of the tier: the bytes of the stored
	// bodies, metadata and keys. Pebble's own overhead (its write-ahead
	// log and tables being compacted, typically tens of MiB) comes on
	// top. Default 10GiB; at least 16MiB.
	MaxBytes Size `toml:"max_bytes"`
	// MaxObjectBytes is the largest body the tier stores (its admission
	// rule); larger responses are streamed through uncached unless the
	// memory tier takes them. Default 1GiB; at most MaxBytes.
	MaxObjectBytes Size `toml:"max_object_bytes"`
	// ChunkBytes is the size of the chunks bodies are stored in: a reader
	// of a body that is still arriving, or that is larger than the memory
	// tier takes, holds about one chunk in memory. Default 256KiB; from
	// 16KiB to 16MiB.
	ChunkBytes Size `toml:"chunk_bytes"`
	// ExpiryInterval is how often expired objects are deleted in the
	// background (a lookup never serves one, deleted or not). Default 1m.
	ExpiryInterval Duration `toml:"expiry_interval"`

	// Dir is Path with "{cache_dir}" expanded; "" when the tier is off.
	// Set by Validate.
	Dir string `toml:"-"`
}

// Disk tier defaults and limits. NB: when changing one, change the doc
// comment above and default.toml too.
const (
	defaultDiskMaxBytes       = 10 * GiB
	defaultDiskMaxObjectBytes = 1 * GiB
	defaultDiskChunkBytes     = 256 * KiB
	defaultDiskExpiryInterval = Duration(time.Minute)

	minDiskMaxBytes   Size = 16 * MiB
	minDiskChunkBytes Size = 16 * KiB
	maxDiskChunkBytes Size = 16 * MiB

	// cacheDirPlaceholder, leading a Disk.Path, stands for the user's cache
	// directory.
	cacheDirPlaceholder = "{cache_dir}"
)

// ensureDefaults fills the unset fields, whether or not the tier is on,
// so that an explicit 0 is refused either way.
func (d *Disk) ensureDefaults() {
	setDefault(&d.MaxBytes, defaultDiskMaxBytes)
	setDefault(&d.MaxObjectBytes, defaultDiskMaxObjectBytes)
	setDefault(&d.ChunkBytes, defaultDiskChunkBytes)
	setDefault(&d.ExpiryInterval, defaultDiskExpiryInterval)
}

// disk validates the [cache.disk] section and sets d.Dir.
func (v *validator) disk(d *Disk) {
	d.Dir = ""
	if d.MaxBytes < minDiskMaxBytes {
		v.fail("cache.disk.max_bytes", "must be at least %v, not %v", minDiskMaxBytes, d.MaxBytes)
	}
	switch {
	case d.MaxObjectBytes <= 0:
		v.fail("cache.disk.max_object_bytes", "must be greater than 0, not %d", int64(d.MaxObjectBytes))
	case d.MaxObjectBytes > d.MaxBytes && d.MaxBytes >= minDiskMaxBytes:
		v.fail("cache.disk.max_object_bytes", "%v must not exceed cache.disk.max_bytes (%v)", d.MaxObjectBytes, d.MaxBytes)
	}
	if d.ChunkBytes < minDiskChunkBytes || d.ChunkBytes > maxDiskChunkBytes {
		v.fail("cache.disk.chunk_bytes", "must be from %v to %v, not %v", minDiskChunkBytes, maxDiskChunkBytes, d.ChunkBytes)
	}
	v.positive("cache.disk.expiry_interval", d.ExpiryInterval)
	if d.Path == "" {
		return
	}
	dir, err := expandDiskPath(d.Path)
	if err != nil {
		v.fail("cache.disk.path", "%v", err)
		return
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		v.fail("cache.disk.path", "%q exists and is not a directory", dir)
		return
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		v.fail("cache.disk.path", "%v", err)
		return
	}
	d.Dir = dir
}

// expandDiskPath expands a leading "{cache_dir}" and cleans the path.
func expandDiskPath(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%q contains a NUL byte", p)
	}
	if rest, ok := strings.CutPrefix(p, cacheDirPlaceholder); ok {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		p = base + rest
	}
	if strings.Contains(p, "{") {
		return "", fmt.Errorf("%q: the only placeholder is a leading %s", p, cacheDirPlaceholder)
	}
	return filepath.Clean(p), nil
}
