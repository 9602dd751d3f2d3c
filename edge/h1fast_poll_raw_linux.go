//go:build linux

package edge

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loops' reads and writes on their non-blocking sockets are raw
// system calls: they never block, so the runtime need not know about
// them. Through syscall.Syscall each one is an entersyscall and an
// exitsyscall, and a write that wakes the client on this core often has
// the thread preempted inside the call: the P then sits in a system call,
// sysmon hands it to another thread, and the loop comes back to find its
// P gone, parks, and is resumed later on yet another thread
// (bench/PROFILE.md, "The loops' threads"). A raw call keeps
// the P with its thread, as a CPU-bound goroutine keeps it.

// rawRead is read(2) without the runtime's system-call bookkeeping; fd
// must be non-blocking.
func rawRead(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if errno != 0 {
		return -1, errno
	}
	raceWrite(ptr, int(n))
	return int(n), nil
}

// rawWrite is write(2) without the runtime's system-call bookkeeping; fd
// must be non-blocking.
func rawWrite(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	raceRead(ptr, len(p))
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// pollReady is a non-blocking epoll_wait: the events ready now, if any,
// without giving up the P. An interrupted call is an empty one.
func pollReady(ep int, evs []unix.EpollEvent) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	switch errno {
	case 0:
		return int(n), nil
	case unix.EINTR:
		return 0, nil
	}
	return 0, errno
}

// yieldCPU offers the thread's CPU to any other thread waiting for it
// (sched_yield(2)); it returns at once when none is. The P stays with
// the thread: its goroutine carries on right after.
func yieldCPU() {
	unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
}

// readNow reads what c's socket holds already into rbuf[w:], without
// waiting and without the runtime's poller, and reports whether it got
// any bytes; false (nothing yet, EOF, an error, or no descriptor) leaves
// the answer to the blocking read that follows.
func (c *fastConn) readNow() bool {
	if c.fd < 0 {
		return false
	}
	n, err := rawRead(c.fd, c.rbuf[c.w:])
	if err != nil || n <= 0 {
		return false
	}
	c.w += n
	return true
}
