package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/popcache/popcache/purge"
)

// TestPurgeCommand drives "popcache purge" against a stand-in admin API
// that records what it was sent.
func TestPurgeCommand(t *testing.T) {
	var got struct {
		method, path, query, auth string
		body                      purge.Request
	}
	answer := http.StatusOK
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path, got.query, got.auth = r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization")
		got.body = purge.Request{}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &got.body)
		w.WriteHeader(answer)
		if answer >= 400 {
			io.WriteString(w, `{"error": "this token lacks the scope"}`)
			return
		}
		io.WriteString(w, `{"id": "0123", "state": "applied"}`)
	}))
	defer api.Close()

	tests := []struct {
		name     string
		args     []string
		env      string
		answer   int
		code     int
		stderr   string
		wantPath string
		wantBody purge.Request
		wantAuth string
	}{
		{name: "urls and tags", args: []string{"--url", "https://a.test/x", "--url", "https://a.test/y", "--tag", "t1", "--soft", "--token", "tok"},
			answer: 200, code: 0, wantPath: "/purge", wantAuth: "Bearer tok",
			wantBody: purge.Request{URLs: []string{"https://a.test/x", "https://a.test/y"}, Tags: []string{"t1"}, Soft: true}},
		{name: "token from the environment", args: []string{"--prefix", "a.test/static/", "--host", "b.test"}, env: "envtok",
			answer: 200, code: 0, wantPath: "/purge", wantAuth: "Bearer envtok",
			wantBody: purge.Request{Prefixes: []string{"a.test/static/"}, Hosts: []string{"b.test"}}},
		{name: "pending", args: []string{"--all", "--token", "tok"}, answer: 202, code: 3, stderr: "not applied it yet",
			wantPath: "/purge", wantAuth: "Bearer tok", wantBody: purge.Request{All: true}},
		{name: "refused", args: []string{"--all", "--token", "tok"}, answer: 403, code: 1, stderr: "lacks the scope",
			wantPath: "/purge", wantAuth: "Bearer tok", wantBody: purge.Request{All: true}},
		{name: "status", args: []string{"status", "--token", "tok", "0123"}, answer: 200, code: 0, wantPath: "/purge/0123", wantAuth: "Bearer tok"},
		{name: "nothing to purge", args: []string{"--token", "tok"}, code: 2, stderr: "empty purge"},
		{name: "prefix without host", args: []string{"--prefix", "/static/"}, code: 2, stderr: "no host"},
		{name: "bad admin URL", args: []string{"--admin", "127.0.0.1:9090", "--tag", "x"}, code: 2, stderr: "--admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("POPCACHE_TOKEN", tt.env)
			answer = tt.answer
			got.path = ""
			args := append([]string{"purge"}, tt.args...)
			if tt.args[0] == "status" {
				args = append([]string{"purge", "status", "--admin", api.URL}, tt.args[1:]...)
			} else if !strings.Contains(strings.Join(tt.args, " "), "--admin") {
				args = append([]string{"purge", "--admin", api.URL}, tt.args...)
			}
			var out, errOut bytes.Buffer
			code := run(args, &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut.String(), tt.code, tt.stderr)
			}
			if tt.wantPath == "" {
				if got.path != "" {
					t.Errorf("the API was called (%s) for a command that should fail first", got.path)
				}
				return
			}
			if got.path != tt.wantPath || got.auth != tt.wantAuth {
				t.Errorf("sent %s %s auth %q; want %s auth %q", got.method, got.path, got.auth, tt.wantPath, tt.wantAuth)
			}
			if tt.wantPath == "/purge" {
				if got.method != http.MethodPost || !equalRequests(got.body, tt.wantBody) {
					t.Errorf("sent %s %+v, want POST %+v", got.method, got.body, tt.wantBody)
				}
			}
			if tt.code == 0 && !strings.Contains(out.String(), `"state"`) {
				t.Errorf("stdout %q: want the status", out.String())
			}
		})
	}
}

func equalRequests(a, b purge.Request) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
