package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

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
	t.Setenv("XRDTEST_TEST_MAIN", "1")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"quickstart", "--defs", defs, "--json", "--backend", "netns", "--state-dir", t.TempDir()}, &stdout, &stderr)
	var doc qsDocument
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || len(doc.Sessions) != 1 {
		t.Fatalf("exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout.String(), stderr.String())
	}
	out := map[string]string{}
	for _, st := range doc.Sessions[0].Stages {
		for _, r := range st.Results {
			out[st.Name+" "+r.Slave] = r.Output
		}
	}
	if code != 0 || doc.Sessions[0].State != "passed" {
		for k, v := range out {
			t.Logf("%s:\n%s", k, v)
		}
		t.Fatalf("exit %d, session %s\nstderr:\n%s", code, doc.Sessions[0].State, stderr.String())
	}
	for key, want := range map[string]string{
		"cut:run client.xrd.test":   "barrier passed on client",
		"cut:run ds1.xrd.test":      "barrier passed on ds1",
		"after:run client.xrd.test": "healed",
	} {
		if !strings.Contains(out[key], want) {
			t.Errorf("%s: no %q in:\n%s", key, want, out[key])
		}
	}
}
