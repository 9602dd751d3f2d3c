// Package cache holds popcache's cache: keys, RFC 9111 semantics, the stored
// object format, the memory and disk tiers, and miss coalescing. It knows
// nothing of routes or listeners.
package cache
