package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor/local"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/quickstart"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestMain lets the test binary act as xrdtest itself, so the local
// backend can start real slave processes without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("XRDTEST_TEST_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type syncBuffer = testutil.SyncBuffer

// endToEnd skips t in -short mode: it runs a master and real slave
// processes.
func endToEnd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end")
	}
}

const e2eToken = "e2e-secret-token-0123456789"

// testMaster is a master with a local backend whose slaves are real
// processes, on loopback.
type testMaster struct {
	*master.Master
	backend *local.Backend
	logs    *syncBuffer
	dir     string
}

// cluster3 is a three-host cluster definition.
var cluster3 = testutil.ClusterDef("cluster_e2e", "10.99.0", "none.img", "'1024'", "s1.xrd.test", "s2.xrd.test", "s3.xrd.test")

// cluster3Netns is cluster3 with the RAM the netns backend needs: 64 MiB
// a host (ramSize is in KiB).
var cluster3Netns = testutil.ClusterDef("cluster_e2e", "10.99.0", "none.img", "'65536'", "s1.xrd.test", "s2.xrd.test", "s3.xrd.test")

// e2eRepo is a definitions repository of the end-to-end tests: cluster3
// and the suites' files (paths below test-suites/).
func e2eRepo(suites map[string]string) map[string]string {
	files := map[string]string{"clusters/cluster_e2e.py": cluster3}
	for k, v := range suites {
		files["test-suites/"+k] = v
	}
	return files
}

func startMaster(t *testing.T, suites map[string]string) *testMaster {
	t.Helper()
	t.Setenv("XRDTEST_TEST_MAIN", "1") // inherited by the slave processes
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	testutil.WriteFiles(t, repo, e2eRepo(suites))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := debugLog(logs)
	backend := &local.Backend{Binary: self, Dir: filepath.Join(dir, "machines"), Token: e2eToken, Log: log,
		FunctionsPath: filepath.Join(dir, "functions.sh"), StopGrace: 5 * time.Second}
	m := mastertest.Open(t, master.Options{
		StateDir: filepath.Join(dir, "master"), Token: e2eToken, APIToken: "e2e-api-token", Repos: []definition.Repo{{Root: repo}},
		Settings: session.Settings{StageTimeout: time.Minute, KillGrace: time.Second, SlaveWait: 30 * time.Second, WebPort: 8080, WebProto: "http"},
		Clusters: backend, Log: log, Version: "e2e", Heartbeat: 500 * time.Millisecond, HeartbeatTimeout: 5 * time.Second,
	})
	if errs := m.Definitions().Diagnostics.Errors(); len(errs) > 0 {
		t.Fatalf("definitions: %v", errs)
	}
	backend.MasterAddr = m.DaemonAddr().String()
	backend.Fingerprint = m.CA.Fingerprint()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Serve(ctx); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("master log:\n%s", logs.String())
			for _, h := range []string{"s1", "s2", "s3"} {
				b, _ := os.ReadFile(filepath.Join(dir, "machines", "cluster_e2e", h+".xrd.test", "slave.log"))
				t.Logf("slave %s log:\n%s", h, b)
			}
		}
	})
	return &testMaster{Master: m, backend: backend, logs: logs, dir: dir}
}

// runSuite runs a session of suite and returns it with its stages.
func (tm *testMaster) runSuite(t *testing.T, suite string) *store.SessionDetail {
	t.Helper()
	return mastertest.Run(t, tm.Master, suite, 2*time.Minute)
}

func (tm *testMaster) output(t *testing.T, d *store.SessionDetail, stage, slave string) string {
	t.Helper()
	for _, st := range d.Stages {
		if st.Name == stage {
			out, err := readOutput(tm.Store, d.ID, st.Index, slave)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("no stage %s", stage)
	return ""
}

// result is the result of slave in stage of d, nil when it has none; d
// may come from the store or the API (the same types).
func result(d *store.SessionDetail, stage, slave string) *store.Result {
	for _, st := range d.Stages {
		if st.Name == stage {
			for _, r := range st.Results {
				if r.Slave == slave {
					return r
				}
			}
		}
	}
	return nil
}

func suiteDef(name, extra string, cases ...string) string {
	return "def getTestSuite():\n    ts = TestSuite('" + name + "')\n    ts.clusters = ['cluster_e2e']\n" +
		"    ts.tests = ['" + strings.Join(cases, "', '") + "']\n    ts.schedule = dict(hour='3')\n" +
		"    ts.initialize = 'file://init.sh'\n" + extra + "    return ts\n"
}

// oneCaseSuite is the files of suite name (paths below test-suites/): one
// case, c, whose run stage is the script run, and a suite init that does
// nothing.
func oneCaseSuite(name, run string) map[string]string {
	return map[string]string{
		name + "/test_suite.py": suiteDef(name, "", "c"),
		name + "/init.sh":       "#!/bin/bash\n",
		name + "/tc/c/run.sh":   run,
	}
}

// TestLockStep: stages with deliberately slow members still run in
// lock-step, proven from the times the master recorded.
func TestLockStep(t *testing.T) {
	endToEnd(t)
	slow := "#!/bin/bash\ncase @slavename@ in s1.xrd.test) sleep 0.6;; s2.xrd.test) sleep 0.3;; esac\necho done on @slavename@\n"
	tm := startMaster(t, map[string]string{
		"ls/test_suite.py":     suiteDef("ls", "    ts.finalize = 'file://fin.sh'\n", "c1", "c2"),
		"ls/init.sh":           slow,
		"ls/fin.sh":            slow,
		"ls/tc/c1/init.sh":     slow,
		"ls/tc/c1/run.sh":      slow,
		"ls/tc/c1/finalize.sh": slow,
		"ls/tc/c2/run.sh":      "#!/bin/bash\ncase @slavename@ in s3.xrd.test) sleep 0.5;; esac\n",
		"ls/tc/c2/finalize.sh": slow,
	})
	d := tm.runSuite(t, "ls")
	if d.State != store.SessionPassed {
		t.Fatalf("session %s: %s", d.State, d.Reason)
	}
	names := []string{}
	for i, st := range d.Stages {
		names = append(names, st.Name)
		if len(st.Results) != 3 {
			t.Fatalf("stage %s has %d results", st.Name, len(st.Results))
		}
		if i == 0 {
			continue
		}
		var lastEnd, firstStart time.Time
		for _, r := range d.Stages[i-1].Results {
			if r.End.After(lastEnd) {
				lastEnd = r.End
			}
		}
		for _, r := range st.Results {
			if firstStart.IsZero() || r.Start.Before(firstStart) {
				firstStart = r.Start
			}
		}
		if firstStart.Before(lastEnd) {
			t.Errorf("stage %s started at %s before %s ended at %s", st.Name, firstStart.Format("15:04:05.000"), d.Stages[i-1].Name, lastEnd.Format("15:04:05.000"))
		}
	}
	want := "suite_init c1:init c1:run c1:finalize c2:init c2:run c2:finalize suite_finalize"
	if strings.Join(names, " ") != want {
		t.Errorf("stages %v, want %s", names, want)
	}
	if r := result(d, "c2:init", "s1.xrd.test"); r.Status != store.StatusPassed || r.Message == "" {
		t.Errorf("absent c2:init: %+v, want passed with a note", r)
	}
	if out := tm.output(t, d, "c1:run", "s2.xrd.test"); out != "done on s2.xrd.test\n" {
		t.Errorf("output %q", out)
	}
}

// TestFailureRulesEndToEnd runs the failure rules with real slaves.
func TestFailureRulesEndToEnd(t *testing.T) {
	endToEnd(t)
	ok := "#!/bin/bash\necho ok\n"
	tm := startMaster(t, map[string]string{
		// a: init fails on s2 -> a:run skipped, a:finalize runs; b: run fails on s3; c passes.
		"rules/test_suite.py":    suiteDef("rules", "    ts.finalize = 'file://fin.sh'\n", "a", "b", "c"),
		"rules/init.sh":          ok,
		"rules/fin.sh":           ok,
		"rules/tc/a/init.sh":     "#!/bin/bash\n[ @slavename@ != s2.xrd.test ]\n",
		"rules/tc/a/run.sh":      ok,
		"rules/tc/a/finalize.sh": ok,
		"rules/tc/b/init.sh":     ok,
		"rules/tc/b/run.sh":      "#!/bin/bash\n[ @slavename@ != s3.xrd.test ] || exit 7\n",
		"rules/tc/b/finalize.sh": ok,
		"rules/tc/c/run.sh":      ok,
		// suite init fails on s1 -> every case skipped, suite finalize runs.
		"sinit/test_suite.py": suiteDef("sinit", "    ts.finalize = 'file://fin.sh'\n", "a"),
		"sinit/init.sh":       "#!/bin/bash\necho broken >&2\n[ @slavename@ != s1.xrd.test ]\n",
		"sinit/fin.sh":        ok,
		"sinit/tc/a/run.sh":   ok,
	})
	d := tm.runSuite(t, "rules")
	if d.State != store.SessionFailed {
		t.Errorf("rules: state %s", d.State)
	}
	checks := []struct {
		stage, slave string
		want         store.Status
		exit         int
	}{
		{"a:init", "s2.xrd.test", store.StatusFailed, 1},
		{"a:init", "s1.xrd.test", store.StatusPassed, 0},
		{"a:run", "s1.xrd.test", store.StatusSkipped, -1},
		{"a:finalize", "s2.xrd.test", store.StatusPassed, 0},
		{"b:run", "s3.xrd.test", store.StatusFailed, 7},
		{"b:finalize", "s3.xrd.test", store.StatusPassed, 0},
		{"c:run", "s1.xrd.test", store.StatusPassed, 0},
		{"suite_finalize", "s3.xrd.test", store.StatusPassed, 0},
	}
	for _, c := range checks {
		r := result(d, c.stage, c.slave)
		if r == nil || r.Status != c.want || (c.exit >= 0 && (r.ExitCode == nil || *r.ExitCode != c.exit)) {
			t.Errorf("%s on %s: %+v, want %s exit %d", c.stage, c.slave, r, c.want, c.exit)
		}
	}
	if !strings.Contains(d.Reason, "a:init failed on s2.xrd.test (exit 1)") || !strings.Contains(d.Reason, "b:run failed on s3.xrd.test (exit 7)") {
		t.Errorf("reason %q", d.Reason)
	}

	d = tm.runSuite(t, "sinit")
	if d.State != store.SessionFailed {
		t.Errorf("sinit: state %s", d.State)
	}
	for _, c := range []struct {
		stage string
		want  store.Status
	}{{"suite_init", store.StatusFailed}, {"a:init", store.StatusSkipped}, {"a:run", store.StatusSkipped}, {"a:finalize", store.StatusSkipped}, {"suite_finalize", store.StatusPassed}} {
		if r := result(d, c.stage, "s1.xrd.test"); r == nil || r.Status != c.want {
			t.Errorf("sinit %s on s1: %+v, want %s", c.stage, r, c.want)
		}
	}
	if out := tm.output(t, d, "suite_init", "s1.xrd.test"); out != "broken\n" {
		t.Errorf("stderr not captured: %q", out)
	}
}

// TestScriptsEnvironment: tags, functions.sh, stderr interleaving, stdin,
// the work dir shared by a session's stages, the host name.
func TestScriptsEnvironment(t *testing.T) {
	endToEnd(t)
	tm := startMaster(t, map[string]string{
		"env/test_suite.py": suiteDef("env", "", "t"),
		"env/init.sh":       "#!/bin/bash\necho '@slavename@ @port@ @proto@ @unknown@'\necho kept > relative.txt\n",
		"env/tc/t/init.sh": `#!/bin/bash
source "$XRDTEST_FUNCTIONS"
echo out1; echo err1 >&2; echo out2
log hello
run true
stamp echo stamped
assert_fail false
read x && echo "stdin was not /dev/null"
cat relative.txt
echo "host=$(hostname)"
`,
		"env/tc/t/run.sh": "#!/bin/bash\nsource \"$XRDTEST_FUNCTIONS\"\nrun false\necho not reached\n",
	})
	d := tm.runSuite(t, "env")
	if out := tm.output(t, d, "suite_init", "s2.xrd.test"); out != "s2.xrd.test 8080 http @unknown@\n" {
		t.Errorf("tags: %q", out)
	}
	out := tm.output(t, d, "t:init", "s1.xrd.test")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 7 || lines[0] != "out1" || lines[1] != "err1" || lines[2] != "out2" {
		t.Fatalf("stdout/stderr not interleaved in order: %q", out)
	}
	if !strings.HasPrefix(lines[3], "[20") || !strings.HasSuffix(lines[3], "] hello") {
		t.Errorf("log: %q", lines[3])
	}
	if !strings.HasSuffix(lines[4], "\tstamped") || lines[5] != "kept" {
		t.Errorf("stamp / work dir: %q", out)
	}
	if strings.Contains(out, "stdin was not") {
		t.Errorf("stdin is not /dev/null")
	}
	if os.Geteuid() == 0 {
		if lines[6] != "host=s1" {
			t.Errorf("hostname in the slave's UTS namespace: %q, want host=s1", lines[6])
		}
	} else if os.Getenv("CI") == "true" {
		t.Errorf("CI runs as root: the UTS namespace check cannot be skipped")
	}
	r := result(d, "t:run", "s3.xrd.test")
	if r.Status != store.StatusFailed || *r.ExitCode != 1 {
		t.Errorf("run false: %+v", r)
	}
	if out := tm.output(t, d, "t:run", "s3.xrd.test"); !strings.HasPrefix(out, "[false]") || strings.Contains(out, "not reached") {
		t.Errorf("run failure output: %q", out)
	}
}

// TestStageTimeoutKillsSetsidChildren: a stage timeout kills the whole
// process tree, including a child that left the process group.
func TestStageTimeoutKillsSetsidChildren(t *testing.T) {
	endToEnd(t)
	tm := startMaster(t, map[string]string{
		"to/test_suite.py": suiteDef("to", "    ts.stage_timeout = 2\n", "t"),
		"to/init.sh":       "#!/bin/bash\n",
		"to/tc/t/run.sh":   "#!/bin/bash\nsetsid sleep 600 &\necho $! > escaped.pid\necho started\nsleep 600\n",
	})
	start := time.Now()
	d := tm.runSuite(t, "to")
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("session took %s", took)
	}
	for _, s := range []string{"s1.xrd.test", "s2.xrd.test", "s3.xrd.test"} {
		r := result(d, "t:run", s)
		if r == nil || r.Status != store.StatusTimeout {
			t.Errorf("%s: %+v, want timeout", s, r)
		}
		pidFile := filepath.Join(tm.dir, "machines", "cluster_e2e", s, "work", "session-"+strconv.FormatInt(d.ID, 10), "escaped.pid")
		b, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid <= 0 {
			t.Fatalf("bad pid %q", b)
		}
		if err := syscall.Kill(pid, 0); err == nil {
			stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if !strings.Contains(string(stat), ") Z ") {
				t.Errorf("%s: the setsid child %d survived the timeout", s, pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if d.State != store.SessionFailed {
		t.Errorf("state %s", d.State)
	}
}

// TestLogsCollected: the suite's logs files are fetched from every slave
// after the session.
func TestLogsCollected(t *testing.T) {
	endToEnd(t)
	logDir := t.TempDir()
	tm := startMaster(t, map[string]string{
		"lg/test_suite.py": suiteDef("lg", "    ts.logs = ['"+logDir+"/@slavename@.log', '"+logDir+"/missing.log']\n", "t"),
		"lg/init.sh":       "#!/bin/bash\necho 'service log of @slavename@' > " + logDir + "/@slavename@.log\n",
		"lg/tc/t/run.sh":   "#!/bin/bash\n",
	})
	d := tm.runSuite(t, "lg")
	if d.State != store.SessionPassed {
		t.Fatalf("state %s: %s", d.State, d.Reason)
	}
	files, err := tm.Store.Logs(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range files {
		got[f.Slave+" "+f.Path] = true
		rc, err := tm.Store.OpenLog(d.ID, f.Slave, f.Path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if want := "service log of " + f.Slave + "\n"; string(b) != want {
			t.Errorf("%s %s: %q, want %q", f.Slave, f.Path, b, want)
		}
	}
	for _, s := range []string{"s1.xrd.test", "s2.xrd.test", "s3.xrd.test"} {
		if !got[s+" "+logDir+"/"+s+".log"] {
			t.Errorf("log of %s not collected: %v", s, files)
		}
	}
	events, _ := tm.Store.Events(context.Background(), d.ID)
	found := false
	for _, e := range events {
		found = found || strings.Contains(e.Message, "missing.log")
	}
	if !found {
		t.Errorf("the missing log file is not reported in the session's events: %+v", events)
	}
}

// TestQuickstartJSON runs the quickstart command on the examples and
// checks its one JSON document.
func TestQuickstartJSON(t *testing.T) {
	endToEnd(t)
	t.Setenv("XRDTEST_TEST_MAIN", "1")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"quickstart", "--defs", "../../examples", "--suite", "lockstep", "--json", "--state-dir", t.TempDir()}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var doc struct {
		Sessions []struct {
			ID     int64  `json:"id"`
			Suite  string `json:"suite"`
			State  string `json:"state"`
			Stages []struct {
				Name    string `json:"name"`
				Results []struct {
					Slave    string `json:"slave"`
					Status   string `json:"status"`
					ExitCode *int   `json:"exit_code"`
					Start    string `json:"start"`
					End      string `json:"end"`
					Output   string `json:"output"`
				} `json:"results"`
			} `json:"stages"`
			Faults []struct {
				ID    string   `json:"id"`
				Kind  string   `json:"kind"`
				Spec  string   `json:"spec"`
				Hosts []string `json:"hosts"`
				By    string   `json:"by"`
				Start string   `json:"start"`
				End   string   `json:"end"`
			} `json:"faults"`
		} `json:"sessions"`
	}
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not the documented JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("more than one JSON document")
	}
	if len(doc.Sessions) != 1 || doc.Sessions[0].Suite != "lockstep" || doc.Sessions[0].State != "passed" || doc.Sessions[0].Faults == nil || len(doc.Sessions[0].Faults) != 0 {
		t.Fatalf("sessions: %+v", doc.Sessions)
	}
	var names []string
	for _, st := range doc.Sessions[0].Stages {
		names = append(names, st.Name)
		if len(st.Results) != 4 {
			t.Errorf("%s: %d results", st.Name, len(st.Results))
		}
		for _, r := range st.Results {
			for _, ts := range []string{r.Start, r.End} {
				if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.Contains(ts, ".") {
					t.Errorf("%s %s: time %q is not RFC 3339 with sub-seconds", st.Name, r.Slave, ts)
				}
			}
			if strings.Contains(r.Output, "#!/bin/bash") {
				t.Errorf("a script body leaked into the output of %s", st.Name)
			}
		}
	}
	if want := "suite_init handoff:init handoff:run handoff:finalize all_ran:init all_ran:run all_ran:finalize suite_finalize"; strings.Join(names, " ") != want {
		t.Errorf("stages %v", names)
	}
	if out := doc.Sessions[0].Stages[2].Results[3].Output; !strings.Contains(out, "read: payload written by ds1.xrd.test") {
		t.Errorf("client's handoff:run output: %q", out)
	}
}

// TestQuickstartKeepServesPages: `quickstart --keep` leaves the master
// serving the web pages (public, to look at what ran) and its scripts,
// with a relative --defs, until it is stopped.
func TestQuickstartKeepServesPages(t *testing.T) {
	endToEnd(t)
	t.Setenv("XRDTEST_TEST_MAIN", "1")
	var stdout, stderr testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"quickstart", "--defs", "../../examples", "--suite", "lockstep", "--keep", "--state-dir", t.TempDir()}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d\nstderr:\n%s", code, stderr.String())
		}
	}()
	re := regexp.MustCompile(`master running: web pages and API (http://[0-9.:]+) `)
	var base string
	for deadline := time.Now().Add(60 * time.Second); base == ""; time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 'master running' line:\n%s", stderr.String())
		}
	}
	for path, want := range map[string]string{"/": "Dashboard", "/history": "lockstep", "/downloadScript/clusters/cluster_example.py": "getCluster"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, lacks %q", path, resp.StatusCode, want)
		}
	}
}

// TestQuickstartSummary: quickstart runs the suites given with --suite in
// that order, and its summary of a failed session ends each failed stage
// with the last line its script wrote on the slave it failed on.
func TestQuickstartSummary(t *testing.T) {
	endToEnd(t)
	t.Setenv("XRDTEST_TEST_MAIN", "1")
	defs := t.TempDir()
	testutil.WriteFiles(t, defs, e2eRepo(map[string]string{
		"b/test_suite.py": suiteDef("b", "", "t"), "b/init.sh": "#!/bin/bash\n", "b/tc/t/init.sh": "#!/bin/bash\n",
		"b/tc/t/run.sh":   "#!/bin/bash\necho working\n[ @slavename@ != s2.xrd.test ] || { echo 'FAIL: s2 saw the \x1b[31mreason'; exit 3; }\n",
		"a/test_suite.py": suiteDef("a", "", "t"), "a/init.sh": "#!/bin/bash\n", "a/tc/t/init.sh": "#!/bin/bash\n", "a/tc/t/run.sh": "#!/bin/bash\n",
	}))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"quickstart", "--defs", defs, "--backend", "local", "--suite", "b", "--suite", "a",
		"--state-dir", t.TempDir()}, &stdout, &stderr)
	out := stdout.String()
	if code != 1 {
		t.Errorf("exit %d, want 1 (suite b failed)\n%s\n%s", code, out, stderr.String())
	}
	if b, a := strings.Index(out, "running suite b as session 1"), strings.Index(out, "running suite a as session 2"); b < 0 || a < b {
		t.Errorf("suites not run in the order given:\n%s", out)
	}
	if !strings.Contains(out, "  t:run on s2.xrd.test: FAIL: s2 saw the \x1b[31mreason\n") { // shown, not obeyed, on terminals only
		t.Errorf("no failure line for s2:\n%s", out)
	}
	if strings.Count(out, ": FAIL: ") != 1 {
		t.Errorf("a failure line for a stage that passed:\n%s", out)
	}
}

// The quickstart's JSON document, as the tests read it.
type (
	qsDocument = quickstart.Document
	qsSession  = quickstart.Session
	qsStage    = quickstart.Stage
	qsResult   = quickstart.Result
)

// quickstartNetns runs `xrdtest quickstart --json --backend netns` in this
// process on the definitions in defs, its state in state, with more
// arguments, and returns its exit status, its session and its stderr; the
// test fails unless it printed a document of one session.
func quickstartNetns(t *testing.T, defs, state string, more ...string) (code int, s qsSession, stderr string) {
	t.Helper()
	t.Setenv("XRDTEST_TEST_MAIN", "1")
	var stdout, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"quickstart", "--defs", defs, "--json", "--backend", "netns", "--state-dir", state}, more...), &stdout, &errOut)
	var doc qsDocument
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || len(doc.Sessions) != 1 {
		t.Fatalf("exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout.String(), errOut.String())
	}
	return code, doc.Sessions[0], errOut.String()
}

// stageOutputs are the outputs of a quickstart session's results by "stage
// host", the host's short name (no .xrd.test).
func stageOutputs(s qsSession) map[string]string {
	out := map[string]string{}
	for _, st := range s.Stages {
		for _, r := range st.Results {
			out[st.Name+" "+strings.TrimSuffix(r.Slave, ".xrd.test")] = r.Output
		}
	}
	return out
}

// checkOutputs fails the test for each pattern that the output of its
// "stage host" (stageOutputs) does not match: what a suite's checks must
// say they saw.
func checkOutputs(t *testing.T, outputs map[string]string, want map[string][]*regexp.Regexp) {
	t.Helper()
	for key, res := range want {
		for _, re := range res {
			if !re.MatchString(outputs[key]) {
				t.Errorf("%s: no %q in:\n%s", key, re, outputs[key])
			}
		}
	}
}

// readOutput is the whole stored output of a slave's stage.
func readOutput(st store.Store, session int64, stage int, slave string) (string, error) {
	return quickstart.ReadOutput(st, session, stage, slave)
}
