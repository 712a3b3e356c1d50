package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
)

// TestHypervisorDaemon: a master that starts clusters on hypervisors, and
// an `xrdtest hypervisor` process (local backend): the session runs on
// the slaves the hypervisor started with one-time tokens; without a
// hypervisor, or without room on it, the session fails saying so.
func TestHypervisorDaemon(t *testing.T) {
	endToEnd(t)
	dir := t.TempDir()
	huge := strings.ReplaceAll(strings.ReplaceAll(cluster3, "cluster_e2e", "cluster_huge"), "'1024'", "'107374182400'")
	huge = strings.ReplaceAll(strings.ReplaceAll(huge, "10.99.0.", "10.98.0."), ".xrd.test", ".huge.test")
	files := e2eRepo(map[string]string{
		"hv/test_suite.py":  suiteDef("hv", "", "c"),
		"hv/init.sh":        "#!/bin/bash\necho init on @slavename@\n",
		"hv/tc/c/run.sh":    "#!/bin/bash\necho run on @slavename@\n",
		"big/test_suite.py": strings.Replace(suiteDef("big", "", "c"), "cluster_e2e", "cluster_huge", 1),
		"big/init.sh":       "#!/bin/bash\n",
		"big/tc/c/run.sh":   "#!/bin/bash\n",
	})
	files["clusters/cluster_huge.py"] = huge
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), files)
	logs := &syncBuffer{}
	opts := e2eOptions(dir, logs)
	opts.StartClusters = true
	m := mastertest.Start(t, opts)
	run := func(suite string) *store.SessionDetail { t.Helper(); return mastertest.Run(t, m, suite, time.Minute) }

	if d := run("hv"); d.State != store.SessionFailed || !strings.Contains(d.Reason, "no hypervisor is connected") {
		t.Errorf("without a hypervisor: %s: %q", d.State, d.Reason)
	}

	defer startHypervisorProc(t, m, "local", filepath.Join(dir, "hv"), logs)()

	d := run("hv")
	if d.State != store.SessionPassed {
		t.Fatalf("on the hypervisor: %s: %q", d.State, d.Reason)
	}
	if out, _ := readOutput(m.Store, d.ID, 2, "s3.xrd.test"); out != "run on s3.xrd.test\n" {
		t.Errorf("output %q", out)
	}
	events, _ := m.Store.Events(context.Background(), d.ID)
	var evs []string
	for _, e := range events {
		evs = append(evs, e.Message)
	}
	for _, want := range []string{"s2.xrd.test: starting its slave process", "s2.xrd.test: slave connected"} {
		if !strings.Contains(strings.Join(evs, "\n"), want) {
			t.Errorf("session events lack %q:\n%s", want, strings.Join(evs, "\n"))
		}
	}
	if !strings.Contains(logs.String(), "one-time enrollment token accepted") {
		t.Errorf("the hypervisor's slaves did not enroll with one-time tokens")
	}
	// The cluster was stopped after the session: its slaves are gone.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		slaves := 0
		for _, d := range m.Registry.Daemons() {
			if d.Role == "slave" {
				slaves++
			}
		}
		if slaves == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d slaves still connected after the session", slaves)
		}
	}

	if d := run("big"); d.State != store.SessionFailed || !strings.Contains(d.Reason, "no hypervisor has room for cluster cluster_huge") || !strings.Contains(d.Reason, "hv1 has") {
		t.Errorf("too big: %s: %q", d.State, d.Reason)
	}
}

// startHypervisorProc starts `xrdtest hypervisor --backend backend` as a
// child process enrolled with m and waits until it is connected; the
// function it returns stops it (printing the master's and its log when the
// test failed).
func startHypervisorProc(t *testing.T, m *master.Master, backend, stateDir string, masterLog *syncBuffer) (stop func()) {
	t.Helper()
	hvLog := &syncBuffer{}
	hv := startHypervisorCmd(t, m, backend, stateDir, hvLog)
	return func() {
		hv.Process.Signal(os.Interrupt)
		hv.Wait()
		if t.Failed() {
			t.Logf("master log:\n%s\nhypervisor log:\n%s", masterLog.String(), hvLog.String())
		}
	}
}

// startHypervisorCmd starts `xrdtest hypervisor --backend backend` named
// hv1, logging to hvLog, and waits until m has it connected. Ending it is
// the caller's.
func startHypervisorCmd(t *testing.T, m *master.Master, backend, stateDir string, hvLog *syncBuffer) *exec.Cmd {
	t.Helper()
	self, _ := os.Executable()
	hv := exec.Command(self, "hypervisor", "-c", "none", "--backend", backend, "--master", m.DaemonAddr().String(),
		"--name", "hv1", "--ca-fingerprint", m.CA.Fingerprint().String(), "--state-dir", stateDir)
	hv.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1", "XRDTEST_TOKEN="+e2eToken)
	hv.Stdout, hv.Stderr = hvLog, hvLog
	if err := hv.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !slices.ContainsFunc(m.Registry.Daemons(), func(d daemons.DaemonInfo) bool {
		return d.Role == api.RoleHypervisor && d.Name == "hv1"
	}); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			hv.Process.Kill()
			hv.Wait()
			t.Fatalf("the hypervisor did not connect:\n%s", hvLog.String())
		}
	}
	return hv
}
