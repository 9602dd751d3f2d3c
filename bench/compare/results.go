package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// writeResults writes the table and how it was made to opts.out.
func (r *runner) writeResults(servers []string, table string, took time.Duration) error {
	var b strings.Builder
	b.WriteString("# popcache comparison benchmark: latest results\n\n")
	b.WriteString("Written by `bench/run`; see bench/README.md for what each row means.\n\n")
	fmt.Fprintf(&b, "- command: `%s`\n", r.opts.command)
	fmt.Fprintf(&b, "- date: %s (measuring took %v; installs and builds not counted)\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	fmt.Fprintf(&b, "- machine: %d CPUs (nproc), %s, %s RAM, %s/%s\n", runtime.NumCPU(), cpuModel(), memTotal(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- rounds: %d, %v per steady-load run; load generators share the same cores as the servers\n", r.opts.rounds, r.opts.duration)
	fmt.Fprintf(&b, "- load average when the run started: %s (anything else busy on the machine shows up as wide min..max)\n", r.loadAvg)
	fmt.Fprintf(&b, "- versions: %s\n\n", strings.Join(versions(r.opts.popcacheBin), "; "))
	b.WriteString(table)
	if len(r.res.notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range r.res.notes {
			b.WriteString("- " + n + "\n")
		}
	}
	if err := os.WriteFile(r.opts.out, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("compare: write results: %w", err)
	}
	r.log.Printf("wrote %s", r.opts.out)
	return nil
}

// loadAvg is the 1, 5 and 15 minute load averages from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel is the first "model name" in /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// memTotal is MemTotal from /proc/meminfo in GiB.
func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	var kb int64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			fmt.Sscan(strings.TrimSpace(v), &kb)
		}
	}
	return fmt.Sprintf("%d GiB", (kb+(1<<19))>>20)
}

// versions asks each tool for its version, first line only.
func versions(popcacheBin string) []string {
	cmds := [][]string{
		{"nginx", "-v"}, {"varnishd", "-V"}, {"traffic_server", "-V"}, {"wrk", "-v"}, {"h2load", "--version"}, {"go", "version"},
	}
	var out []string
	for _, c := range cmds {
		b, _ := exec.Command(c[0], c[1:]...).CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if line != "" {
			out = append(out, line)
		}
	}
	if popcacheBin != "" { // the binary measured says what it was built from
		if b, err := exec.Command(popcacheBin, "version").Output(); err == nil {
			out = append(out, strings.TrimSpace(string(b)))
		}
	}
	return out
}
