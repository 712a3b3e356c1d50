package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/proctree"
)

// slack absorbs scheduling delays on a loaded machine (-race, -count).
const slack = 3 * time.Second

// escape starts a child that leaves the process group (setsid), records
// its pid in bg.pid, then the run id in id; the caller waits for "ready".
const escape = `setsid sh -c 'echo $$ > bg.pid; exec sleep 600' &
echo "$XRDTEST_RUN_ID" > id
while [ ! -s bg.pid ]; do sleep 0.01; done
echo ready
`

func TestTimeoutKillsTreeIncludingSetsid(t *testing.T) {
	t.Parallel()
	var c capture
	s := spec(t, &c, escape+"sleep 600\n")
	s.Timeout = time.Second
	s.Grace = 20 * time.Second // sleep obeys SIGTERM: no need to wait for it
	res := Run(context.Background(), s)
	elapsed := res.End.Sub(res.Start)

	if !res.TimedOut || res.Cancelled || res.Err != nil {
		t.Errorf("result %+v", res)
	}
	if res.ExitCode != 128+15 {
		t.Errorf("exit code %d, want 143 (SIGTERM)", res.ExitCode)
	}
	if !strings.Contains(c.String(), "ready") {
		t.Fatalf("script did not get ready in time: %q", c.String())
	}
	if elapsed < s.Timeout || elapsed > s.Timeout+slack {
		t.Errorf("Run took %v, timeout %v", elapsed, s.Timeout)
	}
	id := readFile(t, s.Dir, "id")
	assertGone(t, id, readPid(t, s.Dir, "bg.pid"))
}

func TestTimeoutKillsAfterGraceWhenTermIgnored(t *testing.T) {
	t.Parallel()
	var c capture
	// Ignored signals stay ignored in the children, setsid included.
	s := spec(t, &c, "trap '' TERM\n"+escape+"sleep 600\n")
	s.Timeout = time.Second
	s.Grace = 700 * time.Millisecond
	res := Run(context.Background(), s)
	elapsed := res.End.Sub(res.Start)

	if !res.TimedOut || res.Err != nil || res.ExitCode != 128+9 {
		t.Errorf("result %+v, want timed out, exit 137 (SIGKILL)", res)
	}
	if !strings.Contains(c.String(), "ready") {
		t.Fatalf("script did not get ready in time: %q", c.String())
	}
	if min := s.Timeout + s.Grace; elapsed < min || elapsed > min+slack {
		t.Errorf("Run took %v, want timeout+grace = %v", elapsed, min)
	}
	assertGone(t, readFile(t, s.Dir, "id"), readPid(t, s.Dir, "bg.pid"))
}

func TestTimeoutTermTrapExitsBeforeGrace(t *testing.T) {
	t.Parallel()
	var c capture
	s := spec(t, &c, `trap 'echo cleanup; exit 3' TERM
echo "$XRDTEST_RUN_ID" > id
sleep 600 &
echo ready
wait
`)
	s.Timeout = time.Second
	s.Grace = 30 * time.Second
	res := Run(context.Background(), s)
	elapsed := res.End.Sub(res.Start)

	if !res.TimedOut || res.Err != nil || res.ExitCode != 3 {
		t.Errorf("result %+v, want timed out with the trap's exit 3", res)
	}
	if got := c.String(); got != "ready\ncleanup\n" {
		t.Errorf("output %q", got)
	}
	if elapsed > s.Timeout+slack {
		t.Errorf("Run took %v: waited for the grace period", elapsed)
	}
	assertGone(t, readFile(t, s.Dir, "id"))
}

func TestCancelKillsTree(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c capture
	var cancelled time.Time
	c.onData = func(all string) {
		if strings.Contains(all, "ready") && cancelled.IsZero() {
			cancelled = time.Now()
			cancel()
		}
	}
	s := spec(t, &c, escape+"sleep 600\n")
	s.Timeout = time.Hour
	res := Run(ctx, s)

	if !res.Cancelled || res.TimedOut || res.Err != nil || res.ExitCode != 128+15 {
		t.Errorf("result %+v", res)
	}
	if cancelled.IsZero() {
		t.Fatalf("never ready: %q", c.String())
	}
	if d := res.End.Sub(cancelled); d > slack {
		t.Errorf("Run returned %v after the cancel", d)
	}
	assertGone(t, readFile(t, s.Dir, "id"), readPid(t, s.Dir, "bg.pid"))
}

func TestNormalExitLeavesBackgroundChildren(t *testing.T) {
	t.Parallel()
	var c capture
	// The child keeps stdout open: output is drained for Drain only.
	s := spec(t, &c, `sleep 600 & echo $! > bg.pid; echo "$XRDTEST_RUN_ID" > id; echo done`)
	s.Timeout = time.Hour
	res := Run(context.Background(), s)
	elapsed := res.End.Sub(res.Start)

	pid := readPid(t, s.Dir, "bg.pid")
	t.Cleanup(func() { killAndReap(t, pid) })
	if res.Err != nil || res.ExitCode != 0 || res.TimedOut || c.String() != "done\n" {
		t.Errorf("result %+v, output %q", res, c.String())
	}
	if elapsed > DefaultDrain+slack {
		t.Errorf("Run took %v with a drain of %v", elapsed, DefaultDrain)
	}
	st, err := proctree.ReadStat(pid)
	if err != nil || st.State == 'Z' || !markerPid(pid, readFile(t, s.Dir, "id")) {
		t.Errorf("background child %d not alive after the stage: %+v %v", pid, st, err)
	}
}

func TestDrainKeepsLateOutputThenStops(t *testing.T) {
	t.Parallel()
	var c capture
	// One child writes shortly after the main process exits, another
	// writes forever: the first is kept, the second does not block Run.
	s := spec(t, &c, `echo main
(sleep 0.05; echo late) &
(while :; do echo x; sleep 0.01; done) & echo $! > bg.pid`)
	s.Drain = 500 * time.Millisecond
	res := Run(context.Background(), s)
	elapsed := res.End.Sub(res.Start)
	pid := readPid(t, s.Dir, "bg.pid")
	t.Cleanup(func() { killAndReap(t, pid) })

	if res.Err != nil || res.ExitCode != 0 {
		t.Errorf("result %+v", res)
	}
	if out := c.String(); !strings.HasPrefix(out, "main\n") || !strings.Contains(out, "late\n") {
		t.Errorf("output %q", out)
	}
	if elapsed < s.Drain || elapsed > s.Drain+slack {
		t.Errorf("Run took %v with a drain of %v", elapsed, s.Drain)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("script did not write %s: %v", name, err)
	}
	return strings.TrimSpace(string(b))
}
