package proctree

import (
	"errors"
	"log/slog"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestKillTree: a tree whose processes ignore SIGTERM, one of them out of
// the process group (setsid), is killed after the grace period, the main
// process's wait error is returned and nothing with the marker is left.
func TestKillTree(t *testing.T) {
	for _, tt := range []struct {
		name     string
		script   string
		grace    time.Duration
		signal   syscall.Signal
		minTaken time.Duration
	}{
		{"obeys TERM", "setsid sleep 600 & sleep 600", 10 * time.Second, syscall.SIGTERM, 0},
		{"ignores TERM", "trap '' TERM; setsid sleep 600 & sleep 600", 300 * time.Millisecond, syscall.SIGKILL, 300 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			marker, cmd, waited := startTree(t, tt.script)
			want := needle(marker)
			t0 := time.Now()
			err := KillTree(marker, cmd.Process.Pid, tt.grace, waited, slog.New(slog.NewTextHandler(t.Output(), nil)))
			if taken := time.Since(t0); taken < tt.minTaken || taken > tt.grace+3*time.Second {
				t.Errorf("KillTree took %v with a grace of %v", taken, tt.grace)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != tt.signal {
				t.Errorf("wait error %v, want killed by %v", err, tt.signal)
			}
			if left := scanMarker(want); len(left) > 0 {
				t.Errorf("processes survived: %v", left)
			}
		})
	}
}
