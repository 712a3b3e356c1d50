package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/store"
)

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args  []string
		pos   []string
		cases []string
		wait  bool
	}{
		{[]string{"s"}, []string{"s"}, nil, false},
		{[]string{"s", "--case", "a", "--case", "b"}, []string{"s"}, []string{"a", "b"}, false},
		{[]string{"--case", "a", "s", "--wait"}, []string{"s"}, []string{"a"}, true},
		{[]string{"s", "--wait", "t"}, []string{"s", "t"}, nil, true},
		{[]string{"--wait", "--", "--case", "x"}, []string{"--case", "x"}, nil, true},
		{nil, nil, nil, false},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var cases listFlag
		fs.Var(&cases, "case", "")
		wait := fs.Bool("wait", false, "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil || !slices.Equal(pos, tt.pos) || !slices.Equal(cases, tt.cases) || *wait != tt.wait {
			t.Errorf("%q: pos %q cases %q wait %v err %v", tt.args, pos, cases, *wait, err)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseInterspersed(fs, []string{"s", "--nope"}); err == nil {
		t.Errorf("an unknown flag after the suite is accepted")
	}
}

// cliRefusal is a command the test master refuses: its exit status and
// what its stderr must say.
type cliRefusal struct {
	args []string
	code int
	err  string
}

// checkRefusals runs each command against the test master and fails the
// test for each that does not end with its status, saying its err.
func (tm *testMaster) checkRefusals(t *testing.T, refusals []cliRefusal) {
	t.Helper()
	for _, r := range refusals {
		code, out, errOut := tm.cli(r.args...)
		if code != r.code || !strings.Contains(errOut, r.err) {
			t.Errorf("%q: exit %d, stderr %q, want %d and %q (stdout %q)", r.args, code, errOut, r.code, r.err, out)
		}
	}
}

// cli runs an xrdtest command against the test master's API.
func (tm *testMaster) cli(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	api := "http://" + tm.WebAddr().String()
	full := append([]string{args[0], "--master", api}, args[1:]...)
	code = run(context.Background(), full, &out, &errOut)
	return code, out.String(), errOut.String()
}

func stageNames(d *store.SessionDetail) string {
	var names []string
	for _, st := range d.Stages {
		names = append(names, st.Name)
	}
	return strings.Join(names, " ")
}

// TestRunCasesAndRerunCLI: `xrdtest run SUITE --case X --case Y` runs only
// those cases (in suite order), `xrdtest rerun` runs them again, and an
// unknown case is refused naming the suite's cases.
func TestRunCasesAndRerunCLI(t *testing.T) {
	endToEnd(t)
	tm := startMaster(t, map[string]string{
		"cs/test_suite.py": suiteDef("cs", "", "c1", "c2", "c3"),
		"cs/init.sh":       "#!/bin/bash\n",
		"cs/tc/c1/run.sh":  "#!/bin/bash\necho c1\n",
		"cs/tc/c2/run.sh":  "#!/bin/bash\nexit 1\n",
		"cs/tc/c3/run.sh":  "#!/bin/bash\necho c3\n",
	})
	t.Setenv("USER", "alice")
	code, out, errOut := tm.cli("run", "cs", "--token", "e2e-api-token", "--case", "c3", "--case", "c1", "--wait")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	var id int64
	if _, err := fmt.Sscanf(out, "session %d of suite cs queued (cases c1, c3)\n", &id); err != nil {
		t.Fatalf("run output %q: %v", out, err)
	}
	ctx := context.Background()
	d, err := store.Detail(ctx, tm.Store, id)
	if err != nil {
		t.Fatal(err)
	}
	const want = "suite_init c1:init c1:run c1:finalize c3:init c3:run c3:finalize suite_finalize"
	if got := stageNames(d); got != want || d.State != store.SessionPassed || d.TriggeredBy != "api token (alice)" {
		t.Errorf("session %d %s by %q: %s", id, d.State, d.TriggeredBy, got)
	}

	code, out, errOut = tm.cli("rerun", "--token", "e2e-api-token", "--wait", fmt.Sprint(id))
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s%s", code, out, errOut)
	}
	var id2, of int64
	if _, err := fmt.Sscanf(out, "session %d of suite cs queued (re-run of session %d)\n", &id2, &of); err != nil || of != id || id2 == id {
		t.Fatalf("rerun output %q: %v", out, err)
	}
	d2, err := store.Detail(ctx, tm.Store, id2)
	if err != nil {
		t.Fatal(err)
	}
	if got := stageNames(d2); got != want || d2.State != store.SessionPassed {
		t.Errorf("re-run %d %s: %s", id2, d2.State, got)
	}
	if d2.TriggeredBy != fmt.Sprintf("api token (alice), re-run of session %d", id) {
		t.Errorf("re-run triggered by %q", d2.TriggeredBy)
	}

	tm.checkRefusals(t, []cliRefusal{
		{[]string{"run", "cs", "--token", "e2e-api-token", "--case", "nope"}, 1, `suite cs has no test case "nope" (its cases: c1, c2, c3)`},
		{[]string{"run", "nosuch", "--token", "e2e-api-token"}, 1, `unknown suite "nosuch"`},
		{[]string{"run", "cs", "--case", "c1"}, 1, "a valid API token is required"},
		{[]string{"rerun", "--token", "e2e-api-token", "999"}, 1, "cannot re-run session 999"},
		{[]string{"rerun", "--token", "e2e-api-token", "x"}, 2, `bad session id "x"`},
		{[]string{"rerun"}, 2, "usage: xrdtest rerun"},
		{[]string{"run", "cs", "other"}, 2, "usage: xrdtest run"},
	})
}

// TestClusterStopCLI: `xrdtest cluster stop` is refused while a session
// uses the cluster and when it is not running, and stops it otherwise.
func TestClusterStopCLI(t *testing.T) {
	endToEnd(t)
	tm := startMaster(t, oneCaseSuite("cl", "#!/bin/bash\nsleep 60\n"))
	ctx := context.Background()
	s := mastertest.StartSession(t, tm.Master, "cl")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if d, _ := store.Detail(ctx, tm.Store, s.ID); d != nil && d.State == store.SessionRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session never ran")
		}
	}
	code, out, errOut := tm.cli("cluster", "stop", "--token", "e2e-api-token", "cluster_e2e")
	if want := fmt.Sprintf("cluster cluster_e2e is used by session %d: cancel it first", s.ID); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("stop while used: exit %d %q %q", code, out, errOut)
	}
	if err := tm.Manager.Cancel(s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Manager.Wait(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	// The session stopped its cluster when it ended.
	code, out, errOut = tm.cli("cluster", "stop", "--token", "e2e-api-token", "cluster_e2e")
	if code != 1 || !strings.Contains(errOut, "cluster cluster_e2e is not running") {
		t.Errorf("stop of a stopped cluster: exit %d %q %q", code, out, errOut)
	}
	// One up that no session uses is stopped.
	if err := tm.backend.StartCluster(ctx, hypervisor.ClusterSpec{Cluster: tm.Definitions().Cluster("cluster_e2e"), Master: tm.Manager.Endpoint}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = tm.cli("cluster", "stop", "--token", "e2e-api-token", "cluster_e2e")
	if code != 0 || out != "cluster cluster_e2e stopped\n" || tm.backend.Running("cluster_e2e") {
		t.Errorf("stop: exit %d %q %q", code, out, errOut)
	}
	tm.checkRefusals(t, []cliRefusal{
		{[]string{"cluster", "stop", "--token", "e2e-api-token", "nope"}, 1, `unknown cluster "nope"`},
		{[]string{"cluster", "stop", "cluster_e2e"}, 1, "a valid API token is required"},
		{[]string{"cluster", "start", "cluster_e2e"}, 2, "usage: xrdtest cluster stop NAME"},
		{[]string{"cluster"}, 2, "usage: xrdtest cluster stop NAME"},
	})
	if strings.Contains(tm.logs.String(), "e2e-api-token") {
		t.Errorf("the API token appears in the master's log")
	}
}

// TestSuiteCLI: suite list, enable and disable through the API.
func TestSuiteCLI(t *testing.T) {
	endToEnd(t)
	tm := startMaster(t, map[string]string{
		"sb/test_suite.py": suiteDef("sb", "", "x"),
		"sb/init.sh":       "#!/bin/bash\n",
		"sb/tc/x/run.sh":   "#!/bin/bash\n",
		"sa/test_suite.py": suiteDef("sa", "", "c1", "c2"),
		"sa/init.sh":       "#!/bin/bash\n",
		"sa/tc/c1/run.sh":  "#!/bin/bash\n",
		"sa/tc/c2/run.sh":  "#!/bin/bash\n",
	})
	list := func() map[string][]string {
		t.Helper()
		code, out, errOut := tm.cli("suite", "list")
		if code != 0 {
			t.Fatalf("suite list: exit %d %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "SUITE") || !strings.HasPrefix(lines[1], "sa ") || !strings.HasPrefix(lines[2], "sb ") {
			t.Fatalf("suite list:\n%s", out)
		}
		rows := map[string][]string{}
		for _, l := range lines[1:] {
			f := regexp.MustCompile(`\s{2,}`).Split(l, -1)
			rows[f[0]] = f[1:]
		}
		return rows
	}
	rows := list()
	// The test master's scheduler is off (see TestSuiteListFormat for the
	// times).
	if r := rows["sa"]; len(r) != 3 || r[0] != "yes" || r[1] != "- (the scheduler is off)" || r[2] != "c1 c2" {
		t.Errorf("sa: %q", r)
	}
	t.Setenv("USER", "alice")
	if code, out, errOut := tm.cli("suite", "disable", "--token", "e2e-api-token", "sa"); code != 0 || out != "suite sa disabled\n" {
		t.Fatalf("disable: exit %d %q %q", code, out, errOut)
	}
	rows = list()
	if r := rows["sa"]; r[0] != "no" || r[1] != "-" || rows["sb"][0] != "yes" {
		t.Errorf("after disable: %q", rows)
	}
	if en, known, err := tm.Store.SuiteEnabled(context.Background(), "sa"); err != nil || !known || en {
		t.Errorf("stored state: %v %v %v", en, known, err)
	}
	if code, out, errOut := tm.cli("suite", "enable", "sa", "--token", "e2e-api-token"); code != 0 || out != "suite sa enabled\n" {
		t.Fatalf("enable: exit %d %q %q", code, out, errOut)
	}
	if r := list()["sa"]; r[0] != "yes" || r[1] != "- (the scheduler is off)" {
		t.Errorf("after enable: %q", r)
	}
	if !strings.Contains(tm.logs.String(), `msg="API: set suite enabled" suite=sa enabled=false by="api token (alice)"`) {
		t.Errorf("the change is not logged with who asked")
	}
	tm.checkRefusals(t, []cliRefusal{
		{[]string{"suite", "enable", "--token", "e2e-api-token", "nope"}, 1, `unknown suite "nope"`},
		{[]string{"suite", "disable", "sa"}, 1, "a valid API token is required"},
		{[]string{"suite", "toggle", "sa"}, 2, "usage: xrdtest suite list"},
		{[]string{"suite"}, 2, "usage: xrdtest suite list"},
	})
}

// TestSuiteListFormat: the next-run column, from a fake API.
func TestSuiteListFormat(t *testing.T) {
	next := time.Date(2030, 5, 6, 3, 0, 0, 0, time.Local)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/suites":
			json.NewEncoder(w).Encode([]map[string]any{{"name": "daily", "cases": []string{"a", "b"}}, {"name": "bynow"}, {"name": "off"}, {"name": "gone"}, {"name": "queued"}})
		case "/api/v1/schedule":
			json.NewEncoder(w).Encode([]api.NextRun{
				{Suite: "daily", Next: next, Enabled: true, SuiteEnabled: true},
				{Suite: "queued", Next: next, Enabled: true, SuiteEnabled: true, Pending: true},
				{Suite: "bynow", Enabled: true, SuiteEnabled: true},
				{Suite: "off", Next: next},
			})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"suite", "list", "--master", srv.URL}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	at := next.Format("2006-01-02 15:04 MST")
	want := []string{
		"SUITE   ENABLED  NEXT RUN" + strings.Repeat(" ", len(at)+len(" (a run is queued)")-len("NEXT RUN")) + "  CASES",
		"bynow   yes      never",
		"daily   yes      " + at + strings.Repeat(" ", len(" (a run is queued)")) + "  a b",
		"gone    ?        -",
		"off     no       -",
		"queued  yes      " + at + " (a run is queued)",
	}
	got := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	for i := range got {
		got[i] = strings.TrimRight(got[i], " ")
	}
	for i := range want {
		want[i] = strings.TrimRight(want[i], " ")
	}
	if !slices.Equal(got, want) {
		t.Errorf("suite list:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestClientFlagsAnywhere: every client command takes its flags after its
// arguments too, and sends the token with every request, output streams
// included (a master with private pages wants it for reads).
func TestClientFlagsAnywhere(t *testing.T) {
	const tok = "cli-token-0123456789"
	var mu sync.Mutex
	var unauthorized []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+tok {
			mu.Lock()
			unauthorized = append(unauthorized, r.Method+" "+r.URL.Path)
			mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error": "a valid API token is required"}`)
			return
		}
		switch r.Method + " " + r.URL.Path {
		case "GET /api/v1/sessions/7":
			json.NewEncoder(w).Encode(session7)
		case "GET /api/v1/sessions/7/output":
			io.WriteString(w, "init output\n")
		case "GET /api/v1/sessions/7/view":
			json.NewEncoder(w).Encode(api.SessionView{Events: []api.Event{{Kind: "started", Message: "all slaves connected"},
				{Kind: "fault", Message: "fault f1 on, set by a until the end of case c: isolate b"}}})
		case "POST /api/v1/sessions/7/cancel":
			json.NewEncoder(w).Encode(map[string]any{"cancelled": true})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "7", "--token", tok, "--master", srv.URL}, "init output"},
		{[]string{"status", "7", "--master", srv.URL, "--token", tok}, "suite_init"},
		{[]string{"status", "7", "--master", srv.URL, "--token", tok}, "  faults:\n    "},
		{[]string{"status", "7", "--master", srv.URL, "--token", tok}, "  fault f1 on, set by a until the end of case c: isolate b\n"},
		{[]string{"cancel", "7", "--token", tok, "--master", srv.URL}, "session 7: cancelling"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errOut); code != 0 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, out.String(), errOut.String())
		}
	}
	if len(unauthorized) != 0 {
		t.Errorf("requests without the token: %q", unauthorized)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"cancel", "7", "--master", srv.URL, "--token", "wrong"}, &out, &errOut); code != 1 ||
		errOut.String() != "xrdtest cancel: a valid API token is required\n" {
		t.Errorf("wrong token: exit %d, stderr %q", code, errOut.String())
	}
	if code := run(context.Background(), []string{"cancel", "--master", srv.URL}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage: xrdtest cancel SESSION") {
		t.Errorf("no session: exit %d, stderr %q", code, errOut.String())
	}
}

// TestClientCA: an https master is reached with --ca (or XRDTEST_CA)
// naming the CA of its certificate, and refused without it.
func TestClientCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/daemons":
			io.WriteString(w, "[]")
		case "/api/v1/sessions":
			io.WriteString(w, `{"sessions": [], "total": 0}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"status", "--master", srv.URL}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "certificate") {
		t.Errorf("without --ca: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"status", "--master", srv.URL, "--ca", caFile}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "Sessions (0 of 0)") {
		t.Errorf("with --ca: exit %d, %q %q", code, out.String(), errOut.String())
	}
	t.Setenv("XRDTEST_CA", caFile)
	if code := run(context.Background(), []string{"status", "--master", srv.URL}, &out, &errOut); code != 0 {
		t.Errorf("with XRDTEST_CA: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"status", "--master", srv.URL, "--ca", filepath.Join(t.TempDir(), "none.pem")}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "--ca:") {
		t.Errorf("missing CA file: exit %d, %q", code, errOut.String())
	}
}
