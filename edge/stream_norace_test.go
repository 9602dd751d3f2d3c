//go:build !race

package edge

// raceBuild is true under the race detector.
const raceBuild = false
