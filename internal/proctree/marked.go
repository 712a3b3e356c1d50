package proctree

import (
	"time"

	"golang.org/x/sys/unix"
)

// KillMarked stops every process whose environment holds the entry marker
// (KEY=VALUE): SIGTERM, then SIGKILL to those left after grace. It returns
// how many processes it found. The local hypervisor backend uses it to stop
// what a cluster's scripts left running.
func KillMarked(marker string, grace time.Duration) int {
	want := needle(marker)
	found := scanMarker(want)
	if len(found) == 0 {
		return 0
	}
	for _, pid := range found {
		_ = unix.Kill(pid, unix.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && len(scanMarker(want)) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		left := scanMarker(want)
		if len(left) == 0 {
			break
		}
		for _, pid := range left {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ReapOrphans()
	return len(found)
}
