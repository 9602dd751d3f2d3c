//go:build race

package edge

// raceBuild is true under the race detector, where Pebble allocates its
// memtables and block cache in the Go heap (half the time) so that the
// detector sees them.
const raceBuild = true
