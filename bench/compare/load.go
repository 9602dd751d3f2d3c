package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// loadResult is what one steady-load run measured.
type loadResult struct {
	rps    float64 // completed requests per second
	errors int64   // socket errors, timeouts and non-2xx answers
	p99ms  float64 // 99th percentile latency in milliseconds, if hasP99
	hasP99 bool    // wrk printed a 99% line (h2load never does)
}

// burstResult mirrors the JSON printed by bench/burst.
type burstResult struct {
	Clients       int     `json:"clients"`
	OK            int     `json:"ok"`
	Errors        int     `json:"errors"`
	FirstError    string  `json:"first_error"`
	P50Millis     float64 `json:"p50_ms"`
	P99Millis     float64 `json:"p99_ms"`
	MaxMillis     float64 `json:"max_ms"`
	OriginFetches int64   `json:"origin_fetches"`
}

// runTool runs a load tool under a deadline and returns its stdout.
func runTool(ctx context.Context, limit time.Duration, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("compare: %s: %w: %s", argv[0], err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// wrkArgs builds the wrk command line for an HTTP/1.1 scenario.
func wrkArgs(sc scenario, port int, d time.Duration, configs string) []string {
	scheme := "http"
	if sc.proto == tlsH1 {
		scheme = "https"
	}
	base := fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
	args := []string{"wrk", "-t2", fmt.Sprintf("-c%d", sc.conns), fmt.Sprintf("-d%ds", int(d.Seconds())), "--timeout", "5s", "--latency"}
	if sc.rng != "" {
		args = append(args, "-H", "Range: "+sc.rng)
	}
	if sc.close {
		args = append(args, "-H", "Connection: close")
	}
	if sc.paced {
		args = append(args, "-s", filepath.Join(configs, "wrk-paced.lua"), base+"/", "--")
		if sc.keys == 1 {
			return append(args, sc.path())
		}
		return append(args, sc.size, strconv.Itoa(sc.keys))
	}
	if sc.keys == 1 {
		return append(args, base+sc.path())
	}
	return append(args, "-s", filepath.Join(configs, "wrk-keys.lua"), base+"/", "--", sc.size, strconv.Itoa(sc.keys))
}

// h2loadArgs builds the h2load command line for an h2c or TLS h2 scenario.
func h2loadArgs(sc scenario, port int, d time.Duration) []string {
	scheme := "http"
	if sc.proto == tls {
		scheme = "https"
	}
	return []string{"h2load", "-t2", fmt.Sprintf("-c%d", sc.conns), "-m10",
		fmt.Sprintf("-D%d", int(d.Seconds())), "--warm-up-time=1",
		fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, port, sc.path())}
}

var (
	wrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkSocket  = regexp.MustCompile(`(?m)Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx  = regexp.MustCompile(`(?m)Non-2xx or 3xx responses: (\d+)`)
	wrkP99     = regexp.MustCompile(`(?m)^\s*99%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	h2Finished = regexp.MustCompile(`(?m)^finished in [^,]+, ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`(?m)^requests: .* (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2Status   = regexp.MustCompile(`(?m)^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
)

// parseWrk reads wrk's report.
func parseWrk(out string) (loadResult, error) {
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return loadResult{}, fmt.Errorf("compare: wrk output has no Requests/sec line")
	}
	var res loadResult
	res.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		res.errors += sumInts(m[1:])
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		res.errors += sumInts(m[1:])
	}
	p99, ok, err := parseWrkP99(out)
	if err != nil {
		return loadResult{}, err
	}
	res.p99ms, res.hasP99 = p99, ok
	return res, nil
}

// wrkTimeUnits converts the units wrk prints latencies in to milliseconds.
var wrkTimeUnits = map[string]float64{"us": 0.001, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}

// parseWrkP99 reads the 99% line of the latency distribution wrk prints
// with --latency, in milliseconds. ok is false when there is no such line.
func parseWrkP99(out string) (ms float64, ok bool, err error) {
	m := wrkP99.FindStringSubmatch(out)
	if m == nil {
		return 0, false, nil
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false, fmt.Errorf("compare: wrk 99%% latency %q: %w", m[1]+m[2], err)
	}
	return v * wrkTimeUnits[m[2]], true, nil
}

// parseH2load reads h2load's report.
func parseH2load(out string) (loadResult, error) {
	m := h2Finished.FindStringSubmatch(out)
	if m == nil {
		return loadResult{}, fmt.Errorf("compare: h2load output has no 'finished in' line")
	}
	var res loadResult
	res.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := h2Requests.FindStringSubmatch(out); m != nil {
		res.errors += sumInts(m[1:])
	}
	if m := h2Status.FindStringSubmatch(out); m != nil {
		res.errors += sumInts(m[3:]) // 4xx and 5xx
	}
	return res, nil
}

func sumInts(ss []string) int64 {
	var n int64
	for _, s := range ss {
		v, _ := strconv.ParseInt(s, 10, 64)
		n += v
	}
	return n
}

// runLoad applies one steady-load scenario to the server on port.
func (r *runner) runLoad(ctx context.Context, sc scenario, port int) (loadResult, error) {
	limit := r.opts.duration + 30*time.Second
	if sc.proto.wrk() {
		out, err := runTool(ctx, limit, wrkArgs(sc, port, r.opts.duration, r.opts.configs)...)
		if err != nil {
			return loadResult{}, err
		}
		return parseWrk(out)
	}
	out, err := runTool(ctx, limit, h2loadArgs(sc, port, r.opts.duration)...)
	if err != nil {
		return loadResult{}, err
	}
	return parseH2load(out)
}

// runBurst runs bench/burst once against port with a path never asked before.
func (r *runner) runBurst(ctx context.Context, sc scenario, port int, id string) (burstResult, error) {
	out, err := runTool(ctx, 60*time.Second, r.opts.burstBin,
		"-target", fmt.Sprintf("127.0.0.1:%d", port),
		"-path", "/slow/200/"+id,
		"-clients", strconv.Itoa(sc.conns),
		"-timeout", "30s",
		"-stats", r.originURL+"/stats")
	if err != nil {
		return burstResult{}, err
	}
	var res burstResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return res, fmt.Errorf("compare: burst output: %w", err)
	}
	return res, nil
}
