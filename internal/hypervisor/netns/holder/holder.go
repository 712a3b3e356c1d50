// Package holder is a netns host's first process, the hidden
// `xrdtest __netns-host`: to a host what init is to a VM. The netns
// backend starts it as PID 1 of the host's new PID namespace, already in
// the host's network namespace and in new mount, UTS and IPC namespaces;
// it makes the host's file system view (its /proc, /etc files, private
// folders and disks), says it is ready, then only reaps orphans until it
// is killed. Its death ends every process of the host and, with the last
// of them, the mount namespace and its mounts.
package holder

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Command is the hidden xrdtest subcommand that runs Run.
const Command = "__netns-host"

// Config is what the backend tells the holder on its stdin (JSON).
type Config struct {
	// Hostname is the host's short name.
	Hostname string `json:"hostname"`
	// Binds are mounted in order: a file or folder of the host's own
	// over the machine's.
	Binds []Bind `json:"binds"`
	// Keep are folders that stay visible at their path when a private
	// folder covers them (the slave's folders for the host, under a
	// private /tmp in tests).
	Keep []string `json:"keep"`
	// Disks are ext4 image files mounted (loop, cleared on unmount) at
	// their target after the binds: in this host's mount namespace only.
	Disks []Bind `json:"disks"`
}

// Bind is a file or folder mounted over another (Source over Target).
type Bind struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// Run is the holder's main: it reads its Config from in,
// answers "ready" or "error: ..." on out (one line), then reaps children
// until SIGTERM or SIGKILL. It must run as PID 1 of a new PID namespace
// with a new mount namespace.
func Run(in io.Reader, out io.Writer) error {
	var cfg Config
	err := json.NewDecoder(in).Decode(&cfg)
	if err == nil {
		err = setupHost(cfg)
	}
	if err != nil {
		fmt.Fprintf(out, "error: %v\n", err)
		return err
	}
	// Signals and children: PID 1 ignores signals it has no handler for.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGCHLD)
	if _, err := fmt.Fprintln(out, "ready"); err != nil {
		return err
	}
	if c, ok := out.(io.Closer); ok {
		c.Close()
	}
	for s := range sigs {
		if s != unix.SIGCHLD {
			return nil
		}
		for {
			pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	return nil
}

func setupHost(cfg Config) error {
	var opened []*os.File
	if os.Getpid() != 1 {
		return errors.New("the holder must be PID 1 of its own PID namespace")
	}
	// Nothing mounted here may reach the machine's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fmt.Errorf("host name %q: %w", cfg.Hostname, err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	// Every source is opened before any bind: a bind may cover the path
	// of a later source (a host folder under a private /tmp). Keep folders
	// are bound back over their own path afterwards.
	open := func(path string) (string, error) {
		f, err := os.OpenFile(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", err
		}
		opened = append(opened, f)
		return fmt.Sprintf("/proc/self/fd/%d", f.Fd()), nil
	}
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	binds := slices.Clone(cfg.Binds)
	for i := range binds {
		var err error
		if binds[i].Source, err = open(binds[i].Source); err != nil {
			return fmt.Errorf("bind %s: %w", binds[i].Target, err)
		}
	}
	for _, k := range cfg.Keep {
		if !Covered(k, cfg.Binds) {
			continue
		}
		src, err := open(k)
		if err != nil {
			return fmt.Errorf("keep %s: %w", k, err)
		}
		binds = append(binds, Bind{Source: src, Target: k})
	}
	for _, b := range binds {
		if err := bindMount(b.Source, b.Target); err != nil {
			return err
		}
	}
	for _, d := range cfg.Disks {
		if err := os.MkdirAll(d.Target, 0o755); err != nil {
			return fmt.Errorf("disk %s: %w", d.Target, err)
		}
		// mount(8) sets up the loop device with autoclear: it goes with
		// the last unmount, that is with the mount namespace.
		out, err := exec.Command("mount", "-t", "ext4", "-o", "loop,user_xattr", d.Source, d.Target).CombinedOutput()
		if err != nil {
			return fmt.Errorf("disk %s: mount: %v: %s", d.Target, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// Covered reports whether one of binds covers path: bound over it or
// over a folder above it.
func Covered(path string, binds []Bind) bool {
	path = filepath.Clean(path)
	for _, b := range binds {
		t := filepath.Clean(b.Target)
		if path == t || strings.HasPrefix(path, strings.TrimSuffix(t, "/")+"/") {
			return true
		}
	}
	return false
}

// bindMount binds source over target, creating target (as source's kind)
// when missing: it is created in whatever file system holds it, which is
// the host's private folder for a folder below one.
func bindMount(source, target string) error {
	st, err := os.Stat(source)
	if err != nil {
		return fmt.Errorf("bind %s: %w", target, err)
	}
	if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
		if st.IsDir() {
			err = os.MkdirAll(target, 0o755)
		} else if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
			var f *os.File
			if f, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("bind %s: %w", target, err)
		}
	}
	if err := unix.Mount(source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s over %s: %w", source, target, err)
	}
	return nil
}

// ReadReady reads the holder's answer line.
func ReadReady(r io.Reader) error {
	line, err := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	switch {
	case line == "ready":
		return nil
	case strings.HasPrefix(line, "error: "):
		return errors.New(strings.TrimPrefix(line, "error: "))
	case err != nil:
		return fmt.Errorf("the holder ended before it was ready: %w", err)
	}
	return fmt.Errorf("the holder said %q", line)
}
