package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestSystemdUnits: systemd-analyze verify finds nothing to say about the
// unit files of dist/systemd (their executables replaced by /bin/true, as
// verify wants them to exist), and every unit reloads with SIGHUP.
func TestSystemdUnits(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	units, _ := filepath.Glob("../../dist/systemd/*.service")
	if len(units) != 3 {
		t.Fatalf("units: %v", units)
	}
	dir := t.TempDir()
	var copies []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "\nExecReload=/bin/kill -HUP $MAINPID\n") {
			t.Errorf("%s: no ExecReload sending SIGHUP", u)
		}
		text := strings.NewReplacer("/usr/bin/xrdtest", "/bin/true", "/usr/lib/xrdtest/xrdtest-slave-identity", "/bin/true").Replace(string(b))
		c := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(c, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}
	out, err := exec.Command(sa, append([]string{"verify", "--man=no"}, copies...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestLogrotateSnippet: dist/logrotate/xrdtest, run by logrotate on a
// master with the original pid and log file names, rotates its log file
// and the master goes on in a new one.
func TestLogrotateSnippet(t *testing.T) {
	endToEnd(t)
	lr, err := exec.LookPath("logrotate")
	if err != nil {
		t.Skip("logrotate not installed")
	}
	dir := t.TempDir()
	logDir, runDir := filepath.Join(dir, "log"), filepath.Join(dir, "run")
	snippet, err := os.ReadFile("../../dist/logrotate/xrdtest")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("/var/log/XrdTest", logDir, "/run/XrdTest", runDir).Replace(string(snippet))
	testutil.WriteFiles(t, dir, map[string]string{
		"logrotate.conf":                   conf,
		"repo/clusters/cluster_e2e.py":     cluster3,
		"repo/test-suites/s/test_suite.py": suiteDef("s", "", "c"),
		"repo/test-suites/s/init.sh":       "#!/bin/bash\n",
		"master.conf": masterConf(freePort(t), freePort(t), "",
			"pid_file_path = run/XrdTestMaster.pid\nlog_file_path = log/XrdTestMaster.log\n"),
	})
	logFile := filepath.Join(logDir, "XrdTestMaster.log")
	mc := startDaemonCmd(t, nil, "master", "-c", filepath.Join(dir, "master.conf"))
	waitFor(t, "the master serving", func() bool { return fileHas(logFile, `msg="master serving"`) })
	out, err := exec.Command(lr, "-f", "-s", filepath.Join(dir, "logrotate.state"), filepath.Join(dir, "logrotate.conf")).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
	waitFor(t, "the new log file", func() bool { return fileHas(logFile, `msg="log file reopened (SIGHUP)"`) })
	if !fileHas(logFile+".1", `msg="master serving"`) || fileHas(logFile+".1", "SIGHUP") {
		t.Errorf("rotated file:\n%s", func() []byte { b, _ := os.ReadFile(logFile + ".1"); return b }())
	}
	if mc.exited() {
		t.Fatalf("the master exited:\n%s", mc.out.String())
	}
	if code, _ := mc.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}
