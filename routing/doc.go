// Package routing maps a request's host and path to a [Route] (its cache
// policy, compiled key recipe and origin [Pool]) and sends requests to the
// servers of that pool.
//
// # Match order
//
// [Table.Match] tries (host pattern, path pattern) pairs taken from every
// route and returns the route of the first pair that matches. The order is
// fixed when the [Table] is built:
//
//  1. Host specificity. An exact name ("www.example.com") comes first; then
//     wildcards, the longest suffix first ("*.b.example.com" before
//     "*.example.com"); then "*". A wildcard matches one or more labels in
//     front of its suffix, never the suffix alone: "*.example.com" matches
//     "a.example.com" and "a.b.example.com", not "example.com".
//  2. Path specificity, among the pairs of one host pattern: the longer
//     literal text before the first '*' comes first (a prefix pattern is all
//     literal); at equal length a prefix pattern comes before a glob.
//  3. Config order: the earlier route first and, within a route, its earlier
//     path first.
//
// When no path of the most specific host pattern matches, matching falls
// through to the next host pattern in that order, down to "*". When nothing
// matches, Match returns nil and the edge answers 404: a host no route names
// is never proxied anywhere.
//
// The request host is compared lower-cased, without its port, IPv6 brackets
// or trailing dot. Paths are compared byte for byte, case-sensitively. A
// prefix pattern is a plain string prefix: "/static" also matches
// "/staticfiles", so write "/static/" for a directory. A glob is anchored at
// both ends; '*' matches any run of bytes other than '/', and "**" any run
// of bytes at all: "/img/*.png" matches "/img/a.png" but not
// "/img/x/a.png"; "/img/**.png" matches both.
//
// # Pools
//
// A [Pool] is one configured origin: its servers, balance policy, health
// state and its own http.Transport. [Pool.RoundTrip] picks a server that is
// up (active checks) and not ejected (passive checks). When every server is
// down or ejected, it picks among all of them as if all were up, like nginx:
// failing closed would turn a broken health check into a full outage. A
// request whose connection could not be established is retried once on
// another server, whatever its method, since nothing was sent.
//
// Active health checks run in [Table.Run]; servers start up.
package routing
