//go:build linux && !race

package edge

import "unsafe"

// raceRead is a no-op without the race detector (h1fast_poll_race_linux.go).
func raceRead(unsafe.Pointer, int) {}

// raceWrite is a no-op without the race detector (h1fast_poll_race_linux.go).
func raceWrite(unsafe.Pointer, int) {}
