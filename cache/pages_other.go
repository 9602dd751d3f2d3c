//go:build !linux

package cache

import (
	"errors"
	"os"
)

// sealedFile has no memory files to offer here: bodies stay in the heap.
func sealedFile([]byte) (*os.File, []byte, error) {
	return nil, nil, errors.New("cache: memory files need Linux")
}

// unmap has nothing to remove here.
func unmap([]byte) {}

// fileLimit is 0: no memory files.
func fileLimit() int64 { return 0 }
