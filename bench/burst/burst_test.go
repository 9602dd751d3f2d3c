package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{name: "empty", sorted: nil, p: 50, want: 0},
		{name: "one", sorted: ms(7), p: 99, want: 7 * time.Millisecond},
		{name: "median of four", sorted: ms(1, 2, 3, 4), p: 50, want: 2 * time.Millisecond},
		{name: "p99 of 100", sorted: ms(hundred...), p: 99, want: 99 * time.Millisecond},
		{name: "max", sorted: ms(1, 2, 3), p: 100, want: 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Fatalf("percentile(p%d) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

// TestRun bursts a loopback server that counts requests and serves its own
// /stats, and checks every client got an answer and the count was read back.
func TestRun(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats" {
			fmt.Fprintf(w, `{"total":%d,"paths":{%q:%d}}`, hits.Load(), r.URL.Query().Get("prefix"), hits.Load())
			return
		}
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusBadGateway)
			return
		}
		hits.Add(1)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://")

	tests := []struct {
		name       string
		path       string
		wantOK     int
		wantErrors int
	}{
		{name: "all ok", path: "/slow/0/x", wantOK: 20},
		{name: "all fail", path: "/fail", wantErrors: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			res, err := Run(context.Background(), Config{Target: target, Path: tt.path, Clients: 20, Timeout: 10 * time.Second, Stats: srv.URL + "/stats"})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != tt.wantOK || res.Errors != tt.wantErrors {
				t.Fatalf("ok=%d errors=%d, want %d and %d (first error %q)", res.OK, res.Errors, tt.wantOK, tt.wantErrors, res.FirstError)
			}
			if res.OriginFetches != int64(tt.wantOK) {
				t.Fatalf("origin fetches %d, want %d", res.OriginFetches, tt.wantOK)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	good := Config{Target: "127.0.0.1:1", Path: "/x", Clients: 1, Timeout: time.Second}
	bad := []Config{
		{Target: "192.0.2.1:80", Path: "/x", Clients: 1, Timeout: time.Second},
		{Target: "127.0.0.1:1", Clients: 1, Timeout: time.Second},
		{Target: "127.0.0.1:1", Path: "/x", Timeout: time.Second},
	}
	if err := check(good); err != nil {
		t.Fatalf("check(good) = %v", err)
	}
	for i, c := range bad {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if check(c) == nil {
				t.Fatalf("check(%+v) accepted a bad config", c)
			}
		})
	}
}
