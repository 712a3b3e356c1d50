package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDaemons runs `xrdtest master` from an original-style INI file and
// three `xrdtest slave` processes, then drives them with run, status and
// logs, as a user would.
func TestDaemons(t *testing.T) {
	endToEnd(t)
	dir := t.TempDir()
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), e2eRepo(map[string]string{
		"hello/test_suite.py":    suiteDef("hello", "", "greet"),
		"hello/init.sh":          "#!/bin/bash\necho init on @slavename@\n",
		"hello/tc/greet/run.sh":  "#!/bin/bash\necho \"hello from @slavename@, token: [$XRDTEST_TOKEN]\"\n",
		"hello/tc/greet/init.sh": "#!/bin/bash\n",
	}))
	daemonPort, webPort := freePort(t), freePort(t)
	conf := fmt.Sprintf(`# an original XrdTestMaster.conf, plus our keys
[general]
test-repos = local
state_dir = %s/state

[test-repo-local]
type = localfs
local_path = repo

[server]
ip = 127.0.0.1
port = %d
connection_passwd = daemon-secret-4242

[webserver]
port = %d
suite_run_pass = web-secret-4242

[session]
# physical machines: the slaves connect by themselves
start_clusters = 0

[scheduler]
# only the sessions the test starts
enabled = 0

[daemon]
log_level = DEBUG
`, dir, daemonPort, webPort)
	testutil.WriteFiles(t, dir, map[string]string{"master.conf": conf})

	self, _ := os.Executable()
	var masterOut, masterErr syncBuffer
	masterCmd := exec.Command(self, "master", "-c", filepath.Join(dir, "master.conf"))
	masterCmd.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1")
	masterCmd.Stdout, masterCmd.Stderr = &masterOut, &masterErr
	if err := masterCmd.Start(); err != nil {
		t.Fatal(err)
	}
	var slaves []*exec.Cmd
	slaveLogs := map[string]*syncBuffer{}
	defer func() {
		for _, c := range append(slaves, masterCmd) {
			c.Process.Signal(os.Interrupt)
			c.Wait()
		}
		if t.Failed() {
			t.Logf("master stdout:\n%s\nmaster log:\n%s", masterOut.String(), masterErr.String())
			for n, l := range slaveLogs {
				t.Logf("slave %s log:\n%s", n, l.String())
			}
		}
		// No secret in any log.
		all := masterOut.String() + masterErr.String()
		for _, l := range slaveLogs {
			all += l.String()
		}
		for _, secret := range []string{"daemon-secret-4242", "web-secret-4242"} {
			if strings.Contains(all, secret) {
				t.Errorf("secret %s appears in a log", secret)
			}
		}
	}()
	fpRe := regexp.MustCompile(`CA fingerprint[^:]*: (sha256:[0-9a-f]{64})`)
	var fp string
	for deadline := time.Now().Add(20 * time.Second); fp == ""; time.Sleep(50 * time.Millisecond) {
		if m := fpRe.FindStringSubmatch(masterOut.String()); m != nil {
			fp = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the master printed no fingerprint")
		}
	}
	for _, h := range []string{"s1", "s2", "s3"} {
		name := h + ".xrd.test"
		c := exec.Command(self, "slave", "-c", "none", "--master", fmt.Sprintf("127.0.0.1:%d", daemonPort), "--name", name,
			"--ca-fingerprint", fp, "--state-dir", filepath.Join(dir, h, "state"), "--work-dir", filepath.Join(dir, h, "work"),
			"--functions-path", filepath.Join(dir, h, "functions.sh"))
		c.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1", "XRDTEST_TOKEN=daemon-secret-4242")
		slaveLogs[name] = &syncBuffer{}
		c.Stdout, c.Stderr = slaveLogs[name], slaveLogs[name]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		slaves = append(slaves, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	api := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"run", "--master", api, "--token", "web-secret-4242", "--wait", "hello"}, &out, &errOut); code != 0 {
		t.Fatalf("run --wait: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "PASSED") {
		t.Errorf("run --wait printed:\n%s", out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"status", "--master", api}, &out, &errOut); code != 0 || strings.Count(out.String(), "slave") < 3 {
		t.Errorf("status: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"logs", "--master", api, "--stage", "greet:run", "1"}, &out, &errOut); code != 0 {
		t.Errorf("logs: exit %d: %s", code, errOut.String())
	}
	for _, h := range []string{"s1", "s2", "s3"} {
		if !strings.Contains(out.String(), "hello from "+h+".xrd.test, token: []") {
			t.Errorf("logs lack %s's greeting (or a script saw the token):\n%s", h, out.String())
		}
	}
	// Actions need the token.
	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"run", "--master", api, "--token", "wrong", "hello"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "valid API token") {
		t.Errorf("run with a wrong token: exit %d: %s", code, errOut.String())
	}
}
