package purge

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkPublishToApplied4 publishes purges at one of four nodes on
// loopback (one embedding the NATS server, three joining it over TCP)
// and waits until all four have applied each: journaled (with a purge
// directory: fsynced) and acknowledged. It reports the latency from the
// publish call to the last node's application, p50 and p99, and the same
// for a single node. One purge at a time: this is latency, not
// throughput.
func BenchmarkPublishToApplied4(b *testing.B) {
	for _, journal := range []bool{false, true} {
		name := "memory"
		if journal {
			name = "journal"
		}
		b.Run(name, func(b *testing.B) {
			var nodes []*testNode
			for i := range 4 {
				bus, dir := "", ""
				if i > 0 {
					bus = nodes[0].svc.BusURL()
				}
				if journal {
					dir = b.TempDir()
				}
				nodes = append(nodes, startNode(b, nodeConfig(b, fmt.Sprintf("bench-%d", i), "edge", dir, bus, "")))
			}
			ctx := context.Background()
			var all, one []time.Duration
			q := &Request{Tags: []string{"bench"}}
			for b.Loop() {
				start := time.Now()
				seq, err := nodes[0].svc.bus.publish(ctx, &message{V: messageVersion, ID: newID(), Issued: start, Request: *q})
				if err != nil {
					b.Fatal(err)
				}
				var last time.Duration
				for i, n := range nodes {
					for a := range n.applied {
						if a.Seq == seq {
							d := a.at.Sub(start)
							last = max(last, d)
							if i == 0 {
								one = append(one, d)
							}
							break
						}
					}
				}
				all = append(all, last)
			}
			b.ReportMetric(percentile(all, 50), "p50-all-us")
			b.ReportMetric(percentile(all, 99), "p99-all-us")
			b.ReportMetric(percentile(one, 50), "p50-one-us")
			b.ReportMetric(percentile(one, 99), "p99-one-us")
		})
	}
}

// percentile returns the p-th percentile of ds in microseconds.
func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p+99)/100-1)
	return float64(s[max(i, 0)].Microseconds())
}
