package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{name: "bytes", in: "1500", want: 1500},
		{name: "kibibytes", in: "100k", want: 100 << 10},
		{name: "upper case", in: "1K", want: 1 << 10},
		{name: "mebibytes", in: "2m", want: 2 << 20},
		{name: "zero", in: "0", want: 0},
		{name: "negative", in: "-1", wantErr: true},
		{name: "junk", in: "abc", wantErr: true},
		{name: "too big", in: "65m", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readAll(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestObj(t *testing.T) {
	o := &Origin{}
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantLen    int
	}{
		{name: "1k", path: "/obj/1k/a", wantStatus: 200, wantLen: 1024},
		{name: "100k", path: "/obj/100k/7", wantStatus: 200, wantLen: 100 << 10},
		{name: "odd bytes", path: "/obj/13/x", wantStatus: 200, wantLen: 13},
		{name: "bad size", path: "/obj/zz/x", wantStatus: 400},
		{name: "no id", path: "/obj/1k", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, o, tt.path, nil)
			b := readAll(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			if len(b) != tt.wantLen {
				t.Fatalf("len %d, want %d", len(b), tt.wantLen)
			}
			for _, h := range []string{"ETag", "Last-Modified", "Cache-Control"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("missing %s", h)
				}
			}
			again := readAll(t, get(t, o, tt.path, nil))
			if !bytes.Equal(b, again) {
				t.Errorf("body of %s differs between two fetches", tt.path)
			}
		})
	}
	if a, b := readAll(t, get(t, o, "/obj/1k/1", nil)), readAll(t, get(t, o, "/obj/1k/2", nil)); bytes.Equal(a, b) {
		t.Errorf("ids 1 and 2 have the same body")
	}
}

func TestConditional(t *testing.T) {
	o := &Origin{}
	first := get(t, o, "/obj/1k/c", nil)
	tests := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{name: "matching etag", hdr: map[string]string{"If-None-Match": first.Header.Get("ETag")}, want: 304},
		{name: "other etag", hdr: map[string]string{"If-None-Match": `"nope"`}, want: 200},
		{name: "if-modified-since", hdr: map[string]string{"If-Modified-Since": first.Header.Get("Last-Modified")}, want: 304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(t, o, "/obj/1k/c", tt.hdr).StatusCode; got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
}

func TestStatsAndReset(t *testing.T) {
	o := &Origin{}
	for _, p := range []string{"/obj/1k/a", "/obj/1k/a", "/slow/0/s", "/stats"} {
		get(t, o, p, nil)
	}
	stats := func(q string) Stats {
		var s Stats
		if err := json.Unmarshal(readAll(t, get(t, o, "/stats"+q, nil)), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := stats("")
	if s.Total != 3 || s.Paths["/obj/1k/a"] != 2 || s.Paths["/slow/0/s"] != 1 {
		t.Fatalf("stats = %+v; want total 3, /obj/1k/a 2, /slow/0/s 1", s)
	}
	if s := stats("?prefix=/slow/"); len(s.Paths) != 1 || s.Total != 3 {
		t.Fatalf("prefix stats = %+v; want only the /slow path", s)
	}
	get(t, o, "/reset", nil)
	if s := stats(""); s.Total != 0 || len(s.Paths) != 0 {
		t.Fatalf("after reset stats = %+v", s)
	}
}

func TestSlowBadDelay(t *testing.T) {
	o := &Origin{}
	for _, p := range []string{"/slow/abc/x", "/slow/-5/x", "/slow/999999/x"} {
		if got := get(t, o, p, nil).StatusCode; got != 400 {
			t.Errorf("%s: status %d, want 400", p, got)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"[::1]:80", true},
		{"0.0.0.0:80", false},
		{":80", false},
		{"localhost:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if err := checkLoopback(tt.addr); (err == nil) != tt.ok {
				t.Fatalf("checkLoopback(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
			}
		})
	}
}
