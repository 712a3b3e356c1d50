package inhost

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestStart: a process started through Start is born in the host's
// network namespace (netnsthread.Do; its tests cover the threads), and
// Env names the join file.
func TestStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a network namespace")
	}
	// The host: a process in a network namespace of its own.
	host := exec.Command("sleep", "60")
	host.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Process.Kill(); host.Wait() })
	hostNS := "/proc/" + strconv.Itoa(host.Process.Pid) + "/ns/net"
	want, err := os.Readlink(hostNS)
	if err != nil {
		t.Fatal(err)
	}
	join := filepath.Join(t.TempDir(), "join.sh")
	if err := os.WriteFile(join, []byte("unset BASH_ENV\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := Open(hostNS, join)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var out strings.Builder
	cmd := exec.Command("readlink", "/proc/self/ns/net")
	cmd.Stdout = &out
	if err := h.Start(cmd.Start); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("started through the host: network namespace %s, want the host's %s", got, want)
	}
	if got := h.Env(); len(got) != 1 || got[0] != "BASH_ENV="+join {
		t.Errorf("Env() = %q", got)
	}
}

// TestOpenErrors: what Open refuses, naming the reason.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	join := filepath.Join(dir, "join.sh")
	if err := os.WriteFile(join, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ netns, join, want string }{
		{"/proc/self/ns/net", filepath.Join(dir, "j$HOME"), "would expand"},
		{"/proc/self/ns/net", filepath.Join(dir, "missing"), "host join file"},
		{filepath.Join(dir, "no-netns"), join, "host network namespace"},
	} {
		h, err := Open(tt.netns, tt.join)
		if err == nil {
			h.Close()
			t.Errorf("Open(%s, %s) succeeded", tt.netns, tt.join)
		} else if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s, %s): %v, want it to say %q", tt.netns, tt.join, err, tt.want)
		}
	}
}
