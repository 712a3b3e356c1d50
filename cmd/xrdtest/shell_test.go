package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// waitingSuite is a suite whose run stage waits (bounded) until the test
// creates $XRDTEST_SHARED/release: its session stays running meanwhile.
func waitingSuite() map[string]string {
	return oneCaseSuite("sh", "#!/bin/bash\nfor i in $(seq 1200); do [ -e \"$XRDTEST_SHARED/release\" ] && exit 0; sleep 0.1; done\nexit 1\n")
}

// shellCLI runs `xrdtest shell` as its own process (as a user would,
// stdin not a terminal) against the master's API.
func shellCLI(t *testing.T, m *master.Master, token string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	self, _ := os.Executable()
	full := append([]string{"shell", "--master", "http://" + m.WebAddr().String()}, args...)
	if token != "" {
		full = append([]string{"shell", "--token", token}, full[1:]...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, self, full...)
	c.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1", "XRDTEST_API_TOKEN=", "USER=tester")
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return c.ProcessState.ExitCode(), out.String(), errOut.String()
}

// TestShellCLI: `xrdtest shell` runs a command on a host of a running
// session in the stage scripts' environment, its output and exit code
// passed through; an interactive shell works on a terminal; unauthorized
// or wrong requests are refused clearly; each shell is a session event
// naming who opened it.
func TestShellCLI(t *testing.T) {
	endToEnd(t)
	rm := startResilienceMaster(t, waitingSuite())
	rm.startAll(t, "")
	s := mastertest.StartSession(t, rm.Master, "sh")
	rm.waitStage(t, s.ID, "c:run")
	id := s.ID
	sid := func() string { return strconv.FormatInt(id, 10) }

	hostname, _ := os.Hostname()
	code, out, errOut := shellCLI(t, rm.Master, "api-token", sid(), "s1", "--", "sh", "-c", `hostname; echo "$XRDTEST_SLAVE $XRDTEST_SESSION $XRDTEST_SUITE"; pwd; echo err >&2`)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	work := filepath.Join(rm.dir, "slaves", "s1.xrd.test", "work", "session-"+sid())
	want := hostname + "\ns1.xrd.test " + sid() + " sh\n" + work + "\n"
	if out != want || errOut != "err\n" {
		t.Errorf("stdout %q, stderr %q; want %q and %q", out, errOut, want, "err\n")
	}
	// functions.sh's functions are there, as in the scripts.
	if code, out, errOut := shellCLI(t, rm.Master, "api-token", sid(), "s3", "--", "stamp", "echo", "hello"); code != 0 || !strings.HasSuffix(out, "]\thello\n") {
		t.Errorf("stamp: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := shellCLI(t, rm.Master, "api-token", sid(), "s2.xrd.test", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit %d (stderr %q), want 7", code, errOut)
	}

	t.Run("interactive", func(t *testing.T) { interactiveShell(t, rm.Master, sid(), "s1", "") })
	t.Run("Ctrl-C without a terminal", func(t *testing.T) { interruptShell(t, rm.Master, sid()) })

	for _, tc := range []struct {
		name, token string
		args        []string
		want        string
	}{
		{"no token", "", []string{sid(), "s1", "--", "true"}, "a valid API token is required"},
		{"bad token", "wrong-token", []string{sid(), "s1", "--", "true"}, "a valid API token is required"},
		{"unknown session", "api-token", []string{"9999", "s1", "--", "true"}, "no session 9999"},
		{"host not in session", "api-token", []string{sid(), "nope.xrd.test", "--", "true"}, "host nope.xrd.test is not in this session (its hosts: s1.xrd.test, s2.xrd.test, s3.xrd.test)"},
	} {
		code, out, errOut := shellCLI(t, rm.Master, tc.token, tc.args...)
		if code != shellFailed || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d and %q", tc.name, code, out, errOut, shellFailed, tc.want)
		}
	}

	if err := os.WriteFile(filepath.Join(rm.dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := rm.finish(t, id)
	if d.State != store.SessionPassed {
		t.Fatalf("session %s: %s", d.State, d.Reason)
	}
	code, _, errOut = shellCLI(t, rm.Master, "api-token", sid(), "s1", "--", "true")
	if code != shellFailed || !strings.Contains(errOut, "session "+sid()+" is passed: a shell opens on a running or held session only") {
		t.Errorf("ended session: exit %d, stderr %q", code, errOut)
	}

	events, err := rm.Store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var shells []string
	for _, e := range events {
		if e.Kind == "shell" {
			shells = append(shells, e.Message)
		}
	}
	all := strings.Join(shells, "\n")
	for _, w := range []string{
		`"sh -c exit 7" on s2.xrd.test opened by api token (tester)`,
		`"sh -c exit 7" on s2.xrd.test closed by api token (tester): exit 7`,
		"a shell on s1.xrd.test opened by api token (tester)",
		"a shell on s1.xrd.test closed by api token (tester): exit 3",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("no event %q in:\n%s", w, all)
		}
	}
	if len(shells) != 10 {
		t.Errorf("%d shell events, want 10 (5 shells opened and closed; none for the refused ones):\n%s", len(shells), all)
	}
}

// interactiveShell drives `xrdtest shell SESSION HOST` on a terminal:
// the window size reaches the remote side, typed lines run (there:
// hostname -f says wantHost when given), exit's code is the command's.
func interactiveShell(t *testing.T, m *master.Master, sid, host, wantHost string) {
	tty, pty := openPTY(t)
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 101}); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, self, "shell", "--master", "http://"+m.WebAddr().String(), "--token", "api-token", sid, host)
	c.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1", "USER=tester", "TERM=xterm")
	c.Stdin, c.Stdout, c.Stderr = tty, tty, tty
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	shown := &syncBuffer{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pty.Read(buf)
			shown.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	waitShown := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(shown.String(), want); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q on the terminal within 30s; it shows %q", want, shown.String())
			}
		}
	}
	// Keys as typed: Enter is \r, as on a terminal in raw mode.
	pty.Write([]byte("stty size; echo hi-$((6*7))\r"))
	waitShown("hi-42")
	waitShown("33 101")
	if wantHost != "" {
		pty.Write([]byte("echo host=$(hostname -f)\r"))
		waitShown("host=" + wantHost)
	}
	pty.Write([]byte("exit 3\r"))
	err := c.Wait()
	if c.ProcessState == nil || c.ProcessState.ExitCode() != 3 {
		t.Fatalf("exit %v, want 3; the terminal shows %q", err, shown.String())
	}
}

// TestShellNetns: on a netns cluster the shell runs inside the host (its
// own name, its namespaces), in the session's work folder there, both one
// command and a terminal; the shells release the waiting stage.
func TestShellNetns(t *testing.T) {
	needNetns(t)
	dir := t.TempDir()
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), map[string]string{
		"clusters/cluster_e2e.py":      cluster3Netns,
		"test-suites/sh/test_suite.py": suiteDef("sh", "", "c"),
		"test-suites/sh/init.sh":       "#!/bin/bash\n",
		// Waits for the file a shell makes in the work folder.
		"test-suites/sh/tc/c/run.sh": "#!/bin/bash\nfor i in $(seq 1200); do [ -e release ] && exit 0; sleep 0.1; done\nexit 1\n",
	})
	logs := &syncBuffer{}
	opts := e2eOptions(dir, logs)
	opts.StartClusters = true
	opts.APIToken = "api-token"
	m := mastertest.Start(t, opts)
	defer startHypervisorProc(t, m, "netns", filepath.Join(dir, "hv"), logs)()
	s := mastertest.StartSession(t, m, "sh")
	sid := strconv.FormatInt(s.ID, 10)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		d, err := store.Detail(context.Background(), m.Store, s.ID)
		if err == nil && len(d.Stages) > 2 && len(d.Stages[2].Results) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c:run did not start within 2 minutes")
		}
	}
	code, out, errOut := shellCLI(t, m, "api-token", sid, "s1", "--", "sh", "-c", "hostname; hostname -f")
	if code != 0 || out != "s1\ns1.xrd.test\n" {
		t.Errorf("hostname: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	t.Run("interactive", func(t *testing.T) { interactiveShell(t, m, sid, "s2.xrd.test", "s2.xrd.test") })
	for _, h := range []string{"s1", "s2", "s3"} {
		if code, _, errOut := shellCLI(t, m, "api-token", sid, h, "--", "touch", "release"); code != 0 {
			t.Errorf("%s: touch release: exit %d, %s", h, code, errOut)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if d, err := m.Manager.Wait(ctx, s.ID); err != nil || d.State != store.SessionPassed {
		t.Fatalf("session: %v, %v", d, err)
	}
}

// TestShellOnHeldSession: a held session's hosts take shells (the failed
// one too); a shell still open when the session is released ends when
// the session does, saying why.
func TestShellOnHeldSession(t *testing.T) {
	endToEnd(t)
	shared := t.TempDir()
	tm := startMaster(t, holdSuite(shared))
	const token = "e2e-api-token"
	code, out, errOut := tm.cli("run", "hd", "--token", token, "--hold", "1h")
	var id int64
	if _, err := fmt.Sscanf(out, "session %d of suite hd queued", &id); code != 0 || err != nil {
		t.Fatalf("run: exit %d %v\n%s%s", code, err, out, errOut)
	}
	awaitHeld(t, tm.Store, id)
	sid := strconv.FormatInt(id, 10)
	code, out, errOut = shellCLI(t, tm.Master, token, sid, "s2", "--", "sh", "-c", `echo "on $XRDTEST_SLAVE"`)
	if code != 0 || out != "on s2.xrd.test\n" {
		t.Fatalf("held session: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// A shell open across the release.
	c, _, stderr := startShellCommand(t, tm.WebAddr().String(), token, sid, "s1", "open", "sh", "-c", "echo open; sleep 120")
	if code, out, errOut := tm.cli("hold", "release", "--token", token, sid); code != 0 {
		t.Fatalf("hold release: exit %d\n%s%s", code, out, errOut)
	}
	c.Wait()
	// It ends with the session, or before, with its cluster: the slave
	// goes away with the machines.
	why := stderr.String()
	if code := c.ProcessState.ExitCode(); code != shellFailed || !(strings.Contains(why, "session "+sid+" has ended") || strings.Contains(why, "the connection to slave s1.xrd.test dropped")) {
		t.Errorf("the shell open across the release: exit %d, stderr %q", code, stderr.String())
	}
}

// startShellCommand runs `xrdtest shell SID HOST -- COMMAND...` as its own
// process (stdin not a terminal, a minute at most) against the master
// serving webAddr, and waits at most 30 s for its stdout to say ready.
func startShellCommand(t *testing.T, webAddr, token, sid, host, ready string, command ...string) (c *exec.Cmd, stdout, stderr *syncBuffer) {
	t.Helper()
	self, _ := os.Executable()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	c = exec.CommandContext(ctx, self, append([]string{"shell", "--master", "http://" + webAddr, "--token", token, sid, host, "--"}, command...)...)
	c.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1")
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	c.Stdout, c.Stderr = stdout, stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String(), ready); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the shell's command did not print %q: stderr %q", ready, stderr.String())
		}
	}
	return c, stdout, stderr
}

// interruptShell: without a terminal, a Ctrl-C (SIGINT) to xrdtest goes
// to the remote command, whose exit code is then xrdtest's.
func interruptShell(t *testing.T, m *master.Master, sid string) {
	c, stdout, stderr := startShellCommand(t, m.WebAddr().String(), "api-token", sid, "s1", "ready",
		"bash", "-c", "trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.05; done")
	c.Process.Signal(syscall.SIGINT)
	c.Wait()
	if code := c.ProcessState.ExitCode(); code != 9 || stdout.String() != "ready\ngot-int\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 9 and the trap's line", code, stdout.String(), stderr.String())
	}
}
