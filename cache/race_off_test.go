//go:build !race

package cache

// raceBuild: the race detector is off.
const raceBuild = false
