package testutil

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// OtherNetns starts a process in a network namespace of its own, ended
// with the test, and returns that namespace's path (/proc/PID/ns/net)
// and its link (net:[inode]). Without root the test is skipped.
func OtherNetns(t *testing.T) (path, link string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a network namespace")
	}
	sleep := exec.Command("sleep", "60")
	sleep.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	path = "/proc/" + strconv.Itoa(sleep.Process.Pid) + "/ns/net"
	link, err := os.Readlink(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, link
}

// StartedNetns is the network namespace link of a process started
// through start, which must call the function it is given (a hook such
// as the slave's, which forks in another namespace).
func StartedNetns(t *testing.T, start func(func() error) error) string {
	t.Helper()
	var out strings.Builder
	cmd := exec.Command("readlink", "/proc/self/ns/net")
	cmd.Stdout = &out
	if err := start(cmd.Start); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}
