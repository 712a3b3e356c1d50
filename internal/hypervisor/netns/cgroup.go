package netns

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where the machine mounts its cgroup file systems (a
// variable for the tests of the layout).
var cgroupRoot = "/sys/fs/cgroup"

// cgroup is a host's control group: one folder per hierarchy it uses.
// With cgroup v1 (memory and pids controllers mounted) it lives below
// this process's own group in each, so whatever limits the machine puts
// on the hypervisor hold for its hosts too; with cgroup v2 alone (the
// unified hierarchy at the cgroup root, controllers enabled there) it is
// <root>/xrdtest-netns/<name>, because v2 puts no processes in a group
// whose children get controllers.
type cgroup struct {
	dirs []string // the first holds the memory limit
}

// cgroupV2 reports whether the machine runs the unified hierarchy alone.
func cgroupV2() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers"))
	return err == nil
}

// ownCgroup is this process's group in the v1 hierarchy of controller.
func ownCgroup(controller string) (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 && parts[1] == controller {
			return parts[2], nil
		}
	}
	return "", fmt.Errorf("this process is in no %s cgroup", controller)
}

// cgroupParents are the folders the backend's cgroups are made in.
func cgroupParents() ([]string, error) {
	if cgroupV2() {
		// A controller bound to a v1 hierarchy (a hybrid machine's
		// cgroup2 mount) or disabled is not offered here: say which,
		// before anything is made.
		offered, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
		if err != nil {
			return nil, fmt.Errorf("cgroup v2: %w", err)
		}
		var missing []string
		for _, c := range []string{"memory", "pids"} {
			if !slices.Contains(strings.Fields(string(offered)), c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("cgroup v2 at %s offers no %s controller (cgroup.controllers: %q): bound to a cgroup v1 hierarchy, or disabled",
				cgroupRoot, strings.Join(missing, " or "), strings.TrimSpace(string(offered)))
		}
		base := filepath.Join(cgroupRoot, "xrdtest-netns")
		if err := os.Mkdir(base, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// The memory controller must be enabled in every group above.
		for _, d := range []string{cgroupRoot, base} {
			if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+memory +pids"), 0); err != nil {
				return nil, fmt.Errorf("cgroup v2: enable memory and pids in %s: %w", d, err)
			}
		}
		return []string{base}, nil
	}
	// memory carries the limit and is required; pids, where mounted,
	// lists every process of a host whatever a memory controller's
	// delegation; freezer, where mounted, pauses a host (fault pause).
	var out []string
	for _, c := range []string{"memory", "pids", "freezer"} {
		own, err := ownCgroup(c)
		if err != nil && c == "memory" {
			return nil, fmt.Errorf("cgroup v1: %w (is the memory controller mounted at %s/memory?)", err, cgroupRoot)
		}
		if err == nil {
			out = append(out, filepath.Join(cgroupRoot, c, own))
		}
	}
	return out, nil
}

// newCgroup makes the group called name with a memory limit (0 = none)
// and no swap beyond it where the kernel can tell.
func newCgroup(name string, memBytes uint64) (cgroup, error) {
	parents, err := cgroupParents()
	if err != nil {
		return cgroup{}, err
	}
	var cg cgroup
	for _, p := range parents {
		d := filepath.Join(p, name)
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			cg.remove(time.Second)
			return cgroup{}, fmt.Errorf("cgroup: %w", err)
		}
		cg.dirs = append(cg.dirs, d)
	}
	if memBytes > 0 {
		limit := strconv.FormatUint(memBytes, 10)
		var werr error
		if cgroupV2() {
			werr = os.WriteFile(filepath.Join(cg.dirs[0], "memory.max"), []byte(limit), 0)
			os.WriteFile(filepath.Join(cg.dirs[0], "memory.swap.max"), []byte("0"), 0)
		} else {
			werr = os.WriteFile(filepath.Join(cg.dirs[0], "memory.limit_in_bytes"), []byte(limit), 0)
			// Absent without swap accounting; then there is nothing to bound.
			os.WriteFile(filepath.Join(cg.dirs[0], "memory.memsw.limit_in_bytes"), []byte(limit), 0)
		}
		if werr != nil {
			cg.remove(time.Second)
			return cgroup{}, fmt.Errorf("cgroup: memory limit: %w", werr)
		}
	}
	return cg, nil
}

// freeze freezes (or thaws) every process of the group: cgroup.freeze
// on v2, the freezer controller's freezer.state on v1.
func (cg cgroup) freeze(on bool) error {
	if cgroupV2() && len(cg.dirs) > 0 {
		v := map[bool]string{true: "1", false: "0"}[on]
		return os.WriteFile(filepath.Join(cg.dirs[0], "cgroup.freeze"), []byte(v), 0)
	}
	for _, d := range cg.dirs {
		if strings.HasPrefix(d, filepath.Join(cgroupRoot, "freezer")+"/") {
			v := map[bool]string{true: "FROZEN", false: "THAWED"}[on]
			return os.WriteFile(filepath.Join(d, "freezer.state"), []byte(v), 0)
		}
	}
	return fmt.Errorf("no cgroup freezer: cgroup v1 without the freezer controller mounted at %s/freezer", cgroupRoot)
}

// procsFiles are the files a process writes its PID to to join.
func (cg cgroup) procsFiles() []string {
	var out []string
	for _, d := range cg.dirs {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return out
}

// add moves process pid into the group.
func (cg cgroup) add(pid int) error {
	for _, f := range cg.procsFiles() {
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("cgroup: add %d: %w", pid, err)
		}
	}
	return nil
}

// pids lists the processes in the group.
func (cg cgroup) pids() []int {
	seen := map[int]bool{}
	var out []int
	for _, f := range cg.procsFiles() {
		data, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(field); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out
}

// remove kills what is left in the group and removes it, waiting up to
// wait for the processes to go. A group already gone is fine.
func (cg cgroup) remove(wait time.Duration) error {
	cg.freeze(false) // a frozen process (fault pause) would not die
	deadline := time.Now().Add(wait)
	for {
		left := cg.pids()
		for _, pid := range left {
			unix.Kill(pid, unix.SIGKILL)
		}
		var errs []error
		for _, d := range cg.dirs {
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: %d processes left: %w", cg.dirs[0], len(left), errors.Join(errs...))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
