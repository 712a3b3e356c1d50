package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/store"
)

// startSyncSession starts a session of suite sy, one case whose run stage
// is run, on three slave processes.
func startSyncSession(t *testing.T, run string) (*resilienceMaster, map[string]*slaveProc, *store.Session) {
	t.Helper()
	rm := startResilienceMaster(t, oneCaseSuite("sy", run))
	procs := rm.startAll(t, "")
	return rm, procs, mastertest.StartSession(t, rm.Master, "sy")
}

// TestSyncBarrierSignalWait: the sync commands work in scripts as written
// (the slave puts xrdtest on their PATH) and order what they should.
func TestSyncBarrierSignalWait(t *testing.T) {
	endToEnd(t)
	run := `#!/bin/bash
set -e
F="$XRDTEST_SHARED/sync-@slavename@"
case @slavename@ in
  s1.xrd.test) sleep 0.5; echo one > "$XRDTEST_SHARED/before-barrier" ;;
esac
xrdtest sync barrier first
test -f "$XRDTEST_SHARED/before-barrier"   # s1 wrote it before anyone passed the barrier
echo passed first
case @slavename@ in
  s1.xrd.test) sleep 0.3; echo ready > "$XRDTEST_SHARED/ready"; xrdtest sync signal ready; xrdtest sync signal ready ;;
  *) xrdtest sync wait --count 2 ready; test -f "$XRDTEST_SHARED/ready"; echo got ready ;;
esac
xrdtest sync barrier first   # the name is reusable once a barrier completed
echo done
`
	rm, _, s := startSyncSession(t, run)
	d := rm.finish(t, s.ID)
	if d.State != store.SessionPassed {
		for _, h := range []string{"s1", "s2", "s3"} {
			out, _ := readOutput(rm.Store, d.ID, 2, h+".xrd.test")
			t.Logf("%s output:\n%s", h, out)
		}
		t.Fatalf("session %s: %s", d.State, d.Reason)
	}
	if out, _ := readOutput(rm.Store, d.ID, 2, "s2.xrd.test"); out != "passed first\ngot ready\ndone\n" {
		t.Errorf("s2 output %q", out)
	}
}

// TestSyncNeverCompletes: a barrier that a member left its stage without
// reaching fails at once, naming it; so does one whose member is lost;
// and every call times out.
func TestSyncNeverCompletes(t *testing.T) {
	endToEnd(t)
	run := `#!/bin/bash
case @slavename@ in
  s3.xrd.test) echo "s3 leaves without the barrier"; exit 0 ;;
esac
xrdtest sync barrier meet
`
	rm, _, s := startSyncSession(t, run)
	start := time.Now()
	d := rm.finish(t, s.ID)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s: the barrier did not fail at once", took)
	}
	out, _ := readOutput(rm.Store, d.ID, 2, "s1.xrd.test")
	if !strings.Contains(out, "barrier meet can never complete: s3.xrd.test (finished its stage) did not reach it") {
		t.Errorf("s1 output %q", out)
	}
	if r := result(d, "c:run", "s1.xrd.test"); r == nil || r.Status != store.StatusFailed {
		t.Errorf("s1 result %+v", r)
	}
}

func TestSyncMemberLost(t *testing.T) {
	endToEnd(t)
	run := `#!/bin/bash
case @slavename@ in
  s3.xrd.test) sleep 600 ;;
esac
xrdtest sync barrier meet
`
	rm, procs, s := startSyncSession(t, run)
	rm.waitStage(t, s.ID, "c:run")
	time.Sleep(300 * time.Millisecond)
	procs["s3.xrd.test"].cmd.Process.Signal(syscall.SIGKILL)
	d := rm.finish(t, s.ID)
	out, _ := readOutput(rm.Store, d.ID, 2, "s2.xrd.test")
	if !strings.Contains(out, "barrier meet can never complete: s3.xrd.test (lost) did not reach it") {
		t.Errorf("s2 output %q", out)
	}
	if d.State != store.SessionFailed || !strings.Contains(d.Reason, "slave lost: s3.xrd.test") {
		t.Errorf("session %s: %s", d.State, d.Reason)
	}
}

func TestSyncTimeout(t *testing.T) {
	endToEnd(t)
	run := `#!/bin/bash
case @slavename@ in
  s3.xrd.test) sleep 4 ;;
esac
xrdtest sync barrier --timeout 1s meet
`
	rm, _, s := startSyncSession(t, run)
	d := rm.finish(t, s.ID)
	// s1 and s2 wait for s3; the first to time out ends its stage, so the
	// other may learn first that the barrier can never complete: which
	// one comes first depends on the load. One of them timed out.
	timedOut := 0
	for _, slave := range []string{"s1.xrd.test", "s2.xrd.test"} {
		out, _ := readOutput(rm.Store, d.ID, 2, slave)
		switch {
		case strings.Contains(out, "timed out after 1s: barrier meet still misses") && strings.Contains(out, "s3.xrd.test"):
			timedOut++
		case strings.Contains(out, "barrier meet can never complete: s") && strings.Contains(out, "(finished its stage) did not reach it"):
		default:
			t.Errorf("%s output %q", slave, out)
		}
	}
	if timedOut == 0 {
		t.Error("neither s1 nor s2 reports its timeout")
	}
}
