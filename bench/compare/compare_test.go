package main

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

const wrkOut = `Running 2s test @ http://127.0.0.1:18083/obj/1k/1
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms    2.05ms  30.21ms   93.12%
    Req/Sec    41.99k     3.02k   49.76k    76.19%
  Latency Distribution
     50%  635.00us
     75%  812.00us
     90%    1.20ms
     99%    9.87ms
  175398 requests in 2.10s, 222.31MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  83501.54
Transfer/sec:    105.83MB
`

const h2loadOut = `starting benchmark...
TLS Protocol: TLSv1.3
finished in 3.00s, 33665.50 req/s, 33.82MB/s
requests: 101000 total, 101640 started, 101000 done, 100990 succeeded, 10 failed, 1 errored, 2 timeout
status codes: 100990 2xx, 0 3xx, 4 4xx, 6 5xx
`

func TestParse(t *testing.T) {
	tests := []struct {
		name       string
		parse      func(string) (loadResult, error)
		out        string
		wantRPS    float64
		wantErrors int64
		wantP99    float64 // 0: no p99 expected
		wantErr    bool
	}{
		{name: "wrk", parse: parseWrk, out: wrkOut, wantRPS: 83501.54, wantErrors: 12, wantP99: 9.87},
		{name: "wrk bad p99", parse: parseWrk, out: "     99%    1.2.3ms\nRequests/sec:  10.5\n", wantErr: true},
		{name: "wrk clean", parse: parseWrk, out: "Requests/sec:  10.5\n", wantRPS: 10.5},
		{name: "wrk garbage", parse: parseWrk, out: "unable to connect", wantErr: true},
		{name: "h2load", parse: parseH2load, out: h2loadOut, wantRPS: 33665.50, wantErrors: 23},
		{name: "h2load garbage", parse: parseH2load, out: "no protocol negotiated", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got.rps != tt.wantRPS || got.errors != tt.wantErrors || got.p99ms != tt.wantP99 || got.hasP99 != (tt.wantP99 != 0) {
				t.Fatalf("got %+v, want rps %v errors %d p99 %v", got, tt.wantRPS, tt.wantErrors, tt.wantP99)
			}
		})
	}
}

func TestParseWrkP99(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    float64
		wantOK  bool
		wantErr bool
	}{
		{name: "microseconds", out: "     99%  812.50us\n", want: 0.8125, wantOK: true},
		{name: "milliseconds", out: "     99%    9.87ms\n", want: 9.87, wantOK: true},
		{name: "seconds", out: "     99%    1.50s \n", want: 1500, wantOK: true},
		{name: "minutes", out: "     99%    2.00m\n", want: 120_000, wantOK: true},
		{name: "picks 99 not 90", out: wrkOut, want: 9.87, wantOK: true},
		{name: "no distribution", out: "Requests/sec:  10.5\n"},
		{name: "99 of something else", out: "    Latency     1.10ms    2.05ms  30.21ms   99%\n"},
		{name: "unknown unit", out: "     99%    3.00ns\n"},
		{name: "malformed number", out: "     99%    1.2.3ms\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseWrkP99(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if ok != tt.wantOK || math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("got %v ok %v, want %v ok %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{name: "one", in: []float64{4}, want: 4},
		{name: "odd unsorted", in: []float64{9, 1, 5}, want: 5},
		{name: "even", in: []float64{1, 2, 3, 10}, want: 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := median(in); got != tt.want {
				t.Fatalf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Fatalf("median reordered its input")
			}
		})
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	tests := []struct {
		by   int
		want []string
	}{
		{0, []string{"a", "b", "c"}},
		{1, []string{"b", "c", "a"}},
		{5, []string{"c", "a", "b"}},
	}
	for _, tt := range tests {
		if got := rotate(xs, tt.by); !slices.Equal(got, tt.want) {
			t.Errorf("rotate(%v, %d) = %v, want %v", xs, tt.by, got, tt.want)
		}
	}
}

func TestTable(t *testing.T) {
	var r results
	rps := rowKey{"h1 1k hot c64", metric{name: "req/s", higherBetter: true}}
	for _, v := range []float64{50000, 40000, 60000} {
		r.add(rps, popcache, v)
	}
	for _, v := range []float64{100000, 90000, 110000} {
		r.add(rps, nginxCache, v)
	}
	r.skip(rps, varnish, "failed to start")
	p99 := rowKey{"h1 1k hot c64", metric{name: "p99 ms"}}
	r.add(p99, popcache, 0.84)
	r.add(p99, nginxCache, 1.68)
	r.add(p99, varnish, 12.5)
	got := r.table([]string{popcache, nginxCache, varnish})
	for _, want := range []string{
		"| h1 1k hot c64 | req/s (higher is better) | popcache | 50.0k | 40.0k..60.0k | - |",
		"|  |  | nginx | 100.0k | 90.0k..110.0k | 0.50 |",
		"|  |  | varnish | n/a | failed to start | n/a |",
		"| h1 1k hot c64 | p99 ms (lower is better) | popcache | 0.84 | 0.84..0.84 | - |",
		"|  |  | nginx | 1.68 | 1.68..1.68 | 0.50 |",
		"|  |  | varnish | 12.5 | 12.5..12.5 | 0.07 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q; got:\n%s", want, got)
		}
	}
}

func TestScenarios(t *testing.T) {
	full, quick := scenarios(false), scenarios(true)
	if len(full) != 16 {
		t.Fatalf("%d full scenarios, want 8 h1 + 2 paced h1 + range + conn-per-request + h2c + tls h2 + tls h1 + burst = 16", len(full))
	}
	if len(quick) >= len(full) || len(quick) == 0 {
		t.Fatalf("quick has %d scenarios, full %d", len(quick), len(full))
	}
	names := map[string]bool{}
	for _, sc := range full {
		if names[sc.name] {
			t.Errorf("duplicate scenario name %q", sc.name)
		}
		names[sc.name] = true
	}
	// quick warms only the 1 KiB working set: 10,000 objects plus two hot keys.
	if got := len(warmPaths(quick)); got != 10002 {
		t.Errorf("quick warms %d objects, want 10002", got)
	}
	// full: both working sets, the 1 KiB and 100 KiB hot keys, and the 1 MiB one ranges read.
	if got := len(warmPaths(full)); got != 20003 {
		t.Errorf("full warms %d objects, want 20003", got)
	}
}

func TestArgs(t *testing.T) {
	hot := scenario{name: "x", proto: h1, size: "1k", keys: 1, conns: 64}
	keys := scenario{name: "y", proto: h1, size: "100k", keys: 10000, conns: 256}
	tl := scenario{name: "z", proto: tls, size: "1k", keys: 1, conns: 64}
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"wrk hot", wrkArgs(hot, 80, 10*time.Second, "cfg"), "wrk -t2 -c64 -d10s --timeout 5s --latency http://127.0.0.1:80/obj/1k/hot"},
		{"wrk keys", wrkArgs(keys, 80, 3*time.Second, "cfg"), "wrk -t2 -c256 -d3s --timeout 5s --latency -s cfg/wrk-keys.lua http://127.0.0.1:80/ -- 100k 10000"},
		{"wrk paced hot", wrkArgs(scenario{size: "1k", keys: 1, conns: 64, paced: true}, 80, 10*time.Second, "cfg"),
			"wrk -t2 -c64 -d10s --timeout 5s --latency -s cfg/wrk-paced.lua http://127.0.0.1:80/ -- /obj/1k/hot"},
		{"wrk paced keys", wrkArgs(scenario{size: "1k", keys: 10000, conns: 64, paced: true}, 80, 10*time.Second, "cfg"),
			"wrk -t2 -c64 -d10s --timeout 5s --latency -s cfg/wrk-paced.lua http://127.0.0.1:80/ -- 1k 10000"},
		{"wrk range", wrkArgs(scenario{size: "1m", keys: 1, conns: 64, rng: "bytes=1000-2999"}, 80, 10*time.Second, "cfg"),
			"wrk -t2 -c64 -d10s --timeout 5s --latency -H Range: bytes=1000-2999 http://127.0.0.1:80/obj/1m/hot"},
		{"wrk conn-per-request", wrkArgs(scenario{size: "1k", keys: 1, conns: 64, close: true}, 80, 10*time.Second, "cfg"),
			"wrk -t2 -c64 -d10s --timeout 5s --latency -H Connection: close http://127.0.0.1:80/obj/1k/hot"},
		{"wrk tls", wrkArgs(scenario{proto: tlsH1, size: "1k", keys: 1, conns: 64}, 443, 10*time.Second, "cfg"), "wrk -t2 -c64 -d10s --timeout 5s --latency https://127.0.0.1:443/obj/1k/hot"},
		{"h2load tls", h2loadArgs(tl, 443, 10*time.Second), "h2load -t2 -c64 -m10 -D10 --warm-up-time=1 https://127.0.0.1:443/obj/1k/hot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.got, " "); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
