// Package purge carries purges to every node of a fleet, edges and
// shields, over NATS JetStream, and serves the purge API on the admin
// listener.
//
// A purge (URLs, prefixes, hosts, tags or everything; hard or soft) is
// published to a stream and applied by every node through its own durable
// consumer, in stream order, idempotently. Applying one records lazy rules
// in the cache (see [cache.Store.Purge]): O(1) whatever the number of
// objects, judged when a lookup finds an object. A node journals what it
// applied, with the stream sequence, before acknowledging, so that a node
// that restarts, or was down or cut off, applies what it missed before it
// serves. See README.md for the design, the API and the deployment of a
// fleet (a NATS cluster with a leaf node per PoP).
package purge
