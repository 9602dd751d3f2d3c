package testproc

import (
	"os"
	"testing"
)

func TestAlone(t *testing.T) {
	if !Alone(t) {
		return
	}
	// Here in the process of its own, and only there.
	if got := os.Getenv(env); got != t.Name() {
		t.Fatalf("%s = %q in the process of its own, want %q", env, got, t.Name())
	}
}
