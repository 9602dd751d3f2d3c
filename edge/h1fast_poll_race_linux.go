//go:build linux && race

package edge

import (
	"runtime"
	"unsafe"
)

// The race detector sees the buffers the loops' raw system calls read
// and write (h1fast_poll_raw_linux.go), as it sees those of unix.Read
// and unix.Write.

// raceRead tells the race detector that n bytes at addr are read.
func raceRead(addr unsafe.Pointer, n int) {
	if n > 0 {
		runtime.RaceReadRange(addr, n)
	}
}

// raceWrite tells the race detector that n bytes at addr are written.
func raceWrite(addr unsafe.Pointer, n int) {
	if n > 0 {
		runtime.RaceWriteRange(addr, n)
	}
}
