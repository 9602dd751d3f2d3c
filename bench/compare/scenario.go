package main

import "fmt"

// scenario is one identical load applied to every server.
type scenario struct {
	name  string
	proto protocol
	burst bool   // cold-key stampede instead of steady hits
	size  string // body size in /obj/<size>/...
	keys  int    // 1: one hot key; else ids 1..keys picked at random
	conns int
	paced bool   // each connection waits 1 ms between requests (configs/wrk-paced.lua)
	rng   string // a Range field every request sends ("bytes=..."), when not ""
	close bool   // every request asks to close: one connection per request
	quick bool   // part of --quick
}

// path is the URL path of the single object of a hot-key scenario.
func (sc scenario) path() string { return "/obj/" + sc.size + "/hot" }

// scenarios lists every scenario in table order; quick keeps only those
// marked quick.
func scenarios(quick bool) []scenario {
	var all []scenario
	for _, size := range []string{"1k", "100k"} {
		for _, keys := range []int{1, 10000} {
			for _, conns := range []int{64, 256} {
				set := "hot"
				if keys > 1 {
					set = fmt.Sprintf("%dk-keys", keys/1000)
				}
				all = append(all, scenario{
					name:  fmt.Sprintf("h1 %s %s c%d", size, set, conns),
					proto: h1, size: size, keys: keys, conns: conns,
					quick: (size == "1k" && keys == 1 && conns == 64) ||
						(size == "1k" && keys > 1 && conns == 256) ||
						(size == "100k" && keys == 1 && conns == 64),
				})
			}
		}
	}
	// Saturated runs measure latency with wrk starved of CPU by the faster
	// servers; paced runs offer every server the same moderate load.
	all = append(all,
		scenario{name: "h1 1k hot c64 paced 1ms", proto: h1, size: "1k", keys: 1, conns: 64, paced: true, quick: true},
		scenario{name: "h1 1k 10k-keys c64 paced 1ms", proto: h1, size: "1k", keys: 10000, conns: 64, paced: true},
		// Ranges of a large object, as video players and download
		// managers ask: each server answers 206 from its stored copy.
		scenario{name: "h1 range 2k of 1m hot c64", proto: h1, size: "1m", keys: 1, conns: 64, rng: "bytes=1000-2999"},
		// Clients that open a connection per request (Connection: close):
		// accept, one answer and the close, with no keep-alive to spread
		// them over.
		scenario{name: "h1 1k hot c64 conn-per-request", proto: h1, size: "1k", keys: 1, conns: 64, close: true},
		scenario{name: "h2c 1k hot c64 m10", proto: h2c, size: "1k", keys: 1, conns: 64, quick: true},
		scenario{name: "tls-h2 1k hot c64 m10", proto: tls, size: "1k", keys: 1, conns: 64, quick: true},
		scenario{name: "tls-h1 1k hot c64", proto: tlsH1, size: "1k", keys: 1, conns: 64, quick: true},
		scenario{name: "cold burst 500 /slow/200", proto: h1, burst: true, conns: 500, quick: true},
	)
	if !quick {
		return all
	}
	var q []scenario
	for _, sc := range all {
		if sc.quick {
			q = append(q, sc)
		}
	}
	return q
}

// tlsPaths lists the objects the TLS scenarios read.
func tlsPaths(scs []scenario) []string {
	var t []scenario
	for _, sc := range scs {
		if sc.proto == tls || sc.proto == tlsH1 {
			t = append(t, sc)
		}
	}
	return warmPaths(t)
}

// warmPaths lists every object the scenarios read, for warming the caches
// and for generating the static ceiling's files.
func warmPaths(scs []scenario) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, sc := range scs {
		if sc.burst {
			continue
		}
		if sc.keys == 1 {
			add(sc.path())
			continue
		}
		for id := 1; id <= sc.keys; id++ {
			add(fmt.Sprintf("/obj/%s/%d", sc.size, id))
		}
	}
	return out
}
