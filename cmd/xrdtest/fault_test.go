package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestFaultsInScripts: stage scripts on the netns backend set faults with
// `xrdtest fault`, barriers work across a partition, and a fault left on
// by a case is healed when the case ends; bad input is refused, naming
// what is wrong.
func TestFaultsInScripts(t *testing.T) {
	needNetns(t)
	defs := t.TempDir()
	suite := strings.Replace(strings.Replace(netnsSuite, "'isolation'", "'faults'", 1), "['names', 'kill', 'cut']", "['cut', 'after']", 1)
	ping := "busybox ping -c 1 -W 1"
	testutil.WriteFiles(t, defs, map[string]string{
		"clusters/cluster_ns.py": netnsCluster, "test-suites/faults/test_suite.py": suite,
		"test-suites/faults/suite_init.sh":  "#!/bin/bash\n",
		"test-suites/faults/tc/cut/init.sh": "#!/bin/bash\n",
		"test-suites/faults/tc/cut/run.sh": `#!/bin/bash
set -e
if [ "$(hostname)" = client ]; then
    id=$(xrdtest fault partition client,redir ds1)
    echo "set $id"
    ! ` + ping + ` ds1
    ` + ping + ` ds2
    xrdtest fault list | grep "^$id	partition client.xrd.test,redir.xrd.test ds1.xrd.test"
    ! xrdtest fault isolate nohost 2>err; grep -q "cluster cluster_ns has no host nohost" err
    ! xrdtest fault rate ds2 fast 2>err; grep -q "not a rate" err
    p=$(xrdtest fault pause ds2); xrdtest fault resume ds2 | grep -q "$p"
fi
if [ "$(hostname)" = ds1 ]; then ! ` + ping + ` client; ` + ping + ` ds2; fi
xrdtest sync barrier across-the-partition
echo "barrier passed on $(hostname)"`,
		"test-suites/faults/tc/after/init.sh": "#!/bin/bash\n",
		"test-suites/faults/tc/after/run.sh": `#!/bin/bash
set -e
if [ "$(hostname)" = client ]; then ` + ping + ` ds1; [ -z "$(xrdtest fault list)" ]; echo healed; fi`,
	})
	code, s, stderr := quickstartNetns(t, defs, t.TempDir())
	out := stageOutputs(s)
	if code != 0 || s.State != "passed" {
		for k, v := range out {
			t.Logf("%s:\n%s", k, v)
		}
		t.Fatalf("exit %d, session %s\nstderr:\n%s", code, s.State, stderr)
	}
	checkOutputs(t, out, map[string][]*regexp.Regexp{
		"cut:run client":   {regexp.MustCompile("barrier passed on client")},
		"cut:run ds1":      {regexp.MustCompile("barrier passed on ds1")},
		"after:run client": {regexp.MustCompile("healed")},
	})
}

// TestFaultScheduleNetns: a suite's ts.faults on the netns backend, run
// twice with its seed, sets the same faults in the same order, one at a
// time, each healed before the next and all by the session's end;
// `quickstart --seed` draws others.
func TestFaultScheduleNetns(t *testing.T) {
	needNetns(t)
	defs := t.TempDir()
	suite := strings.NewReplacer("'isolation'", "'chaos'", "['names', 'kill', 'cut']", "['busy']",
		"    return ts", "    ts.faults = dict(seed=7, interval='700ms', during=['run'], kinds=['isolate', 'pause', 'partition', 'loss:50'])\n    return ts").Replace(netnsSuite)
	testutil.WriteFiles(t, defs, map[string]string{
		"clusters/cluster_ns.py": netnsCluster, "test-suites/chaos/test_suite.py": suite,
		"test-suites/chaos/suite_init.sh":    "#!/bin/bash\n",
		"test-suites/chaos/tc/busy/init.sh":  "#!/bin/bash\n",
		"test-suites/chaos/tc/busy/run.sh":   "#!/bin/bash\nsleep 4\necho done on $(hostname)\n",
		"test-suites/chaos/tc/busy/final.sh": "#!/bin/bash\n",
	})
	run1 := func(extra ...string) []api.Fault {
		t.Helper()
		code, s, stderr := quickstartNetns(t, defs, t.TempDir(), extra...)
		if code != 0 || s.State != "passed" {
			t.Fatalf("exit %d, session %s\nstderr:\n%s", code, s.State, stderr)
		}
		faults := s.Faults
		var specs []string
		for i, f := range faults {
			specs = append(specs, f.Spec)
			if f.By != "the fault schedule" || f.End.IsZero() {
				t.Errorf("fault %d: %+v, want one of the schedule, healed", i, f)
			}
			if i > 0 && f.Start.Before(faults[i-1].End) {
				t.Errorf("fault %d (%s) set at %s, before fault %d was healed at %s", i, f.Spec, f.Start, i-1, faults[i-1].End)
			}
		}
		t.Logf("%v: %d faults: %s", extra, len(faults), strings.Join(specs, "; "))
		if len(faults) < 3 {
			t.Fatalf("%d faults in a 4 s run stage with a 700 ms interval, want 3 or more", len(faults))
		}
		return faults
	}
	same := func(a, b []api.Fault) bool {
		for i := range min(len(a), len(b)) {
			if a[i].Spec != b[i].Spec {
				return false
			}
		}
		return true
	}
	first, second, other := run1(), run1(), run1("--seed", "8")
	if !same(first, second) {
		t.Errorf("seed 7 drew different faults in two sessions")
	}
	if same(first, other) {
		t.Errorf("--seed 8 drew the faults of seed 7")
	}
}

// TestFaultOutsideStage: `xrdtest fault` outside a stage script says so
// and fails; nothing is asked of any master.
func TestFaultOutsideStage(t *testing.T) {
	t.Setenv("XRDTEST_SYNC_SOCKET", "")
	t.Setenv("XRDTEST_SYNC_ERROR", "")
	for _, args := range [][]string{{"fault", "isolate", "s2"}, {"fault", "heal"}, {"fault", "list"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "not inside an xrdtest stage script") {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s", args, code, stdout.String(), stderr.String())
		}
	}
}
