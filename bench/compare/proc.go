package main

import (
	"bufio"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs starts long-lived server processes, each in its own process group,
// records their PIDs (in memory and in a file the bench/run trap reads), and
// kills them all on stopAll. The zero value is not usable: use newProcs.
type procs struct {
	pidFile string      // one PID (= process group id) per line, for bench/run's trap
	log     *log.Logger // notes each start

	mu   sync.Mutex // protects list
	list []*proc
}

// proc is one started server process.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status; read after done is closed
}

func newProcs(pidFile string, lg *log.Logger) *procs { return &procs{pidFile: pidFile, log: lg} }

// start runs argv with stdout and stderr in logPath. The process leads a new
// process group (so workers it forks are killed with it) and gets SIGKILL if
// this program dies without cleaning up.
func (p *procs) start(name, logPath string, env []string, argv ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("compare: start %s: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("compare: start %s (%s): %w", name, argv[0], err)
	}
	pr := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		pr.err = cmd.Wait()
		close(pr.done)
	}()
	p.mu.Lock()
	p.list = append(p.list, pr)
	p.mu.Unlock()
	if err := p.appendPID(cmd.Process.Pid); err != nil {
		return pr, err
	}
	p.log.Printf("started %s: pid %d: %s (log %s)", name, cmd.Process.Pid, strings.Join(argv, " "), logPath)
	return pr, nil
}

func (p *procs) appendPID(pid int) error {
	f, err := os.OpenFile(p.pidFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("compare: record pid: %w", err)
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, pid)
	return err
}

// exited reports whether the process has ended, and how.
func (pr *proc) exited() (bool, error) {
	select {
	case <-pr.done:
		return true, pr.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (pr *proc) stop(grace time.Duration) {
	pgid := pr.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-pr.done:
	case <-time.After(grace):
	}
	// The leader may be gone while forked workers linger: always sweep the group.
	syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-pr.done:
	case <-time.After(grace):
	}
}

// stopAll stops every process, newest first, and removes the PID file.
func (p *procs) stopAll() {
	p.mu.Lock()
	list := p.list
	p.list = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pr := range list {
		wg.Go(func() { pr.stop(5 * time.Second) })
	}
	wg.Wait()
	os.Remove(p.pidFile)
}

// rssBytes sums VmRSS, and the memory files held open, over pid and all
// its descendants (nginx workers, the Varnish child, ...), read from
// /proc.
func rssBytes(pid int) (int64, error) {
	children := map[int][]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("compare: rss: %w", err)
	}
	for _, e := range entries {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, err := ppid(c); err == nil {
			children[pp] = append(children[pp], c)
		}
	}
	var total int64
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		queue = append(queue, children[cur]...)
		kb, shmemKB, err := vmRSSKiB(cur)
		if err != nil {
			if cur == pid {
				return 0, err
			}
			continue // a worker that just exited
		}
		// Mapped pages of memory files are in VmRSS (RssShmem) as well:
		// counted once, whole.
		total += (kb-shmemKB)<<10 + max(shmemKB<<10, memfdBytes(cur))
	}
	return total, nil
}

// memfdBytes sums the sizes of the memory files (memfd_create) pid has
// open, each once: their pages are shared memory, in VmRSS only where
// mapped and touched. popcache keeps large bodies in them
// (cache.sendfile_min_bytes).
func memfdBytes(pid int) int64 {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	seen := map[uint64]bool{}
	var total int64
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if target, err := os.Readlink(p); err != nil || !strings.HasPrefix(target, "/memfd:") {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if seen[st.Ino] {
				continue
			}
			seen[st.Ino] = true
		}
		total += fi.Size()
	}
	return total
}

// ppid reads the parent PID from /proc/<pid>/stat, whose comm field may hold spaces.
func ppid(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("compare: malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, errors.New("compare: malformed stat")
	}
	return strconv.Atoi(f[1])
}

// vmRSSKiB reads VmRSS and its RssShmem part, in KiB.
func vmRSSKiB(pid int) (rss, shmem int64, err error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, fmt.Errorf("compare: rss of %d: %w", pid, err)
	}
	defer f.Close()
	kib := func(v string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n
	}
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			rss, found = kib(v), true
		} else if v, ok := strings.CutPrefix(sc.Text(), "RssShmem:"); ok {
			shmem = kib(v)
		}
	}
	if !found {
		return 0, 0, fmt.Errorf("compare: rss of %d: no VmRSS line", pid)
	}
	return rss, shmem, nil
}
