// Package edge serves clients: listeners, the request pipeline (route, key,
// lookup, coalesced fill, revalidation, pass-through), hop-by-hop handling,
// response writing and the mapping of errors to statuses.
package edge
