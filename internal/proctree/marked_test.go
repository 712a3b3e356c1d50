package proctree

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestKillMarked(t *testing.T) {
	// A process that left our process group and ignores SIGTERM.
	marker, _, waited := startTree(t, "trap '' TERM; setsid sleep 600 & sleep 600")
	want := needle(marker)
	if n := KillMarked(marker, 300*time.Millisecond); n < 3 {
		t.Errorf("KillMarked found %d processes, want 3", n)
	}
	if left := scanMarker(want); len(left) > 0 {
		t.Errorf("processes survived: %v", left)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Error("the main process was not killed")
	}
	if n := KillMarked(marker, time.Second); n != 0 {
		t.Errorf("second call found %d", n)
	}
}

// startTree runs script with bash in a process group of its own and waits
// until it and its two children run. It returns the marker their
// environment holds, the main process, and where its wait error comes.
func startTree(t *testing.T, script string) (marker string, cmd *exec.Cmd, waited <-chan error) {
	t.Helper()
	marker = "XRDTEST_TEST_MARKER=" + t.Name()
	cmd = exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done, err := StartCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(done)
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	want := needle(marker)
	for deadline := time.Now().Add(5 * time.Second); len(scanMarker(want)) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("processes did not start: %v", scanMarker(want))
		}
	}
	return marker, cmd, ch
}
