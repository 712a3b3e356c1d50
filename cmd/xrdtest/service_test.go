package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/store"
)

// daemonCmd is an xrdtest daemon process the test runs.
type daemonCmd struct {
	*exec.Cmd
	out  *syncBuffer // stdout and stderr
	done chan struct{}
	err  error
}

func startDaemonCmd(t *testing.T, env []string, args ...string) *daemonCmd {
	t.Helper()
	self, _ := os.Executable()
	d := &daemonCmd{Cmd: exec.Command(self, args...), out: &syncBuffer{}, done: make(chan struct{})}
	d.Env = append(append(os.Environ(), "XRDTEST_TEST_MAIN=1"), env...)
	d.Stdout, d.Stderr = d.out, d.out
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.Wait(); close(d.done) }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.Process.Kill()
			<-d.done
		}
	})
	return d
}

// stop sends sig and waits, bounded, for the exit; it returns the exit
// code and how long the process took.
func (d *daemonCmd) stop(t *testing.T, sig syscall.Signal, bound time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	d.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(bound):
		t.Errorf("%s still running %s after %v:\n%s", d.Args[1], bound, sig, d.out.String())
		d.Process.Kill()
		<-d.done
		return -1, time.Since(start)
	}
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		return ee.ExitCode(), time.Since(start)
	}
	return 0, time.Since(start)
}

func (d *daemonCmd) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// waitFor polls cond until it holds or 20 s passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(25 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func fileHas(path, s string) bool {
	b, _ := os.ReadFile(path)
	return bytes.Contains(b, []byte(s))
}

// startMasterProc starts `xrdtest master` with dir/master.conf, its
// stdout and stderr written to log.
func startMasterProc(t *testing.T, dir string, log io.Writer) *exec.Cmd {
	t.Helper()
	self, _ := os.Executable()
	c := exec.Command(self, "master", "-c", filepath.Join(dir, "master.conf"))
	c.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1")
	c.Stdout, c.Stderr = log, log
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// masterProc is `xrdtest master` run as a process of masterConf in dir,
// with a reconnect grace of 2 s and DEBUG logs, for the tests that kill
// it with -9 and start it again on the same state.
type masterProc struct {
	dir                 string
	daemonPort, webPort int
	log                 syncBuffer
	cmd                 *exec.Cmd
	client              *api.Client
}

// startKillableMaster writes dir/master.conf, changed by edit when not
// nil, and starts the master; the test's end kills it.
func startKillableMaster(t *testing.T, dir string, edit func(conf string) string) *masterProc {
	t.Helper()
	m := &masterProc{dir: dir, daemonPort: freePort(t), webPort: freePort(t)}
	conf := masterConf(m.daemonPort, m.webPort, "reconnect_grace = 2\n", "log_level = DEBUG\n")
	if edit != nil {
		conf = edit(conf)
	}
	testutil.WriteFiles(t, dir, map[string]string{"master.conf": conf})
	m.cmd = startMasterProc(t, dir, &m.log)
	t.Cleanup(func() { m.cmd.Process.Kill(); m.cmd.Wait() })
	m.client = masterClient(t, m.webPort)
	return m
}

// daemonAddr is where the daemons dial the master.
func (m *masterProc) daemonAddr() string { return fmt.Sprintf("127.0.0.1:%d", m.daemonPort) }

// restart kills the master with -9 and starts it again.
func (m *masterProc) restart(t *testing.T) {
	t.Helper()
	m.cmd.Process.Signal(syscall.SIGKILL)
	m.cmd.Wait()
	m.cmd = startMasterProc(t, m.dir, &m.log)
}

// awaitSession waits at most 20 s for the (restarted) master to answer
// for session id, and returns what it says.
func (m *masterProc) awaitSession(t *testing.T, ctx context.Context, id int64) *api.SessionDetail {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		d, err := m.client.Session(ctx, id)
		if err == nil {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted master does not answer: %v", err)
		}
	}
}

// masterClient is an API client of the master of masterConf on webPort.
func masterClient(t *testing.T, webPort int) *api.Client {
	t.Helper()
	client, err := api.NewClient(api.Options{URL: fmt.Sprintf("http://127.0.0.1:%d", webPort), Token: "api-token", HTTP: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// waitFingerprint waits at most 20s for the master writing log to print
// its CA's fingerprint, and returns it.
func waitFingerprint(t *testing.T, log *syncBuffer) string {
	t.Helper()
	re := regexp.MustCompile(`CA fingerprint[^:]*: (sha256:[0-9a-f]{64})`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fingerprint:\n%s", log.String())
		}
	}
}

// masterConf is an original-style master configuration on loopback;
// session and daemon are lines added to its [session] and [daemon]
// sections.
func masterConf(daemonPort, webPort int, session, daemon string) string {
	return fmt.Sprintf(`[general]
test-repos = local
state_dir = state
[test-repo-local]
type = localfs
local_path = repo
[server]
ip = 127.0.0.1
port = %d
connection_passwd = %s
[webserver]
port = %d
api_token = api-token
[scheduler]
enabled = 0
[session]
start_clusters = 0
heartbeat_interval = 0.2
heartbeat_timeout = 1
%s[daemon]
%s`, daemonPort, e2eToken, webPort, session, daemon)
}

// TestMasterDaemonFiles: the master's pid file is written, refused to a
// second master, removed at exit; its logs go to the log file as JSON,
// SIGHUP reopens a rotated log file and reloads the definitions; SIGTERM
// ends it with status 0.
func TestMasterDaemonFiles(t *testing.T) {
	endToEnd(t)
	dir := t.TempDir()
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), e2eRepo(map[string]string{
		"hello/test_suite.py": suiteDef("hello", "", "greet"),
		"hello/init.sh":       "#!/bin/bash\n",
	}))
	pidFile, logFile := filepath.Join(dir, "run", "master.pid"), filepath.Join(dir, "log", "master.log")
	testutil.WriteFiles(t, dir, map[string]string{"master.conf": masterConf(freePort(t), freePort(t), "",
		"pid_file_path = run/master.pid\nlog_file_path = log/master.log\nlog_format = json\nlog_level = DEBUG\n")})
	mc := startDaemonCmd(t, nil, "master", "-c", filepath.Join(dir, "master.conf"))
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("master output:\n%s\nlog file:\n%s", mc.out.String(), b)
		}
	}()
	waitFor(t, "the master serving", func() bool { return fileHas(logFile, `"msg":"master serving"`) })
	if b, _ := os.ReadFile(pidFile); string(b) != strconv.Itoa(mc.Process.Pid)+"\n" {
		t.Errorf("pid file %q, want the master's pid %d", b, mc.Process.Pid)
	}

	// A second master with this configuration is refused.
	second := startDaemonCmd(t, nil, "master", "-c", filepath.Join(dir, "master.conf"))
	code, _ := second.stop(t, 0, 10*time.Second) // signal 0: just wait
	if code != 1 || !strings.Contains(second.out.String(), "pid file") || !strings.Contains(second.out.String(), fmt.Sprintf("process %d", mc.Process.Pid)) {
		t.Errorf("second master: exit %d:\n%s", code, second.out.String())
	}
	if b, _ := os.ReadFile(pidFile); string(b) != strconv.Itoa(mc.Process.Pid)+"\n" {
		t.Errorf("the refused master changed the pid file: %q", b)
	}

	// logrotate: rename, then SIGHUP.
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	mc.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the definitions reloaded after SIGHUP", func() bool { return fileHas(logFile, `"msg":"definitions loaded"`) })
	if !fileHas(logFile, `"msg":"log file reopened (SIGHUP)"`) || !fileHas(logFile, `"msg":"reloading the definitions (SIGHUP)"`) {
		t.Errorf("no reopen or reload in the new log file")
	}
	if fileHas(logFile+".1", "SIGHUP") {
		t.Errorf("the rotated file got records after the reopen")
	}
	if fi, err := os.Stat(logFile); err != nil || fi.Mode().Perm()&^0o640 != 0 {
		t.Errorf("new log file: %v %v", fi.Mode(), err)
	}

	if code, took := mc.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Errorf("SIGTERM: exit %d after %s", code, took)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left after the exit: %v", err)
	}
	// Every line of both files is a JSON record; the last says stopped.
	var last map[string]any
	for _, f := range []string{logFile + ".1", logFile} {
		b, _ := os.ReadFile(f)
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			last = nil
			if err := json.Unmarshal(sc.Bytes(), &last); err != nil || last["level"] == nil || last["time"] == nil {
				t.Errorf("%s: not a JSON record: %q", f, sc.Text())
			}
		}
	}
	if last["msg"] != "xrdtest master stopped" {
		t.Errorf("last record %v", last)
	}
	if strings.Contains(mc.out.String(), "level=") || strings.Contains(mc.out.String(), `"level"`) {
		t.Errorf("log records on stderr with a log file:\n%s", mc.out.String())
	}
	if b, _ := os.ReadFile(logFile + ".1"); bytes.Contains(b, []byte(e2eToken)) {
		t.Errorf("the connection token is in the log")
	}
}

// TestMasterSIGTERMMidSession: SIGTERM of the master mid-stage interrupts
// the session (its stage cancelled on the slaves, what they reported
// kept) and the master exits 0 in bounded time; the next master shows the
// session interrupted and runs nothing of it again. Slaves and a
// hypervisor exit 0 on SIGTERM too, removing their pid files, and reopen
// their log files on SIGHUP.
func TestMasterSIGTERMMidSession(t *testing.T) {
	endToEnd(t)
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	os.MkdirAll(shared, 0o755)
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), e2eRepo(map[string]string{
		"mk/test_suite.py": suiteDef("mk", "    ts.finalize = 'file://fin.sh'\n", "c", "d"),
		"mk/init.sh":       "#!/bin/bash\necho init output kept\n",
		"mk/fin.sh":        "#!/bin/bash\necho fin >> \"$XRDTEST_SHARED/fin.@slavename@\"\n",
		"mk/tc/c/run.sh":   "#!/bin/bash\necho ran >> \"$XRDTEST_SHARED/ran.@slavename@\"\necho started\nsleep 600 &\necho $! > \"$XRDTEST_SHARED/pid.@slavename@\"\nwait\n",
		"mk/tc/d/run.sh":   "#!/bin/bash\necho d >> \"$XRDTEST_SHARED/d.@slavename@\"\n",
	}))
	daemonPort, webPort := freePort(t), freePort(t)
	testutil.WriteFiles(t, dir, map[string]string{"master.conf": masterConf(daemonPort, webPort, "", "log_level = DEBUG\n")})
	mc := startDaemonCmd(t, nil, "master", "-c", filepath.Join(dir, "master.conf"))
	fpRe := regexp.MustCompile(`CA fingerprint[^:]*: (sha256:[0-9a-f]{64})`)
	waitFor(t, "the master's fingerprint", func() bool { return fpRe.MatchString(mc.out.String()) })
	fp := fpRe.FindStringSubmatch(mc.out.String())[1]
	master1 := mc.out

	slaves := map[string]*daemonCmd{}
	for _, h := range []string{"s1", "s2", "s3"} {
		slaves[h] = startDaemonCmd(t, []string{"XRDTEST_TOKEN=" + e2eToken, "XRDTEST_SHARED=" + shared},
			"slave", "-c", "none", "--master", fmt.Sprintf("127.0.0.1:%d", daemonPort), "--name", h+".xrd.test",
			"--ca-fingerprint", fp, "--state-dir", filepath.Join(dir, h, "state"), "--work-dir", filepath.Join(dir, h, "work"),
			"--functions-path", filepath.Join(dir, h, "functions.sh"),
			"--set", "daemon.pid_file_path="+filepath.Join(dir, h, "slave.pid"), "--set", "daemon.log_file_path="+filepath.Join(dir, h, "slave.log"))
	}
	hvLog := filepath.Join(dir, "hv", "hv.log")
	hv := startDaemonCmd(t, []string{"XRDTEST_TOKEN=" + e2eToken}, "hypervisor", "-c", "none", "--backend", "local",
		"--master", fmt.Sprintf("127.0.0.1:%d", daemonPort), "--name", "hv1", "--ca-fingerprint", fp, "--state-dir", filepath.Join(dir, "hv"),
		"--set", "daemon.pid_file_path="+filepath.Join(dir, "hv", "hv.pid"), "--set", "daemon.log_file_path="+hvLog, "--log-format", "json")
	defer func() {
		if t.Failed() {
			t.Logf("first master:\n%s\nmaster now:\n%s", master1.String(), mc.out.String())
			for h := range slaves {
				b, _ := os.ReadFile(filepath.Join(dir, h, "slave.log"))
				t.Logf("slave %s:\n%s%s", h, slaves[h].out.String(), b)
			}
			b, _ := os.ReadFile(hvLog)
			t.Logf("hypervisor:\n%s%s", hv.out.String(), b)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := masterClient(t, webPort)
	s, err := client.Start(ctx, "mk", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c:run on every slave", func() bool {
		for _, h := range []string{"s1", "s2", "s3"} {
			if b, _ := os.ReadFile(filepath.Join(shared, "pid."+h+".xrd.test")); len(b) == 0 {
				return false
			}
		}
		return true
	})
	waitFor(t, "the hypervisor connected", func() bool { return fileHas(hvLog, `"msg":"connected to the master"`) })

	code, took := mc.stop(t, syscall.SIGTERM, 30*time.Second)
	if code != 0 || took > 15*time.Second {
		t.Errorf("master after SIGTERM: exit %d after %s, want 0 within 15s", code, took)
	}
	t.Logf("the master exited %s after SIGTERM, with a stage running on 3 slaves", took.Round(time.Millisecond))
	for _, want := range []string{"master shutting down: interrupting the sessions", `state=interrupted reason="the master shut down during c:run"`, "xrdtest master stopped"} {
		if !strings.Contains(mc.out.String(), want) {
			t.Errorf("master log lacks %q", want)
		}
	}

	mc = startDaemonCmd(t, nil, "master", "-c", filepath.Join(dir, "master.conf"))
	var d *api.SessionDetail
	waitFor(t, "the restarted master's API", func() bool {
		var err error
		d, err = client.Session(ctx, s.ID)
		return err == nil
	})
	if d.State != api.SessionInterrupted || d.Reason != "the master shut down during c:run" {
		t.Errorf("session %s: %q", d.State, d.Reason)
	}
	for _, c := range []struct{ stage, want string }{{"suite_init", "passed"}, {"c:run", "cancelled"}, {"c:finalize", "skipped"},
		{"d:run", "skipped"}, {"suite_finalize", "skipped"}} {
		for _, h := range []string{"s1", "s2", "s3"} {
			if r := result(d, c.stage, h+".xrd.test"); r == nil || string(r.Status) != c.want {
				t.Errorf("%s on %s: %+v, want %s", c.stage, h, r, c.want)
			}
		}
	}
	var out bytes.Buffer
	if err := copyOutput(ctx, client, s.ID, 2, "s3.xrd.test", false, &out); err != nil || out.String() != "started\n" {
		t.Errorf("output of c:run kept: %q (%v)", out.String(), err)
	}
	if strings.Contains(mc.out.String(), "sessions left unfinished by the previous master") {
		t.Errorf("the restarted master found unfinished sessions")
	}
	// The slaves stay connected through the restart: give them time to
	// be told of anything left over, then check that nothing ran twice.
	waitFor(t, "the slaves reconnected", func() bool { return strings.Count(mc.out.String(), `msg="daemon connected" role=slave`) >= 3 })
	time.Sleep(500 * time.Millisecond)
	for _, h := range []string{"s1", "s2", "s3"} {
		n := h + ".xrd.test"
		if b, _ := os.ReadFile(filepath.Join(shared, "ran."+n)); string(b) != "ran\n" {
			t.Errorf("%s: c:run ran %d times", h, strings.Count(string(b), "ran"))
		}
		for _, f := range []string{"fin.", "d."} {
			if _, err := os.Stat(filepath.Join(shared, f+n)); err == nil {
				t.Errorf("%s: %s ran after the shutdown", h, strings.TrimSuffix(f, "."))
			}
		}
		b, _ := os.ReadFile(filepath.Join(shared, "pid."+n))
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 && syscall.Kill(pid, 0) == nil {
			if stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(stat), ") Z ") {
				t.Errorf("%s: the script's child %d survived the shutdown", h, pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}

	// The hypervisor and a slave reopen their log files on SIGHUP.
	os.Rename(hvLog, hvLog+".1")
	s1Log := filepath.Join(dir, "s1", "slave.log")
	os.Rename(s1Log, s1Log+".1")
	hv.Process.Signal(syscall.SIGHUP)
	slaves["s1"].Process.Signal(syscall.SIGHUP)
	waitFor(t, "the hypervisor's new log file", func() bool { return fileHas(hvLog, `"msg":"log file reopened (SIGHUP)"`) })
	waitFor(t, "the slave's new log file", func() bool { return fileHas(s1Log, `msg="log file reopened (SIGHUP)"`) })
	if hv.exited() || slaves["s1"].exited() {
		t.Fatal("SIGHUP ended a daemon")
	}
	// SIGTERM: exit 0, pid files removed.
	if code, took := hv.stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Errorf("hypervisor after SIGTERM: exit %d after %s", code, took)
	}
	if _, err := os.Stat(filepath.Join(dir, "hv", "hv.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("hypervisor pid file left: %v", err)
	}
	for h, sc := range slaves {
		if b, _ := os.ReadFile(filepath.Join(dir, h, "slave.pid")); string(b) != strconv.Itoa(sc.Process.Pid)+"\n" {
			t.Errorf("slave %s pid file %q", h, b)
		}
		if code, took := sc.stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
			t.Errorf("slave %s after SIGTERM: exit %d after %s", h, code, took)
		}
		if _, err := os.Stat(filepath.Join(dir, h, "slave.pid")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("slave %s pid file left: %v", h, err)
		}
	}
	mc.stop(t, syscall.SIGTERM, 20*time.Second)
}

// TestSlaveSIGTERMStopsScripts: a slave stopped with SIGTERM mid-stage
// stops its script's process tree before it exits 0; the master sees the
// slave lost.
func TestSlaveSIGTERMStopsScripts(t *testing.T) {
	endToEnd(t)
	rm := startResilienceMaster(t, longSuite("#!/bin/bash\n[ @slavename@ = s1.xrd.test ] || exit 0\ntrap '' TERM\nsleep 600 &\necho $! > \"$XRDTEST_SHARED/child.@slavename@\"\nwait\n"))
	procs := rm.startAll(t, "")
	s := mastertest.StartSession(t, rm.Master, "long")
	child := filepath.Join(rm.dir, "child.s1.xrd.test")
	waitFor(t, "c:run on s1", func() bool { b, _ := os.ReadFile(child); return len(b) > 0 })
	b, _ := os.ReadFile(child)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	p := procs["s1.xrd.test"]
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("slave after SIGTERM: %v\n%s", err, p.log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the slave did not exit after SIGTERM:\n%s", p.log.String())
	}
	took := time.Since(start)
	// The script ignores TERM: it was killed after the grace (1 s), and
	// the slave waited for that.
	if took < 900*time.Millisecond {
		t.Errorf("the slave exited after %s, before its script's kill grace", took)
	}
	if syscall.Kill(pid, 0) == nil {
		if stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(stat), ") Z ") {
			t.Errorf("the script's child %d outlived the slave", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	rm.procs = slicesDelete(rm.procs, p)
	if r := result(rm.finish(t, s.ID), "c:run", "s1.xrd.test"); r == nil || r.Status != store.StatusLost {
		t.Errorf("c:run on the stopped slave: %+v, want lost", r)
	}
}

func slicesDelete(ps []*slaveProc, p *slaveProc) []*slaveProc {
	var out []*slaveProc
	for _, q := range ps {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}
