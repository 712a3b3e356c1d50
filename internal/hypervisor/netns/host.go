package netns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/hypervisor/netns/holder"
	"github.com/xrdtest/xrdtest/internal/proctree"
)

// DefaultPrivateDirs are the folders each host gets a private, initially
// empty copy of: where two instances of one service on the machine would
// otherwise collide (temporary files, logs, spools, XRootD's state and
// runtime folders). The rest of the file system is the machine's.
var DefaultPrivateDirs = []string{"/tmp", "/var/tmp", "/var/log", "/var/spool", "/var/lib/xrootd", "/run/xrootd"}

// host is a running host: its holder and its cgroup.
type host struct {
	name string
	addr string // its address in the cluster's network
	dir  string // <cluster folder>/<host name>
	pid  int    // the holder's, in the machine's PID namespace
	cg   cgroup
	// done is closed when the holder has ended (nil for a holder this
	// process did not start: it is then polled).
	done chan struct{}
}

// hostLayout names the files of a host's folder.
type hostLayout string

func (d hostLayout) etc(name string) string { return filepath.Join(string(d), "etc", name) }
func (d hostLayout) private(target string) string {
	return filepath.Join(string(d), "root", target)
}
func (d hostLayout) enter() string { return filepath.Join(string(d), "enter") }

// startHost starts host i of p: its /etc files and private folders in
// dir, its cgroup, and its holder (holderCmd is the command that runs
// holder.Run) in the host's network namespace and new mount, UTS, PID and
// IPC namespaces. keep are folders that must stay visible in the host
// (the slave's). On error what was made is removed.
func startHost(ctx context.Context, n naming, p *plan, i int, dir string, holderCmd, private, keep []string) (h *host, err error) {
	hp := p.hosts[i]
	h = &host{name: hp.name, addr: hp.addr.String(), dir: dir}
	defer func() {
		if err != nil {
			h.stop(time.Second)
			err = fmt.Errorf("host %s: %w", hp.name, err)
		}
	}()
	lay := hostLayout(dir)
	cfg := holder.Config{Hostname: hp.short}
	files := map[string]string{
		"hosts":       p.hostsFile(hp),
		"hostname":    hp.short + "\n",
		"resolv.conf": p.resolvConf(),
	}
	if err := os.MkdirAll(lay.etc(""), 0o755); err != nil {
		return h, err
	}
	for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
		if err := os.WriteFile(lay.etc(name), []byte(files[name]), 0o644); err != nil {
			return h, err
		}
		cfg.Binds = append(cfg.Binds, holder.Bind{Source: lay.etc(name), Target: "/etc/" + name})
	}
	for _, target := range private {
		mode := fs.FileMode(0o755)
		if st, err := os.Stat(target); err == nil {
			mode = st.Mode().Perm() | st.Mode()&fs.ModeSticky
		} else if errors.Is(err, fs.ErrNotExist) {
			// Left there at the stop: removing a folder that is a
			// mount point in other mount namespaces detaches those
			// mounts, so another cluster's hosts would lose theirs.
			if err := os.MkdirAll(target, 0o755); err != nil {
				return h, fmt.Errorf("private folder %s: %w", target, err)
			}
		}
		src := lay.private(target)
		if err := os.MkdirAll(src, 0o755); err != nil {
			return h, err
		}
		if err := os.Chmod(src, mode); err != nil {
			return h, err
		}
		cfg.Binds = append(cfg.Binds, holder.Bind{Source: src, Target: target})
	}
	cfg.Keep = keep
	for _, d := range hp.disks {
		file := filepath.Join(dir, "disks", d.Name+".img")
		if err := makeDisk(file, d.Size); err != nil {
			return h, fmt.Errorf("disks: disk %s: %w", d.Name, err)
		}
		if _, err := os.Stat(d.MountPoint); errors.Is(err, fs.ErrNotExist) && !holder.Covered(d.MountPoint, cfg.Binds) {
			if err := os.MkdirAll(d.MountPoint, 0o755); err != nil { // left there, as above
				return h, fmt.Errorf("disks: disk %s: %w", d.Name, err)
			}
		}
		cfg.Disks = append(cfg.Disks, holder.Bind{Source: file, Target: d.MountPoint})
	}

	if h.cg, err = newCgroup(n.prefix()+fmt.Sprintf("h%d", i), hp.ramKiB*1024); err != nil {
		return h, err
	}
	cmd := exec.Command(holderCmd[0], holderCmd[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC,
		// Its own session: the hypervisor's terminal signals are not the
		// host's. No Pdeathsig: a host outlives a crashed hypervisor,
		// which adopts it again.
		Setsid: true,
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return h, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return h, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "holder.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return h, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	// The child is cloned from a thread in the host's network namespace
	// and so is born in it.
	if err := inNetns(n.hostNS(i), cmd.Start); err != nil {
		return h, fmt.Errorf("start the holder: %w", err)
	}
	h.pid = cmd.Process.Pid
	h.done = make(chan struct{})
	go func() { cmd.Wait(); close(h.done) }()
	// In its cgroup before it reads its configuration: everything the
	// host runs later is below it.
	if err := h.cg.add(h.pid); err != nil {
		stdin.Close()
		return h, err
	}
	err = json.NewEncoder(stdin).Encode(cfg)
	stdin.Close()
	if err != nil {
		return h, fmt.Errorf("configure the holder: %w", err)
	}
	ready := make(chan error, 1)
	go func() { ready <- holder.ReadReady(stdout) }()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return h, err
	}
	return h, writeEnter(lay.enter(), hp.name, h.pid, h.cg)
}

// writeEnter writes the host's enter script: "enter CMD ARGS..." runs the
// command in the host: in its cgroup, then (nsenter) in its namespaces,
// in the caller's work folder. The exit status is the command's; a
// command killed by a signal kills nsenter with it.
func writeEnter(path, name string, pid int, cg cgroup) error {
	return os.WriteFile(path, []byte(enterScript(name, pid, cg, `"$@"`)), 0o755)
}

// enterScript is a script that runs command (shell words) in the host.
func enterScript(name string, pid int, cg cgroup, command string) string {
	return nsenterScript(fmt.Sprintf("Runs %s in host %s: in its cgroup, then in its namespaces.", command, name),
		pid, cg, "--mount --uts --ipc --net --pid", `"$PWD"`, command)
}

// nsenterScript is a script that runs command (shell words) in cgroup cg,
// then with nsenter in the namespaces ns (nsenter's flags) of process pid,
// in folder wd (a shell word).
func nsenterScript(comment string, pid int, cg cgroup, ns, wd, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# %s\n", comment)
	writeJoin(&b, cg)
	fmt.Fprintf(&b, "exec nsenter --target %d %s --wd=%s -- %s\n", pid, ns, wd, command)
	return b.String()
}

// joinScript is the file a stage's bash reads first (BASH_ENV) in host
// name: it joins the host's cgroup before the script's first command,
// and leaves the environment of the script's own children as it was.
func joinScript(name string, cg cgroup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Read by bash before each stage script of host %s: joins its cgroup.\n", name)
	writeJoin(&b, cg)
	b.WriteString("unset BASH_ENV\n")
	return b.String()
}

// writeJoin writes the shell lines that move the shell running them into
// cgroup cg, and end it with status 125 if one fails.
func writeJoin(b *strings.Builder, cg cgroup) {
	for _, f := range cg.procsFiles() {
		fmt.Fprintf(b, "echo $$ > %s || exit 125\n", shellQuote(f))
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// stop ends the host: SIGKILL to its holder ends every process in its PID
// namespace (double-forked daemons included) and with them its mount
// namespace; what is left in its cgroup (an enter in progress) is killed
// too, then the cgroup and the host's folder are removed. A second stop
// does nothing: the holder's PID may belong to another process by then.
func (h *host) stop(wait time.Duration) error {
	defer func() { h.pid, h.cg, h.dir = 0, cgroup{}, "" }()
	var errs []error
	if h.pid > 0 {
		unix.Kill(h.pid, unix.SIGKILL)
		// A holder ends once every process of its PID namespace has
		// (the slave beside it included): a stop returns after that.
		if !h.ended(wait) {
			errs = append(errs, fmt.Errorf("holder %d did not end", h.pid))
		}
	}
	if len(h.cg.dirs) > 0 {
		errs = append(errs, h.cg.remove(wait))
	}
	if h.dir != "" {
		errs = append(errs, os.RemoveAll(h.dir))
	}
	return errors.Join(errs...)
}

// ended waits up to wait for the holder to end: reaped by this process,
// or for an adopted one (another parent), gone or a zombie.
func (h *host) ended(wait time.Duration) bool {
	if h.done != nil {
		select {
		case <-h.done:
			return true
		case <-time.After(wait):
			return false
		}
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(5 * time.Millisecond) {
		if st, err := proctree.ReadStat(h.pid); err != nil || st.State == 'Z' {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// makeDisk makes file a new, sparse ext4 file system of size bytes.
func makeDisk(file string, size uint64) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	os.Remove(file)
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(int64(size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", file).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
