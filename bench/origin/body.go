package main

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// maxBodyBytes bounds /obj sizes so a typo cannot make the origin allocate gigabytes.
const maxBodyBytes = 64 << 20

// parseSize reads a body size written as plain bytes ("1500") or with a
// binary suffix ("1k" = 1024, "100k", "1m"). Sizes above maxBodyBytes are refused.
func parseSize(s string) (int, error) {
	mult := 1
	num := strings.ToLower(s)
	switch {
	case strings.HasSuffix(num, "k"):
		mult, num = 1<<10, strings.TrimSuffix(num, "k")
	case strings.HasSuffix(num, "m"):
		mult, num = 1<<20, strings.TrimSuffix(num, "m")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("origin: parse size %q: not a byte count", s)
	}
	if n > maxBodyBytes/mult {
		return 0, fmt.Errorf("origin: parse size %q: above %d bytes", s, maxBodyBytes)
	}
	return n * mult, nil
}

// seedOf hashes the name of an object; the body and ETag both derive from it,
// so the same path always yields the same bytes, across runs and processes.
func seedOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64() | 1 // xorshift must not start at zero
}

// body returns n pseudo-random (incompressible) bytes determined by seed.
func body(seed uint64, n int) []byte {
	b := make([]byte, n)
	x := seed
	for i := 0; i < n; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(x >> (8 * j))
		}
	}
	return b
}
