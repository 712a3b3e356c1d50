package proctree

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestKillMarked(t *testing.T) {
	marker := "XRDTEST_TEST_MARKER=" + t.Name()
	// A process that left our process group and ignores SIGTERM.
	cmd := exec.Command("bash", "-c", "trap '' TERM; setsid sleep 600 & sleep 600")
	cmd.Env = append(os.Environ(), marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done, err := StartCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	want := needle(marker)
	for deadline := time.Now().Add(5 * time.Second); len(scanMarker(want)) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("processes did not start: %v", scanMarker(want))
		}
	}
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
