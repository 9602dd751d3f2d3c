package cache

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv names the directory the child of TestDiskCrash writes to.
const crashChildEnv = "POPCACHE_TEST_CRASH_DIR"

// crashObject is object i of the crash test: every third one streamed in
// several chunks, the others small.
func crashObject(i int) (key string, size int) {
	size = 700 + i%5*300
	if i%3 == 0 {
		size = 300<<10 + i
	}
	return "http://crash/" + strconv.Itoa(i), size
}

// TestDiskCrash runs a child process that writes objects without pause and
// kills it with SIGKILL in the middle. On restart, no torn object is
// served: the objects present are exactly those committed before some
// point (the WAL is replayed in order), each one whole and passing its
// checksums, and no leftover of an interrupted write remains.
func TestDiskCrash(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Kill the child once it has committed enough objects, while it
	// writes more.
	const enough = 150
	lines := make(chan int)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				i, _ := strconv.Atoi(n)
				lines <- i
			}
		}
	}()
	reported := -1
	deadline := time.After(60 * time.Second)
wait:
	for reported < enough {
		select {
		case i, ok := <-lines:
			if !ok {
				t.Fatal("the child exited before it was killed")
			}
			reported = i
		case <-deadline:
			break wait
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	cmd.Wait()
	if reported < enough {
		t.Fatalf("the child committed only %d objects in a minute", reported+1)
	}

	db := rawDB(t, dir)
	intents := countPrefix(t, db, prefixIntent)
	db.Close()
	t.Logf("killed after %d reported commits; %d writes in progress at the kill", reported+1, intents)

	s, reg := testStore(t, diskConfig(dir))
	now := time.Now()
	last := -1
	for i := 0; i <= reported+1000; i++ {
		key, size := crashObject(i)
		obj, outcome := s.Lookup(key, nil, now)
		if outcome != Found {
			continue
		}
		b, err := readAll(t, obj)
		if err != nil || !bytes.Equal(b, body(size, byte(i))) {
			t.Fatalf("object %d: %d bytes, err %v; want %d intact bytes", i, len(b), err, size)
		}
		if last != i-1 {
			t.Fatalf("object %d is there but object %d is not: not a prefix of the commits", i, i-1)
		}
		last = i
	}
	// Commits are synced in the background, so the last ones before the
	// kill may be lost (how many depends on how slow fsync is on a loaded
	// machine); what survives must still be a whole prefix, checked above.
	if last < 0 {
		t.Errorf("nothing survived; the child had reported %d committed", reported+1)
	}
	t.Logf("objects 0..%d survived of %d reported committed", last, reported+1)
	if n := metric(t, reg, "popcache_disk_checksum_failures_total"); n != 0 {
		t.Errorf("checksum failures = %v", n)
	}
	s.Close()
	db = rawDB(t, dir)
	defer db.Close()
	if n := countPrefix(t, db, prefixIntent); n != 0 {
		t.Errorf("%d intents left after the restart", n)
	}
}

// crashChild writes objects into dir until it is killed (or a minute
// passes), printing "committed i" after each commit.
func crashChild(t *testing.T, dir string) {
	s, _ := testStore(t, diskConfig(dir))
	now := time.Now()
	stop := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(stop); i++ {
		key, size := crashObject(i)
		b := body(size, byte(i))
		meta := testMeta(now, int64(size), time.Hour)
		if size < 64<<10 {
			if !s.Put(key, &Object{Meta: meta, Body: b}, now) {
				t.Fatalf("Put %d refused", i)
			}
		} else {
			pr, pw := io.Pipe()
			obj, _ := s.Stream(key, meta, pr, now)
			go func() {
				for off := 0; off < len(b); off += 10 << 10 {
					pw.Write(b[off:min(off+10<<10, len(b))])
				}
				pw.Close()
			}()
			if _, err := obj.WriteBody(t.Context(), io.Discard, 0, -1, nil); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{}) // the commit follows the last byte
			obj.src.(*stream).afterDone(func() { close(done) })
			<-done
		}
		fmt.Printf("committed %d\n", i)
	}
}
