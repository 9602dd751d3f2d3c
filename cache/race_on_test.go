//go:build race

package cache

// raceBuild: the race detector is on. Under it sync.Pool drops a
// quarter of what it is given, and with it ristretto's read buffers.
const raceBuild = true
