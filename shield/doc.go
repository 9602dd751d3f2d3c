// Package shield sends an edge's upstream requests to its shield tier: to
// the shield node that rendezvous hashing of the cache key makes the key's
// home, failing over in rendezvous order and then to the origin.
package shield
