//go:build !linux

package cache

import (
	"errors"
	"os"
)

// sealedFile has no memory files to offer here: bodies stay in the heap.
func sealedFile([]byte) (*os.File, error) {
	return nil, errors.New("cache: memory files need Linux")
}

// fileLimit is 0: no memory files.
func fileLimit() int64 { return 0 }
