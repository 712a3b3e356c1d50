package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/store"
)

// TestCasesCLI: a case that fails on every other run is flaky with a pass
// rate of 50 %, its failures, which differ in pids and times only, share
// one fingerprint whose count grows; `xrdtest cases` shows it as JSON and
// as text.
func TestCasesCLI(t *testing.T) {
	endToEnd(t)
	counter := filepath.Join(t.TempDir(), "count")
	tm := startMaster(t, map[string]string{
		"fl/test_suite.py": suiteDef("fl", "", "c", "steady"),
		"fl/init.sh":       "#!/bin/bash\n",
		// s1 fails every other run, printing its pid, the time and its
		// name: noise the fingerprint must ignore.
		"fl/tc/c/run.sh": "#!/bin/bash\nif [ @slavename@ = s1.xrd.test ]; then\n" +
			"  n=$(( $(cat " + counter + " 2>/dev/null || echo 0) + 1 )); echo $n > " + counter + "\n" +
			"  if [ $((n % 2)) = 0 ]; then echo \"worker $$ on @slavename@ gave up at $(date +%T.%N)\"; exit 1; fi\nfi\necho ok\n",
		"fl/tc/steady/run.sh": "#!/bin/bash\necho fine\n",
	})
	cases := func() *api.CasesView {
		t.Helper()
		code, out, errOut := tm.cli("cases", "--json", "fl")
		if code != 0 {
			t.Fatalf("cases --json: exit %d: %s", code, errOut)
		}
		var v api.CasesView
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return &v
	}
	var prints []int
	for i := range 4 {
		d := tm.runSuite(t, "fl")
		if want := map[bool]store.SessionState{false: store.SessionPassed, true: store.SessionFailed}[i%2 == 1]; d.State != want {
			t.Fatalf("session %d: %s, want %s (%s)", i, d.State, want, d.Reason)
		}
		if i%2 == 1 {
			c := cases().Cases[0]
			if len(c.Fingerprints) == 1 {
				prints = append(prints, c.Fingerprints[0].Count)
			}
		}
	}
	v := cases()
	if len(v.Cases) != 2 || v.Cases[0].Name != "c" || v.Cases[1].Name != "steady" {
		t.Fatalf("cases: %+v", v.Cases)
	}
	c, steady := v.Cases[0], v.Cases[1]
	if c.Runs != 4 || c.Failures != 2 || c.PassRate == nil || *c.PassRate != 0.5 || !c.Flaky || len(c.Trend) != 4 {
		t.Errorf("case c: %+v", c)
	}
	if steady.Runs != 4 || steady.Failures != 0 || steady.Flaky || len(steady.Fingerprints) != 0 {
		t.Errorf("case steady: %+v", steady)
	}
	checkFingerprints(t, c, prints)
	code, out, errOut := tm.cli("cases", "fl")
	if code != 0 || !strings.Contains(out, "c ") || !strings.Contains(out, "flaky") || !strings.Contains(out, "50%") || !strings.Contains(out, "x+x+") {
		t.Errorf("cases fl: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = tm.cli("cases", "fl", "c")
	if code != 0 || !strings.Contains(out, "flaky: passed and failed on revision") || !strings.Contains(out, "s1.xrd.test") ||
		!strings.Contains(out, "recent failures") || !strings.Contains(out, "2 failed") ||
		!strings.Contains(out, "worker N on <host> gave up at <time>") ||
		!strings.Contains(out, "failing since session 4") || !strings.Contains(out, "last passed in session 3") {
		t.Errorf("cases fl c: exit %d\n%s%s", code, out, errOut)
	}
	tm.checkRefusals(t, []cliRefusal{
		{[]string{"cases", "nope"}, 1, `unknown suite "nope"`},
		{[]string{"cases", "fl", "nope"}, 1, `suite fl has no test case "nope"`},
		{[]string{"cases"}, 2, "usage: xrdtest cases"},
	})
}

// checkFingerprints: the failures of c share one fingerprint, seen on
// s1 only, whose count grew with each failure.
func checkFingerprints(t *testing.T, c api.CaseStats, prints []int) {
	t.Helper()
	if len(c.Fingerprints) != 1 || c.Fingerprints[0].Count != 2 || c.Fingerprints[0].Sessions != 2 ||
		len(prints) != 2 || prints[0] != 1 || prints[1] != 2 ||
		strings.Join(c.Fingerprints[0].Hosts, ",") != "s1.xrd.test" ||
		c.Fingerprints[0].Text != "c:run: exit 1\nworker N on <host> gave up at <time>" {
		t.Errorf("fingerprints: %+v (counts as they grew: %v)", c.Fingerprints, prints)
	}
}

// TestRetriesCLI: `xrdtest run --retries 1` runs a case that failed once
// again; the session passes, both attempts are kept, and the case counts
// as flaky, passed on a retry.
func TestRetriesCLI(t *testing.T) {
	endToEnd(t)
	marker := filepath.Join(t.TempDir(), "failed-once")
	tm := startMaster(t, oneCaseSuite("rt", "#!/bin/bash\nif [ @slavename@ = s2.xrd.test ] && [ ! -e "+marker+" ]; then touch "+marker+
		"; echo 'first attempt fails'; exit 1; fi\necho ok\n"))
	code, out, errOut := tm.cli("run", "--token", "e2e-api-token", "--wait", "--retries", "1", "rt")
	if code != 0 || !strings.Contains(out, "c:run#2") {
		t.Fatalf("run --retries 1: exit %d\n%s%s", code, out, errOut)
	}
	ss, _, err := tm.Store.Sessions(context.Background(), store.Filter{Suite: "rt"})
	if err != nil || len(ss) != 1 || ss[0].State != store.SessionPassed || !strings.Contains(ss[0].Reason, "c passed on attempt 2, flaky") {
		t.Fatalf("sessions %+v (%v)", ss, err)
	}
	d := tm.runSuite(t, "rt") // without retries: passes at once now
	if d.State != store.SessionPassed || len(d.Stages) != 5 {
		t.Errorf("second session: %s, %d stages", d.State, len(d.Stages))
	}
	code, out, errOut = tm.cli("cases", "--json", "rt")
	var v api.CasesView
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || len(v.Cases) != 1 {
		t.Fatalf("cases: exit %d\n%s%s", code, out, errOut)
	}
	if c := v.Cases[0]; !c.Flaky || c.PassedOnRetry != 1 || c.Runs != 2 || c.Failures != 1 {
		t.Errorf("case c: %+v", c)
	}
	if code, _, errOut := tm.cli("run", "--token", "e2e-api-token", "--retries", "11", "rt"); code != 1 || !strings.Contains(errOut, "at most 10 retries") {
		t.Errorf("--retries 11: exit %d %q", code, errOut)
	}
}

// TestQuarantineCLI: `xrdtest quarantine` sets a failing case aside: its
// session passes, `xrdtest cases` says so; `xrdtest unquarantine` makes its
// failure count again.
func TestQuarantineCLI(t *testing.T) {
	endToEnd(t)
	tm := startMaster(t, oneCaseSuite("qs", "#!/bin/bash\necho broken; exit 1\n"))
	until := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	code, out, errOut := tm.cli("quarantine", "--token", "e2e-api-token", "--reason", "known bug 42", "--until", until, "qs", "c")
	if code != 0 || !strings.Contains(out, "case c of suite qs quarantined until "+until) {
		t.Fatalf("quarantine: exit %d\n%s%s", code, out, errOut)
	}
	if d := tm.runSuite(t, "qs"); d.State != store.SessionPassed || !strings.Contains(d.Reason, "c failed, quarantined until") ||
		!strings.Contains(d.Reason, "known bug 42") {
		t.Errorf("quarantined session: %s %q", d.State, d.Reason)
	}
	if code, out, _ := tm.cli("cases", "qs", "c"); code != 0 || !strings.Contains(out, "quarantined until") || !strings.Contains(out, "known bug 42") {
		t.Errorf("cases qs c: exit %d\n%s", code, out)
	}
	if code, out, errOut := tm.cli("unquarantine", "--token", "e2e-api-token", "qs", "c"); code != 0 || !strings.Contains(out, "no longer quarantined") {
		t.Errorf("unquarantine: exit %d\n%s%s", code, out, errOut)
	}
	if d := tm.runSuite(t, "qs"); d.State != store.SessionFailed {
		t.Errorf("after the quarantine: %s %q", d.State, d.Reason)
	}
	tm.checkRefusals(t, []cliRefusal{
		{[]string{"quarantine", "--token", "e2e-api-token", "--until", until, "qs", "c"}, 2, "--reason is required"},
		{[]string{"quarantine", "--token", "e2e-api-token", "--reason", "x", "--until", "soon", "qs", "c"}, 2, "want YYYY-MM-DD"},
		{[]string{"quarantine", "--token", "e2e-api-token", "--reason", "x", "--until", "2001-01-01", "qs", "c"}, 1, "is not in the future"},
		{[]string{"quarantine", "--reason", "x", "--until", until, "qs", "c"}, 1, "a valid API token is required"},
		{[]string{"unquarantine", "--token", "e2e-api-token", "qs", "c"}, 1, "no quarantine of case c"},
		{[]string{"quarantine", "qs"}, 2, "usage: xrdtest quarantine"},
	})
}
