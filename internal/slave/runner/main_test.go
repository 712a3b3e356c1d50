package runner

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/proctree"
)

// TestMain makes the test binary a child subreaper, as the slave daemon
// is: orphans of the scripts are reparented to it and must be reaped by
// the code under test.
func TestMain(m *testing.M) {
	if err := proctree.BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// capture records the chunks passed to Spec.Output and when they came.
type capture struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	sizes  []int
	times  []time.Time
	onData func(all string) // called after each chunk, without the lock
}

func (c *capture) output(chunk []byte) {
	c.mu.Lock()
	c.buf.Write(chunk)
	c.sizes = append(c.sizes, len(chunk))
	c.times = append(c.times, time.Now())
	all := c.buf.String()
	c.mu.Unlock()
	if c.onData != nil {
		c.onData(all)
	}
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// spec returns a Spec for script with a fresh work dir, a logger to the
// test log and c as its output.
func spec(t *testing.T, c *capture, script string) Spec {
	t.Helper()
	return Spec{
		Script: script,
		Dir:    t.TempDir(),
		Output: c.output,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// runScript runs script in a fresh work dir and returns the result and
// the output; it fails the test on an infrastructure error.
func runScript(t *testing.T, script string) (Result, string) {
	t.Helper()
	var c capture
	res := Run(context.Background(), spec(t, &c, script))
	if res.Err != nil {
		t.Fatalf("Run: %v", res.Err)
	}
	return res, c.String()
}

// readPid reads a pid that a script wrote to dir/name.
func readPid(t *testing.T, dir, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("script did not write %s: %v", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return pid
}

// markerProcs lists the processes whose environment holds the run id,
// read from /proc independently of the code under test.
func markerProcs(t *testing.T, id string) []string {
	t.Helper()
	if len(id) < 16 {
		t.Fatalf("bad run id %q", id)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(env, []byte(MarkerEnv+"="+id)) {
			cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return found
}

// assertGone checks that no process of run id is left and that the given
// pids are neither running nor unreaped zombies of ours.
func assertGone(t *testing.T, id string, pids ...int) {
	t.Helper()
	if left := markerProcs(t, id); len(left) > 0 {
		t.Errorf("processes of the run still alive: %q", left)
	}
	for _, pid := range pids {
		st, err := proctree.ReadStat(pid)
		if err != nil {
			continue // gone
		}
		switch {
		case st.State == 'Z' && st.PPID == os.Getpid():
			t.Errorf("pid %d is a zombie child of the test process: not reaped", pid)
		case st.State != 'Z' && st.SID != 0 && markerPid(pid, id):
			t.Errorf("pid %d still runs", pid)
		}
	}
}

func markerPid(pid int, id string) bool {
	env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	return bytes.Contains(env, []byte(MarkerEnv+"="+id))
}

// killAndReap kills a process left behind by a test and reaps it.
func killAndReap(t *testing.T, pid int) {
	t.Helper()
	_ = unix.Kill(pid, unix.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		proctree.ReapOrphans()
		if _, err := proctree.ReadStat(pid); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("left-behind pid %d did not go away", pid)
}
