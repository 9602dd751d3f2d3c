//go:build !unix

package purge

import "os"

// lockFile opens path. Without flock, nothing keeps two nodes from
// sharing a purge directory on this platform.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
