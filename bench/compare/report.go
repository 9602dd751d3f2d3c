package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// metric is one measured quantity of a scenario.
type metric struct {
	name         string // "req/s", "p99 ms", ...
	higherBetter bool
}

// rowKey names one table row group: a scenario and one of its metrics.
type rowKey struct {
	scenario string
	metric   metric
}

// results collects samples (one per round) per row and server, plus the
// reason a server has no sample for a row. The zero value is ready to use.
type results struct {
	rows    []rowKey                        // in first-seen order
	samples map[rowKey]map[string][]float64 // lazily initialized
	missing map[rowKey]map[string]string    // why a server has no samples; lazily initialized
	notes   []string                        // anomalies worth reading next to the table
}

func (r *results) addRow(k rowKey) {
	if !slices.Contains(r.rows, k) {
		r.rows = append(r.rows, k)
	}
}

// add records one sample.
func (r *results) add(k rowKey, server string, v float64) {
	r.addRow(k)
	if r.samples == nil {
		r.samples = map[rowKey]map[string][]float64{}
	}
	if r.samples[k] == nil {
		r.samples[k] = map[string][]float64{}
	}
	r.samples[k][server] = append(r.samples[k][server], v)
}

// skip records why server has no value in row k (the first reason wins).
func (r *results) skip(k rowKey, server, why string) {
	r.addRow(k)
	if r.missing == nil {
		r.missing = map[rowKey]map[string]string{}
	}
	if r.missing[k] == nil {
		r.missing[k] = map[string]string{}
	}
	if _, ok := r.missing[k][server]; !ok {
		r.missing[k][server] = why
	}
}

// note records an anomaly, once.
func (r *results) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(r.notes, n) {
		r.notes = append(r.notes, n)
	}
}

// median of vs (mean of the middle two for an even count); vs must be non-empty.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// format prints v compactly: thousands as "k" for rates, two decimals below
// 10 (sub-millisecond latencies), one decimal otherwise.
func format(v float64, m metric) string {
	switch {
	case m.name == "req/s" && v >= 1000:
		return fmt.Sprintf("%.1fk", v/1000)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// table renders one Markdown table: per scenario metric and server, the
// median over rounds, its min..max, and popcache's median divided by that
// server's. servers gives the column order; popcache must be among them.
func (r *results) table(servers []string) string {
	var b strings.Builder
	b.WriteString("| scenario | metric | server | median | min..max | popcache/server |\n")
	b.WriteString("|---|---|---|---:|---:|---:|\n")
	for _, k := range r.rows {
		better := "higher is better"
		if !k.metric.higherBetter {
			better = "lower is better"
		}
		pc, pcOK := r.samples[k][popcache]
		for i, s := range servers {
			scen, met := "", ""
			if i == 0 {
				scen, met = k.scenario, k.metric.name+" ("+better+")"
			}
			vs := r.samples[k][s]
			if len(vs) == 0 {
				why := r.missing[k][s]
				if why == "" {
					why = "not run"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | n/a | %s | n/a |\n", scen, met, s, why)
				continue
			}
			med := median(vs)
			ratio := "n/a"
			switch {
			case s == popcache:
				ratio = "-"
			case pcOK && len(pc) > 0 && med != 0:
				ratio = fmt.Sprintf("%.2f", median(pc)/med)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s..%s | %s |\n", scen, met, s,
				format(med, k.metric), format(slices.Min(vs), k.metric), format(slices.Max(vs), k.metric), ratio)
		}
	}
	return b.String()
}
