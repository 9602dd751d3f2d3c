//go:build linux

package cache

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sealedFile returns a memory file holding body, sealed so that neither
// its bytes nor its size can ever change, and mapped read-only.
func sealedFile(body []byte) (*os.File, []byte, error) {
	fd, err := unix.MemfdCreate("popcache-body", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), "popcache-body")
	for off := 0; off < len(body); {
		n, err := f.WriteAt(body[off:], int64(off))
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		off += n
	}
	_, err = unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	data, err := unix.Mmap(int(f.Fd()), 0, len(body), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, data, nil
}

// unmap removes a mapping sealedFile made.
func unmap(data []byte) { _ = unix.Munmap(data) }

// fileLimit is how many memory files a store keeps at most: a quarter of
// the process's descriptor limit (Go raises the soft limit to the hard
// one at start), leaving the rest to connections and the disk tier, and
// a quarter of the mappings the kernel allows a process
// (vm.max_map_count): a demo process has two stores, and the runtime
// needs mappings of its own.
func fileLimit() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 0
	}
	limit := int64(min(rl.Cur, 1<<40) / 4)
	if b, err := os.ReadFile("/proc/sys/vm/max_map_count"); err == nil {
		if maps, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			limit = min(limit, maps/4)
		}
	}
	return limit
}
