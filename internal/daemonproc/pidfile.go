package daemonproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrPidFileHeld: the pid file names another process that is running.
var ErrPidFileHeld = errors.New("another process holds the pid file")

// writePidFile writes this process's pid to path, atomically (a reader
// never sees a partial file): refused when the file names another live
// process; a file left by a dead process is replaced and its pid
// returned, for a warning.
func writePidFile(path string) (stale int, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = fmt.Fprintf(tmp, "%d\n", os.Getpid())
	err = errors.Join(err, tmp.Chmod(0o644), tmp.Sync(), tmp.Close())
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	for range 3 {
		// link(2) creates the name only if it does not exist yet.
		err := os.Link(tmp.Name(), path)
		if err == nil {
			return stale, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return 0, fmt.Errorf("pid file: %w", err)
		}
		pid, err := readPidFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile: try again
		}
		if err == nil && pid != os.Getpid() && processAlive(pid) {
			return 0, fmt.Errorf("%w: %s names process %d, which is running (another daemon with this configuration?); stop it, or remove the file if that process is not an xrdtest daemon", ErrPidFileHeld, path, pid)
		}
		// A dead process's file (or garbage): replace it in one step.
		stale = pid
		if err := os.Rename(tmp.Name(), path); err != nil {
			return 0, fmt.Errorf("pid file: %w", err)
		}
		// Two daemons replacing the same stale file: the last rename
		// wins, the other one sees it.
		if pid, err := readPidFile(path); err == nil && pid != os.Getpid() && processAlive(pid) {
			return 0, fmt.Errorf("%w: %s names process %d, which started at the same time", ErrPidFileHeld, path, pid)
		}
		return stale, nil
	}
	return 0, fmt.Errorf("pid file %s keeps changing", path)
}

// removePidFile removes path if it still names this process.
func removePidFile(path string) error {
	if pid, err := readPidFile(path); err != nil || pid != os.Getpid() {
		return err
	}
	return os.Remove(path)
}

// readPidFile returns the pid a pid file holds (0 and no error for a file
// that holds no number).
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, nil
	}
	return pid, nil
}

// processAlive reports whether a process with this pid exists (EPERM: it
// does, as another user's).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
