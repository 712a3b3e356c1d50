package proctree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// BecomeSubreaper makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER): orphaned descendants of its children, such as
// services a stage script started in the background or children that
// called setsid, are reparented to it instead of init. They stay visible
// to KillTree and KillMarked, and the process must reap them when they
// exit: run RunReaper. The slave daemon calls it once at start.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("proctree: prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// RunReaper reaps adopted orphans (see ReapOrphans) whenever a child
// changes state (SIGCHLD) and at least every interval (0 = 10s), until ctx
// is done. A subreaper daemon runs it in a goroutine for its lifetime:
// without it, background services that exit after their stage stay
// zombies, and "kill -0 $pid" keeps saying they run.
func RunReaper(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGCHLD)
	defer signal.Stop(sig)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ReapOrphans()
		select {
		case <-ctx.Done():
			return
		case <-sig:
		case <-tick.C:
		}
	}
}

// ReapOrphans reaps, without blocking, the zombie children of this process
// that are adopted orphans, and returns how many it reaped.
//
// A global wait(-1) would steal exit statuses that os/exec's Wait expects.
// So a zombie child is reaped only if
//   - it is not in this process's own process group: os/exec children that
//     other code started normally stay in it, while every process of a
//     script runs in the script's group (Setpgid) or in one it created with
//     setsid/setpgid;
//   - it is not a process that StartCommand started and whose Wait is
//     still to come: those are registered under a lock that also covers
//     the window between fork and registration.
func ReapOrphans() int {
	started.Lock()
	defer started.Unlock()
	// Most SIGCHLDs are a script's end whose Wait reaped it already: a
	// look, without reaping, at whether any child is a zombie spares the
	// listing then.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil || info.Signo == 0 {
		return 0
	}
	self, pgrp := os.Getpid(), unix.Getpgrp()
	pids, ok := childPIDs()
	if !ok {
		pids = procPIDs()
	}
	n := 0
	for _, pid := range pids {
		if reapLocked(pid, self, pgrp) {
			n++
		}
	}
	return n
}

// childPIDs lists this process's children from its threads'
// /proc/self/task/TID/children: a few small reads where a scan of /proc
// reads every process's stat, which a slave did at every stage's end
// (SIGCHLD) and, with many hosts on one machine, cost more than the stage's
// own bash. ok is false on a kernel without the files
// (CONFIG_PROC_CHILDREN); the list may miss a child that appears while it
// is read, which the next SIGCHLD or tick finds.
func childPIDs() (pids []int, ok bool) {
	haveChildren.Do(func() {
		_, err := os.Stat("/proc/thread-self/children")
		haveChildren.ok = err == nil
	})
	if !haveChildren.ok {
		return nil, false
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, false
	}
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue // the thread ended
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
	}
	return pids, true
}

var haveChildren struct {
	sync.Once
	ok bool
}

// reapOrphan reaps pid if it is an adopted orphan zombie (as ReapOrphans).
func reapOrphan(pid int) bool {
	started.Lock()
	defer started.Unlock()
	return reapLocked(pid, os.Getpid(), unix.Getpgrp())
}

func reapLocked(pid, self, pgrp int) bool {
	st, err := ReadStat(pid)
	if err != nil || st.State != 'Z' || st.PPID != self || st.PGID == pgrp {
		return false
	}
	started.mu.Lock()
	_, ok := started.pids[pid]
	started.mu.Unlock()
	if ok {
		return false
	}
	var ws unix.WaitStatus
	wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	return err == nil && wpid == pid
}

// started holds the children started in their own process group whose
// exit status belongs to an os/exec Wait, not to the reaper.
var started struct {
	sync.RWMutex // read: around Start; write: while reaping
	pids         map[int]struct{}
	mu           sync.Mutex // guards pids under the read lock
}

// StartCommand starts cmd so that ReapOrphans never reaps it, and returns
// a function to call once cmd.Wait returned. A subreaper that starts
// children in their own process group or session must start them with it
// (children in its own process group are safe anyway).
func StartCommand(cmd *exec.Cmd) (done func(), err error) {
	started.RLock()
	defer started.RUnlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	started.mu.Lock()
	if started.pids == nil {
		started.pids = make(map[int]struct{})
	}
	started.pids[pid] = struct{}{}
	started.mu.Unlock()
	return func() {
		started.mu.Lock()
		delete(started.pids, pid)
		started.mu.Unlock()
	}, nil
}

// StartCommandVia is StartCommand called through via, which must call
// the function it is given (nil: StartCommand directly): a slave beside
// its host forks from a thread in the host's network namespace.
func StartCommandVia(cmd *exec.Cmd, via func(start func() error) error) (done func(), err error) {
	if via == nil {
		return StartCommand(cmd)
	}
	err = via(func() (err error) {
		done, err = StartCommand(cmd)
		return err
	})
	if err == nil && done == nil {
		err = errors.New("proctree: the start hook did not start the command")
	}
	return done, err
}
