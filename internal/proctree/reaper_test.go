package proctree

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// orphan leaves a background child of a finished script, which is
// reparented to the test process (a subreaper), and returns its pid.
func orphan(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	done, err := StartCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("script output %q: %v", out.String(), err)
	}
	waitStat(t, pid, func(st Stat) bool { return st.PPID == os.Getpid() })
	return pid
}

// waitStat waits until /proc/pid/stat satisfies ok.
func waitStat(t *testing.T, pid int, ok func(Stat) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := ReadStat(pid)
		if err == nil && ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d: stat %+v, %v", pid, st, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isZombie(st Stat) bool { return st.State == 'Z' }

// Not parallel: ReapOrphans reaps every adopted orphan of the process.
func TestReapOrphans(t *testing.T) {
	pid := orphan(t)
	ReapOrphans() // orphans of earlier tests may have exited meanwhile
	if st, err := ReadStat(pid); err != nil || st.State == 'Z' {
		t.Fatalf("running orphan %d: %+v %v", pid, st, err)
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitStat(t, pid, isZombie)
	if n := ReapOrphans(); n < 1 {
		t.Errorf("reaped %d, want at least 1", n)
	}
	if _, err := ReadStat(pid); err == nil {
		t.Errorf("pid %d still exists", pid)
	}
}

// Not parallel: it runs the process-wide reaper.
func TestRunReaperReapsOnSIGCHLD(t *testing.T) {
	pid := orphan(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunReaper(ctx, time.Hour) // the ticker never fires: SIGCHLD does it
	}()
	defer func() { cancel(); <-done }()

	time.Sleep(50 * time.Millisecond) // let it start listening
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := ReadStat(pid); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d not reaped", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A child started meanwhile keeps its exit status.
	cmd := exec.Command("sh", "-c", "exit 9")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	wait, err := StartCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer wait()
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 9 {
		t.Errorf("Wait with the reaper running: %v, want exit 9", err)
	}
}

// Not parallel: ReapOrphans must leave other children of the process alone.
func TestReapOrphansLeavesExecChildren(t *testing.T) {
	// In our process group: never an orphan.
	plain := exec.Command("sh", "-c", "exit 5")
	// In its own group, started through StartCommand.
	grouped := exec.Command("sh", "-c", "exit 6")
	grouped.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	if err := plain.Start(); err != nil {
		t.Fatal(err)
	}
	done, err := StartCommand(grouped)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	for _, c := range []*exec.Cmd{plain, grouped} {
		waitStat(t, c.Process.Pid, isZombie)
	}
	ReapOrphans() // may reap stray orphans of earlier tests, not these
	for want, c := range map[int]*exec.Cmd{5: plain, 6: grouped} {
		var ee *exec.ExitError
		if err := c.Wait(); !errors.As(err, &ee) || ee.ExitCode() != want {
			t.Errorf("%v: Wait: %v, want exit %d", c.Args, err, want)
		}
	}
}

// TestChildPIDs: the children are read from the threads' children files,
// adopted orphans included, without a scan of /proc.
func TestChildPIDs(t *testing.T) {
	pids, ok := childPIDs()
	if !ok {
		t.Skip("this kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): ReapOrphans scans /proc instead")
	}
	adopted := orphan(t)
	defer func() { unix.Kill(adopted, unix.SIGKILL); waitStat(t, adopted, isZombie); ReapOrphans() }()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pids, _ = childPIDs()
	for _, want := range []int{adopted, cmd.Process.Pid} {
		if !slices.Contains(pids, want) {
			t.Errorf("children %v lack %d", pids, want)
		}
	}
	if slices.Contains(pids, os.Getpid()) || slices.Contains(pids, os.Getppid()) {
		t.Errorf("children %v hold this process or its parent", pids)
	}
}

// TestStartCommandVia: the hook starts the command, or its failure to
// is an error, not a command that was never started.
func TestStartCommandVia(t *testing.T) {
	hookErr := errors.New("hook failed")
	for _, tt := range []struct {
		name    string
		via     func(func() error) error
		started bool
		err     error
	}{
		{"direct", nil, true, nil},
		{"through", func(start func() error) error { return start() }, true, nil},
		{"hook fails", func(func() error) error { return hookErr }, false, hookErr},
		{"hook forgets", func(func() error) error { return nil }, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("true")
			done, err := StartCommandVia(cmd, tt.via)
			if tt.started {
				if err != nil || done == nil {
					t.Fatalf("StartCommandVia: %v", err)
				}
				done()
				if err := cmd.Wait(); err != nil {
					t.Errorf("wait: %v", err)
				}
				return
			}
			if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) || cmd.Process != nil {
				t.Errorf("StartCommandVia: err %v, process %v; want an error (%v) and no process", err, cmd.Process, tt.err)
			}
		})
	}
}
