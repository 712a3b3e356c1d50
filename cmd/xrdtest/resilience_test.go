package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/proctree"
	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
)

const (
	testHeartbeat = 200 * time.Millisecond
	testGrace     = 2 * time.Second
)

// resilienceMaster is an in-process master whose slaves the test starts
// as real processes (so it can kill, cut and freeze them).
type resilienceMaster struct {
	*master.Master
	dir   string
	logs  *syncBuffer
	stop  func()
	procs []*slaveProc
}

type slaveProc struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
}

// e2eOptions are the options of an end-to-end test's master: its state
// in dir/master, the definitions of dir/repo, the e2e token, short
// heartbeats and grace (testHeartbeat, testGrace), slaves awaited 30 s,
// and a DEBUG log into logs.
func e2eOptions(dir string, logs *syncBuffer) master.Options {
	return master.Options{
		StateDir: filepath.Join(dir, "master"), Token: e2eToken, Repos: []definition.Repo{{Root: filepath.Join(dir, "repo")}},
		Settings: mastertest.Settings(30 * time.Second), Heartbeat: testHeartbeat, HeartbeatTimeout: 5 * testHeartbeat, ReconnectGrace: testGrace,
		Log: debugLog(logs), Version: "e2e",
	}
}

// debugLog is a logger into logs, from DEBUG on.
func debugLog(logs *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startResilienceMaster(t *testing.T, suites map[string]string) *resilienceMaster {
	t.Helper()
	return startTestMaster(t, "cluster_e2e.py", cluster3, suites, nil)
}

// startTestMaster is an in-process master of the cluster (file name and
// definition) and the suites, with short heartbeats and grace; tweak may
// change its options before it opens. The cleanup kills the slaves started
// with startSlave and stops the master.
func startTestMaster(t *testing.T, clusterFile, cluster string, suites map[string]string, tweak func(*master.Options)) *resilienceMaster {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"clusters/" + clusterFile: cluster}
	for k, v := range suites {
		files["test-suites/"+k] = v
	}
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), files)
	logs := &syncBuffer{}
	opts := e2eOptions(dir, logs)
	opts.APIToken = "api-token"
	if tweak != nil {
		tweak(&opts)
	}
	m := mastertest.Open(t, opts)
	rm := &resilienceMaster{Master: m, dir: dir, logs: logs, stop: mastertest.Serve(m)}
	t.Cleanup(func() {
		for _, p := range rm.procs {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		rm.stop()
		if t.Failed() {
			t.Logf("master log:\n%s", logs.String())
			for _, p := range rm.procs {
				t.Logf("slave %s log:\n%s", p.name, p.log.String())
			}
		}
	})
	return rm
}

// startSlaveProc starts `xrdtest slave` named name, dialing addr (a
// master or a proxy) and trusting the CA of fingerprint, its state, work
// folder and functions.sh in dir, with the e2e token and shared as its
// scripts' $XRDTEST_SHARED; its output goes to its log. The caller stops it.
// What its scripts leave running is stopped when the test ends: a slave
// the test killed, or the caller's SIGKILL, leaves them orphaned.
func startSlaveProc(t *testing.T, name, addr, fingerprint, dir, shared string) *slaveProc {
	t.Helper()
	t.Cleanup(func() { proctree.KillMarked("XRDTEST_SHARED="+shared, time.Second) })
	self, _ := os.Executable()
	c := exec.Command(self, "slave", "-c", "none", "--master", addr, "--name", name, "--ca-fingerprint", fingerprint,
		"--state-dir", filepath.Join(dir, "state"), "--work-dir", filepath.Join(dir, "work"), "--functions-path", filepath.Join(dir, "functions.sh"))
	c.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1", "XRDTEST_TOKEN="+e2eToken, "XRDTEST_SHARED="+shared)
	p := &slaveProc{name: name, cmd: c, log: &syncBuffer{}}
	c.Stdout, c.Stderr = p.log, p.log
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// startSlave starts a slave process dialing addr (the master or a proxy).
func (rm *resilienceMaster) startSlave(t *testing.T, name, addr string) *slaveProc {
	t.Helper()
	p := startSlaveProc(t, name, addr, rm.CA.Fingerprint().String(), filepath.Join(rm.dir, "slaves", name), rm.dir)
	rm.procs = append(rm.procs, p)
	return p
}

// startAll starts s1, s2, s3; s2 dials via2 when not empty.
func (rm *resilienceMaster) startAll(t *testing.T, via2 string) map[string]*slaveProc {
	out := map[string]*slaveProc{}
	for _, n := range []string{"s1.xrd.test", "s2.xrd.test", "s3.xrd.test"} {
		addr := rm.DaemonAddr().String()
		if n == "s2.xrd.test" && via2 != "" {
			addr = via2
		}
		out[n] = rm.startSlave(t, n, addr)
	}
	return out
}

// waitStage waits until every slave runs (or ran) stage of session id.
func (rm *resilienceMaster) waitStage(t *testing.T, id int64, stage string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		d, err := store.Detail(context.Background(), rm.Store, id)
		if err == nil {
			for _, st := range d.Stages {
				if st.Name == stage && len(st.Results) == 3 {
					return
				}
			}
		}
	}
	t.Fatalf("stage %s never started", stage)
}

func (rm *resilienceMaster) finish(t *testing.T, id int64) *store.SessionDetail {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := rm.Manager.Wait(ctx, id); err != nil {
		t.Fatal(err)
	}
	d, err := store.Detail(ctx, rm.Store, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func longSuite(run string) map[string]string {
	return map[string]string{
		"long/test_suite.py":    suiteDef("long", "    ts.finalize = 'file://fin.sh'\n", "c", "d"),
		"long/init.sh":          "#!/bin/bash\n",
		"long/fin.sh":           "#!/bin/bash\necho suite finalize\n",
		"long/tc/c/run.sh":      run,
		"long/tc/c/finalize.sh": "#!/bin/bash\necho case finalize\n",
		"long/tc/d/run.sh":      "#!/bin/bash\necho should be skipped\n",
	}
}

// checkLost asserts the rules for a lost s2 in session d.
func checkLost(t *testing.T, d *store.SessionDetail) {
	t.Helper()
	if d.State != store.SessionFailed || !strings.Contains(d.Reason, "slave lost: s2.xrd.test") {
		t.Errorf("session %s: %q, want failed naming s2", d.State, d.Reason)
	}
	for _, c := range []struct{ stage, slave, want string }{
		{"c:run", "s2.xrd.test", "lost"},
		{"c:finalize", "s1.xrd.test", "passed"},
		{"c:finalize", "s2.xrd.test", "skipped"},
		{"d:init", "s1.xrd.test", "skipped"},
		{"d:run", "s3.xrd.test", "skipped"},
		{"suite_finalize", "s3.xrd.test", "passed"},
		{"suite_finalize", "s2.xrd.test", "skipped"},
	} {
		if r := result(d, c.stage, c.slave); r == nil || string(r.Status) != c.want {
			t.Errorf("%s on %s: %+v, want %s", c.stage, c.slave, r, c.want)
		}
	}
	if r := result(d, "c:run", "s2.xrd.test"); r != nil && !strings.Contains(r.Message, "s2.xrd.test lost") {
		t.Errorf("lost message %q", r.Message)
	}
}

// TestSlaveKilledMidStage: kill -9 of a slave is named in the failure
// within the grace period plus two heartbeats.
func TestSlaveKilledMidStage(t *testing.T) {
	endToEnd(t)
	rm := startResilienceMaster(t, longSuite("#!/bin/bash\n[ @slavename@ = s2.xrd.test ] && sleep 600\necho run done\n"))
	procs := rm.startAll(t, "")
	s := mastertest.StartSession(t, rm.Master, "long")
	rm.waitStage(t, s.ID, "c:run")
	time.Sleep(200 * time.Millisecond) // let s2's script start
	killed := time.Now()
	procs["s2.xrd.test"].cmd.Process.Signal(syscall.SIGKILL)
	// While within the grace period, s2 is shown as disconnected.
	for deadline := time.Now().Add(testGrace); ; time.Sleep(20 * time.Millisecond) {
		states := map[string]string{}
		for _, d := range rm.Registry.Daemons() {
			states[d.Name] = string(d.State)
		}
		if states["s2.xrd.test"] == "disconnected" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("s2 not shown as disconnected during the grace period: %v", states)
			break
		}
	}
	// Wait for the lost verdict on c:run.
	for {
		d, _ := store.Detail(context.Background(), rm.Store, s.ID)
		if r := result(d, "c:run", "s2.xrd.test"); r != nil && r.Status == store.StatusLost {
			if took := time.Since(killed); took > testGrace+2*testHeartbeat+time.Second {
				t.Errorf("lost after %s, want within grace %s + 2 heartbeats", took, testGrace)
			}
			break
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatal("s2 never declared lost")
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkLost(t, rm.finish(t, s.ID))
}

// TestFrozenConnection: a slave whose connection stays open but carries
// nothing is detected by heartbeats and lost.
func TestFrozenConnection(t *testing.T) {
	endToEnd(t)
	rm := startResilienceMaster(t, longSuite("#!/bin/bash\n[ @slavename@ = s2.xrd.test ] && sleep 600\necho run done\n"))
	proxy := newFaultProxy(t, rm.DaemonAddr().String())
	rm.startAll(t, proxy.addr())
	s := mastertest.StartSession(t, rm.Master, "long")
	rm.waitStage(t, s.ID, "c:run")
	proxy.freeze()
	start := time.Now()
	d := rm.finish(t, s.ID)
	if took := time.Since(start); took > 5*testHeartbeat+testGrace+5*time.Second {
		t.Errorf("frozen slave declared lost after %s", took)
	}
	checkLost(t, d)
	if !strings.Contains(rm.logs.String(), "heartbeat timeout") {
		t.Errorf("the master did not log the heartbeat timeout")
	}
}

// TestCutAndResume: a connection cut while a script runs is resumed: the
// script ran once, its output is complete and in order.
func TestCutAndResume(t *testing.T) {
	endToEnd(t)
	run := `#!/bin/bash
if [ @slavename@ = s2.xrd.test ]; then
    echo "one line" >> "$XRDTEST_SHARED/appended.txt"
    # Output all along, so that chunks are in flight when the cut comes.
    for i in $(seq 1 300); do echo "line $i"; sleep 0.01; done
fi
`
	rm := startResilienceMaster(t, longSuite(run))
	proxy := newFaultProxy(t, rm.DaemonAddr().String())
	rm.startAll(t, proxy.addr())
	s := mastertest.StartSession(t, rm.Master, "long")
	rm.waitStage(t, s.ID, "c:run")
	time.Sleep(time.Second)
	// Hold what s2 sends in the proxy for a while, then cut: those chunks
	// never reach the master and must be resent after the reconnect.
	proxy.freeze()
	time.Sleep(300 * time.Millisecond)
	proxy.cut()
	proxy.unfreeze()
	d := rm.finish(t, s.ID)
	if d.State != store.SessionPassed {
		t.Fatalf("session %s: %s", d.State, d.Reason)
	}
	b, err := os.ReadFile(filepath.Join(rm.dir, "appended.txt"))
	if err != nil || string(b) != "one line\n" {
		t.Errorf("the script ran %d times: %q (%v)", strings.Count(string(b), "one line"), b, err)
	}
	var want strings.Builder
	for i := 1; i <= 300; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	out, err := readOutput(rm.Store, d.ID, 2, "s2.xrd.test")
	if err != nil || out != want.String() {
		t.Errorf("output after a cut (%v):\n%s", err, out)
	}
	if n := strings.Count(rm.logs.String(), `msg="daemon connected" role=slave name=s2.xrd.test`); n < 2 {
		t.Errorf("s2 connected %d times, want a reconnect", n)
	}
}

// TestMasterKilledAndRestarted: kill -9 of the master mid-session; on
// restart the session is interrupted with its history intact, the
// reconnecting slaves stop the script the session left running, and
// nothing runs twice.
func TestMasterKilledAndRestarted(t *testing.T) {
	endToEnd(t)
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	os.MkdirAll(shared, 0o755)
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), e2eRepo(map[string]string{
		"mk/test_suite.py": suiteDef("mk", "", "c"),
		"mk/init.sh":       "#!/bin/bash\necho init output kept\n",
		"mk/tc/c/run.sh":   "#!/bin/bash\necho ran >> \"$XRDTEST_SHARED/ran.@slavename@\"\nsleep 600 &\necho $! > \"$XRDTEST_SHARED/pid.@slavename@\"\necho started\nwait\n",
	}))
	m := startKillableMaster(t, dir, nil)
	client := m.client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fp := waitFingerprint(t, &m.log)
	var slaves []*slaveProc
	for _, h := range []string{"s1", "s2", "s3"} {
		p := startSlaveProc(t, h+".xrd.test", m.daemonAddr(), fp, filepath.Join(dir, h), shared)
		slaves = append(slaves, p)
		defer func() { p.cmd.Process.Signal(os.Interrupt); p.cmd.Wait() }()
	}
	defer func() {
		if t.Failed() {
			for i, p := range slaves {
				t.Logf("slave %d log:\n%s", i+1, p.log.String())
			}
		}
	}()
	s, err := client.Start(ctx, "mk", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the three scripts of c:run are running.
	pids := map[string]int{}
	for deadline := time.Now().Add(30 * time.Second); len(pids) < 3; time.Sleep(50 * time.Millisecond) {
		for _, h := range []string{"s1", "s2", "s3"} {
			if b, err := os.ReadFile(filepath.Join(shared, "pid."+h+".xrd.test")); err == nil {
				var pid int
				if _, err := fmt.Sscan(string(b), &pid); err == nil {
					pids[h] = pid
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("c:run did not start: %v", pids)
		}
	}
	m.restart(t)

	// The session is interrupted, its history intact.
	d := m.awaitSession(t, ctx, s.ID)
	if d.State != api.SessionInterrupted {
		t.Errorf("state %s, want interrupted", d.State)
	}
	for _, st := range d.Stages {
		for _, r := range st.Results {
			if r.Status == api.StatusRunning || r.Status == api.StatusPending {
				t.Errorf("%s on %s still %s", st.Name, r.Slave, r.Status)
			}
		}
	}
	var out bytes.Buffer
	if err := copyOutput(ctx, client, s.ID, 0, "s1.xrd.test", false, &out); err != nil || out.String() != "init output kept\n" {
		t.Errorf("output of suite_init after the restart: %q (%v)", out.String(), err)
	}
	// The slaves reconnect and stop what the session left running.
	for h, pid := range pids {
		for deadline := time.Now().Add(20 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if strings.Contains(string(stat), ") Z ") {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: the script's child %d still runs after the master restarted", h, pid)
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
		// Nothing ran twice.
		if b, _ := os.ReadFile(filepath.Join(shared, "ran."+h+".xrd.test")); string(b) != "ran\n" {
			t.Errorf("%s: c:run ran %d times", h, strings.Count(string(b), "ran"))
		}
	}
	if !strings.Contains(m.log.String(), "cancelling a stage no session waits for") {
		t.Errorf("the restarted master did not cancel the orphaned stages")
	}
}

// TestCancelFromCLI: `xrdtest cancel` stops the running stage (TERM, then
// KILL after the grace), the finalize stages still run, the session ends
// cancelled.
func TestCancelFromCLI(t *testing.T) {
	endToEnd(t)
	rm := startResilienceMaster(t, longSuite("#!/bin/bash\ntrap '' TERM\nsleep 600 &\necho $! > \"$XRDTEST_SHARED/cancel.@slavename@\"\nwait\n"))
	rm.startAll(t, "")
	s := mastertest.StartSession(t, rm.Master, "long")
	rm.waitStage(t, s.ID, "c:run")
	time.Sleep(300 * time.Millisecond)
	webURL := "http://" + rm.WebAddr().String()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"cancel", "--master", webURL, "--token", "api-token", fmt.Sprint(s.ID)}, &out, &errOut); code != 0 {
		t.Fatalf("cancel: exit %d: %s", code, errOut.String())
	}
	start := time.Now()
	d := rm.finish(t, s.ID)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cancel took %s", took)
	}
	if d.State != store.SessionCancelled {
		t.Errorf("state %s", d.State)
	}
	for _, c := range []struct{ stage, want string }{{"c:run", "cancelled"}, {"c:finalize", "passed"}, {"d:run", "skipped"}, {"suite_finalize", "passed"}} {
		if r := result(d, c.stage, "s1.xrd.test"); r == nil || string(r.Status) != c.want {
			t.Errorf("%s: %+v, want %s", c.stage, r, c.want)
		}
	}
	for _, h := range []string{"s1", "s2", "s3"} {
		b, _ := os.ReadFile(filepath.Join(rm.dir, "cancel."+h+".xrd.test"))
		var pid int
		fmt.Sscan(string(b), &pid)
		if pid > 0 && syscall.Kill(pid, 0) == nil {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if !strings.Contains(string(stat), ") Z ") {
				t.Errorf("%s: the cancelled script's child %d survived", h, pid)
			}
		}
	}
	// Cancelling again is refused with a clear message.
	errOut.Reset()
	if code := run(context.Background(), []string{"cancel", "--master", webURL, "--token", "api-token", fmt.Sprint(s.ID)}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "is not running") {
		t.Errorf("second cancel: exit %d: %s", code, errOut.String())
	}
}
