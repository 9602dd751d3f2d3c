package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// lastModified is the fixed Last-Modified of every object, so that
// revalidations by the caches under test always see an unchanged object.
var lastModified = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// maxSlow bounds /slow/<ms> so that no request can hold a connection for long.
const maxSlow = 10 * time.Second

// slowBodyBytes is the size of a /slow answer.
const slowBodyBytes = 1024

// Origin is the deterministic origin server the benchmark caches sit in front of.
//
//	/obj/<size>/<id>   <size> bytes derived from the path; cacheable for an hour
//	/slow/<ms>/<id>    sleeps <ms> milliseconds, then answers like /obj/1k/<id>
//	/stats             fetch counts as JSON: {"total": N, "paths": {path: N}};
//	                   ?prefix=/slow/ keeps only paths with that prefix
//	/reset             clears the counts
//
// Every /obj and /slow request is counted, conditional ones included. The zero
// value is ready to use.
type Origin struct {
	mu     sync.Mutex       // protects total and counts
	total  int64            // requests to /obj and /slow
	counts map[string]int64 // per path; lazily initialized
}

// Stats is the JSON document served at /stats.
type Stats struct {
	Total int64            `json:"total"`
	Paths map[string]int64 `json:"paths"`
}

// ServeHTTP routes a request to one of the endpoints listed on Origin.
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/obj/"):
		o.count(r.URL.Path)
		o.serveObj(w, r)
	case strings.HasPrefix(r.URL.Path, "/slow/"):
		o.count(r.URL.Path)
		o.serveSlow(w, r)
	case r.URL.Path == "/stats":
		o.serveStats(w, r)
	case r.URL.Path == "/reset":
		o.mu.Lock()
		o.total, o.counts = 0, nil
		o.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func (o *Origin) count(path string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil {
		o.counts = make(map[string]int64)
	}
	o.total++
	o.counts[path]++
}

// serveObj answers /obj/<size>/<id>.
func (o *Origin) serveObj(w http.ResponseWriter, r *http.Request) {
	size, id, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/obj/"), "/")
	if !ok || id == "" {
		http.Error(w, "want /obj/<size>/<id>", http.StatusNotFound)
		return
	}
	n, err := parseSize(size)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	serveBody(w, r, r.URL.Path, n)
}

// serveSlow answers /slow/<ms>/<id> after sleeping, unless the client leaves first.
func (o *Origin) serveSlow(w http.ResponseWriter, r *http.Request) {
	ms, id, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/slow/"), "/")
	if !ok || id == "" {
		http.Error(w, "want /slow/<ms>/<id>", http.StatusNotFound)
		return
	}
	n, err := strconv.Atoi(ms)
	if err != nil || n < 0 || time.Duration(n)*time.Millisecond > maxSlow {
		http.Error(w, fmt.Sprintf("origin: bad delay %q (0..%v)", ms, maxSlow), http.StatusBadRequest)
		return
	}
	t := time.NewTimer(time.Duration(n) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	serveBody(w, r, r.URL.Path, slowBodyBytes)
}

// serveBody writes the deterministic body of name with caching validators;
// http.ServeContent handles HEAD, Range and If-None-Match / If-Modified-Since.
func serveBody(w http.ResponseWriter, r *http.Request, name string, n int) {
	seed := seedOf(name)
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", fmt.Sprintf(`"%016x-%d"`, seed, n))
	http.ServeContent(w, r, "", lastModified, bytes.NewReader(body(seed, n)))
}

func (o *Origin) serveStats(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	o.mu.Lock()
	s := Stats{Total: o.total, Paths: make(map[string]int64)}
	for p, c := range o.counts {
		if strings.HasPrefix(p, prefix) {
			s.Paths[p] = c
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(s); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
