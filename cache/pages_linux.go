//go:build linux

package cache

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sealedFile returns a memory file holding body, sealed so that neither
// its bytes nor its size can ever change.
func sealedFile(body []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("popcache-body", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "popcache-body")
	for off := 0; off < len(body); {
		n, err := f.WriteAt(body[off:], int64(off))
		if err != nil {
			f.Close()
			return nil, err
		}
		off += n
	}
	_, err = unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL)
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// fileLimit is how many memory files a store keeps at most: a quarter of
// the process's descriptor limit (Go raises the soft limit to the hard
// one at start), leaving the rest to connections and the disk tier.
func fileLimit() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 0
	}
	return int64(min(rl.Cur, 1<<40) / 4)
}
