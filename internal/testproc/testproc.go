// Package testproc lets a test run alone in a process of its own: the
// test binary run again for that one test. Heap measurements need it:
// another test's goroutines allocate and free meanwhile.
package testproc

import (
	"os"
	"os/exec"
	"testing"
)

// env marks the process a test started for itself.
const env = "POPCACHE_TEST_OWN_PROCESS"

// Alone reports whether t runs alone in a process of its own. If not, it
// runs t so (failing t if that run fails, and logging its output) and
// reports false: the caller then returns.
func Alone(t *testing.T) bool {
	t.Helper()
	if os.Getenv(env) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), env+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in a process of its own: %v\n%s", t.Name(), err, out)
	}
	t.Logf("in a process of its own:\n%s", out)
	return false
}
