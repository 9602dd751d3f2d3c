package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[server]\nlisten = [\"127.0.0.1:8080\"]\nbogus = 1\n"), 0o644)
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"version", []string{"version"}, 0, "popcache ", ""},
		{"help", []string{"help"}, 0, "usage:", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"check the embedded config", []string{"check"}, 0, "<embedded>: OK", ""},
		{"check a bad file names file, line and key", []string{"check", "-c", bad}, 1, "", "bad.toml:3: server.bogus"},
		{"check a missing file", []string{"check", "-c", filepath.Join(dir, "nope.toml")}, 1, "", "nope.toml"},
		{"serve refuses -c with quick-start flags", []string{"serve", "-c", bad, "--origin", "http://127.0.0.1:1"}, 2, "", "exclusive"},
		{"serve refuses a bad origin URL", []string{"serve", "--listen", "127.0.0.1:0", "--origin", "ftp://x"}, 1, "", "--origin"},
		{"serve refuses a bad config before opening anything", []string{"serve", "-c", bad}, 1, "", "server.bogus"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tc.args, &out, &errOut)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.wantCode, errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.wantStdout)
			}
			if !strings.Contains(errOut.String(), tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tc.wantStderr)
			}
		})
	}
}
