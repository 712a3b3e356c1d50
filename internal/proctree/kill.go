package proctree

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	pollInterval = 20 * time.Millisecond // rescans while waiting for the tree to die
	killWait     = 3 * time.Second       // how long SIGKILL is repeated
	reapWait     = time.Second           // how long killed processes are waited for
)

// KillTree stops the process tree whose main process is pid, the leader
// of its own process group, and whose processes all carry marker
// (KEY=VALUE) in their environment. waited delivers the main process's
// wait error, which KillTree returns:
//
//  1. SIGTERM to the process group and to every process carrying the
//     marker (this catches children that called setsid);
//  2. wait until the main process exited and no marker process is left,
//     or until grace elapsed; processes started meanwhile (a TERM trap's
//     cleanup commands) are left alone;
//  3. SIGKILL to the process group and to every marker process, rescanning
//     until none is left (new ones may have been forked);
//  4. reap the killed processes that were reparented to us (see reap).
func KillTree(marker string, pid int, grace time.Duration, waited <-chan error, log *slog.Logger) error {
	t := newTree(marker, pid)
	defer t.close()

	var werr error
	exited := false
	t.signal(unix.SIGTERM)
	graceTimer := time.NewTimer(grace)
	defer graceTimer.Stop()
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
wait:
	for {
		select {
		case werr = <-waited:
			exited, waited = true, nil
			if !t.alive() {
				break wait
			}
		case <-poll.C:
			if exited && !t.alive() {
				break wait
			}
		case <-graceTimer.C:
			log.Debug("grace period elapsed, sending SIGKILL", "grace", grace)
			break wait
		}
	}

	// Always at least once: also kills process group members that dropped
	// the marker from their environment and ignored SIGTERM.
	deadline := time.Now().Add(killWait)
	for {
		n := t.signal(unix.SIGKILL)
		if exited && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			log.Warn("processes survive SIGKILL", "count", n, "main_exited", exited)
			break
		}
		select {
		case werr = <-waited:
			exited, waited = true, nil
		case <-time.After(pollInterval):
		}
	}
	if !exited {
		werr = <-waited
	}
	if left := t.reap(reapWait); left > 0 {
		log.Warn("killed processes not reaped", "count", left)
	}
	return werr
}

// tree is the set of processes of one run found by marker scans.
type tree struct {
	pgid   int
	needle []byte          // "\x00KEY=VALUE\x00"
	live   map[int]*handle // pid -> newest handle
	all    []*handle       // every handle opened, for reaping
}

func newTree(marker string, pgid int) *tree {
	return &tree{
		pgid:   pgid,
		needle: needle(marker),
		live:   make(map[int]*handle),
	}
}

// signal sends sig to the process group and to every process that carries
// the marker now and is outside the group (a second SIGTERM would run a
// TERM trap twice), and returns how many marker processes it found.
func (t *tree) signal(sig unix.Signal) int {
	_ = unix.Kill(-t.pgid, sig) // ESRCH: the group is empty
	pids := scanMarker(t.needle)
	for _, pid := range pids {
		h := t.live[pid]
		if h == nil || h.gone() {
			if h = openHandle(pid, t.needle); h == nil {
				continue // exited meanwhile
			}
			t.live[pid] = h
			t.all = append(t.all, h)
		}
		if st, err := ReadStat(pid); err == nil && st.PGID == t.pgid {
			continue // signalled with the group
		}
		_ = h.signal(sig)
	}
	return len(pids)
}

// alive reports whether a process with the marker still runs.
func (t *tree) alive() bool { return len(scanMarker(t.needle)) > 0 }

// reap waits up to d for the killed processes to be reaped and returns how
// many are left. Processes reparented to us (we are a child subreaper) are
// our zombies and reaped here, by pidfd so that a recycled pid is never
// touched; others are reaped by their own parent. The main process is
// skipped: os/exec's Wait owns its exit status.
func (t *tree) reap(d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		left := 0
		for _, h := range t.all {
			if !h.done && h.pid != t.pgid {
				h.done = h.reap()
			}
			if !h.done && h.pid != t.pgid {
				left++
			}
		}
		if left == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(pollInterval / 4)
	}
}

func (t *tree) close() {
	for _, h := range t.all {
		h.close()
	}
}

// handle is a process found by a marker scan: a pidfd when the kernel has
// them (Linux >= 5.3), else the bare pid.
type handle struct {
	pid, fd int // fd -1: no pidfd
	done    bool
}

var pidfdWorks = sync.OnceValue(func() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// openHandle opens pid and checks, after opening, that it carries the
// marker: the handle then cannot refer to a recycled pid.
func openHandle(pid int, needle []byte) *handle {
	h := &handle{pid: pid, fd: -1}
	if pidfdWorks() {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return nil
		}
		h.fd = fd
	}
	if !hasMarker(pid, needle) {
		h.close()
		return nil
	}
	return h
}

func (h *handle) signal(sig unix.Signal) error {
	if h.fd >= 0 {
		return unix.PidfdSendSignal(h.fd, sig, nil, 0)
	}
	return unix.Kill(h.pid, sig)
}

// gone reports whether the process no longer exists (it was reaped).
func (h *handle) gone() bool { return errors.Is(h.signal(0), unix.ESRCH) }

// reap reaps the process if it is our zombie and reports whether nothing
// is left to do: reaped, gone, or a zombie of another parent.
func (h *handle) reap() bool {
	if h.fd >= 0 {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, h.fd, &info, unix.WEXITED|unix.WNOHANG, nil)
		if err == nil {
			// Signo is set only if a child changed state.
			return info.Signo == int32(unix.SIGCHLD)
		}
		if errors.Is(err, unix.EINVAL) { // no P_PIDFD (Linux 5.3)
			reapOrphan(h.pid)
		}
		// ECHILD: not our child (or already reaped).
	} else {
		reapOrphan(h.pid)
	}
	if h.gone() {
		return true
	}
	st, err := ReadStat(h.pid)
	return err != nil || (st.State == 'Z' && st.PPID != os.Getpid())
}

func (h *handle) close() {
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}

// needle is what scanMarker looks for in an environment: the whole entry.
func needle(marker string) []byte { return []byte("\x00" + marker + "\x00") }

// scanMarker returns the pids of the live processes whose environment
// contains needle. Zombies have no readable environment and are skipped,
// and so are processes we may not read (other users, if we are not root).
func scanMarker(needle []byte) []int {
	var pids []int
	self := os.Getpid()
	for _, pid := range procPIDs() {
		if pid != self && hasMarker(pid, needle) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func hasMarker(pid int, needle []byte) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || len(env) == 0 {
		return false
	}
	// needle starts with NUL so that only a whole entry matches; the
	// first entry has no NUL before it.
	return bytes.HasPrefix(env, needle[1:]) || bytes.Contains(env, needle)
}

// procPIDs lists the process ids in /proc.
func procPIDs() []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Stat is a process's state and relations, from /proc/PID/stat.
type Stat struct {
	State           byte // R, S, D, Z...
	PPID, PGID, SID int
}

// ReadStat parses state, parent, process group and session of
// /proc/PID/stat, which are still readable for zombies.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	// "pid (comm) S ppid pgrp session ...": comm may hold spaces and ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, errors.New("proctree: bad stat line")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 4 || len(f[0]) != 1 {
		return Stat{}, errors.New("proctree: bad stat line")
	}
	var st Stat
	st.State = f[0][0]
	nums := []*int{&st.PPID, &st.PGID, &st.SID}
	for k, p := range nums {
		if *p, err = strconv.Atoi(string(f[k+1])); err != nil {
			return Stat{}, errors.New("proctree: bad stat line")
		}
	}
	return st, nil
}
