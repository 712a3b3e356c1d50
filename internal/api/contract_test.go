package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/daemonclient"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	hvagent "github.com/xrdtest/xrdtest/internal/hypervisor/agent"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/pki"
)

// The contract test runs a real master with two in-process slaves, runs
// sessions through the API and reads every endpoint's answer strictly
// into the api types: a field the master sends that the types lack, or
// that they name otherwise, fails the decoding, and a field the types
// have that the master does not send (or sends otherwise: null for [],
// omitted or not) fails the comparison of the answer with its
// re-encoding.

const (
	connToken = "contract-connection-token"
	apiToken  = "contract-api-token"
)

var cluster = testutil.ClusterDef("cluster_c", "10.7.0", "i.img", "1024", "h1.xrd.test", "h2.xrd.test")

func suite(name, logFile string) string {
	return fmt.Sprintf(`def getTestSuite():
    ts = TestSuite('%s')
    ts.clusters = ['cluster_c']
    ts.tests = ['c']
    ts.schedule = dict(hour='1')
    ts.logs = ['%s']
    ts.alert_emails = ['qa@xrd.test']
    ts.initialize = '#!/bin/bash\necho init'
    return ts
`, name, logFile)
}

// contractMaster opens a master on a definitions repository with the
// suites "ok" (passes, collects a log), "fails" and "slow", and a broken
// one, serves it and connects its two slaves.
func contractMaster(t *testing.T) *master.Master {
	t.Helper()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "shared", "app.log")
	files := map[string]string{
		"clusters/cluster_c.py":            cluster,
		"test-suites/ok/test_suite.py":     suite("ok", logFile),
		"test-suites/ok/tc/c/run.sh":       "#!/bin/bash\nmkdir -p " + filepath.Dir(logFile) + "\necho logged > " + logFile + "\necho hello\n",
		"test-suites/fails/test_suite.py":  suite("fails", logFile),
		"test-suites/fails/tc/c/run.sh":    "#!/bin/bash\necho failing\nexit 3\n",
		"test-suites/slow/test_suite.py":   suite("slow", logFile),
		"test-suites/slow/tc/c/run.sh":     "#!/bin/bash\nsleep 600\n",
		"test-suites/broken/test_suite.py": "def getTestSuite(:\n",
		"test-suites/warned/test_suite.py": "def getTestSuite():\n    ts = TestSuite('warned')\n    ts.clusters = ['cluster_c']\n    ts.tests = []\n    ts.nonsense = 1\n    return ts\n",
	}
	repo := filepath.Join(dir, "repo")
	testutil.WriteFiles(t, repo, files)
	log := slog.New(slog.DiscardHandler)
	m := mastertest.Start(t, master.Options{
		StateDir: filepath.Join(dir, "master"), Token: connToken, APIToken: apiToken, Repos: []definition.Repo{{Root: repo}},
		Log: log, Version: "contract", Settings: mastertest.Settings(20 * time.Second),
		Heartbeat: 200 * time.Millisecond, HeartbeatTimeout: 2 * time.Second,
	})
	for _, h := range []string{"h1.xrd.test", "h2.xrd.test"} {
		cfg := mastertest.SlaveConfig(m, filepath.Join(dir, h), h, connToken, log)
		cfg.Version = "contract"
		stop, errc := mastertest.RunSlave(cfg)
		t.Cleanup(func() { stop(); <-errc })
	}
	// A hypervisor whose backend starts nothing: the hosts are the
	// slaves above. It is there to be listed.
	hv := hvagent.New(hvagent.Config{
		Connection: daemonclient.Config{Master: m.DaemonAddr().String(), Name: "hv1.xrd.test", StateDir: filepath.Join(dir, "hv1"),
			Token: connToken, Pin: pki.PinFingerprint(m.CA.Fingerprint()), HavePin: true, Version: "contract",
			MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
		BackendName: "fake", Backend: idleBackend{}, Log: log,
	})
	hctx, stopHV := context.WithCancel(context.Background())
	hvDone := make(chan struct{})
	go func() { defer close(hvDone); hv.Run(hctx) }()
	t.Cleanup(func() { stopHV(); <-hvDone })

	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if missing := m.Registry.WaitForSlaves(wctx, []string{"h1.xrd.test", "h2.xrd.test"}, nil); len(missing) > 0 {
		t.Fatalf("slaves not connected: %v", missing)
	}
	for len(m.Registry.Daemons()) < 3 {
		select {
		case <-wctx.Done():
			t.Fatalf("the hypervisor did not connect: %+v", m.Registry.Daemons())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return m
}

// idleBackend is a hypervisor backend that starts and stops nothing.
type idleBackend struct{}

func (idleBackend) StartCluster(context.Context, hypervisor.ClusterSpec) error { return nil }
func (idleBackend) StopCluster(context.Context, string) error                  { return nil }
func (idleBackend) Clusters() []string                                         { return nil }
func (idleBackend) Running(string) bool                                        { return false }
func (idleBackend) Capacity(context.Context) (hypervisor.Capacity, error) {
	return hypervisor.Capacity{MemoryKiB: 8 << 20, FreeMemoryKiB: 6 << 20, CPUs: 4}, nil
}

// exchange makes a request (body nil: none) and returns the answer's
// status and body.
func exchange(t *testing.T, method, url string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, b := testutil.Do(t, req)
	return resp.StatusCode, b
}

// strict decodes body into a T, unknown fields refused, and checks that
// encoding it again gives the same JSON (key order aside).
func strict[T any](t *testing.T, what string, body []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s: %v\n%s", what, err, body)
		return v
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var sent, back any
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	json.Unmarshal(again, &back)
	if !reflect.DeepEqual(sent, back) {
		t.Errorf("%s: the api types do not give back what the master sent:\nsent: %s\nback: %s", what, compact(body), again)
	}
	return v
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	json.Compact(&buf, b)
	return buf.Bytes()
}

// call checks an answer: its status, its strict decoding into T, and
// that the client's method for the endpoint reads the same.
func call[T any](t *testing.T, base, method, path string, body any, status int, client func() (T, error)) T {
	t.Helper()
	code, b := exchange(t, method, base+path, body)
	if code != status {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, code, status, b)
	}
	v := strict[T](t, method+" "+path, b)
	if client != nil && method == http.MethodGet {
		got, err := client()
		if err != nil {
			t.Errorf("client, %s: %v", path, err)
		} else if !reflect.DeepEqual(got, v) {
			t.Errorf("client, %s: %+v, want %+v", path, got, v)
		}
	}
	return v
}

func TestContract(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a master and slaves")
	}
	m := contractMaster(t)
	base := "http://" + m.WebAddr().String()
	c, err := api.NewClient(api.Options{URL: base, Token: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	post := http.MethodPost
	get := http.MethodGet

	// Actions and their answers.
	ok := call[*api.Session](t, base, post, "/api/v1/sessions", api.StartRequest{Suite: "ok", By: "alice"}, http.StatusCreated, nil)
	finish := func(id int64) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			d, err := c.Session(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if d.State.Finished() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("session %d still %s", id, d.State)
			}
		}
	}
	finish(ok.ID)
	fails, err := c.Start(ctx, "fails", []string{"c"}, "bob")
	if err != nil {
		t.Fatal(err)
	}
	finish(fails.ID)
	rerun := call[*api.Session](t, base, post, fmt.Sprintf("/api/v1/sessions/%d/rerun", ok.ID), api.ActionRequest{By: "alice"}, http.StatusCreated, nil)
	finish(rerun.ID)
	slow, err := c.Start(ctx, "slow", nil, "carol")
	if err != nil {
		t.Fatal(err)
	}
	call[api.Cancelling](t, base, post, fmt.Sprintf("/api/v1/sessions/%d/cancel", slow.ID), api.ActionRequest{By: "carol"}, http.StatusAccepted, nil)
	finish(slow.ID)
	call[api.SuiteEnabled](t, base, post, "/api/v1/suites/ok/enabled", api.EnableRequest{Enabled: false, By: "dave"}, http.StatusOK, nil)
	call[api.ErrorBody](t, base, post, "/api/v1/clusters/cluster_c/stop", api.ActionRequest{}, http.StatusConflict, nil)
	call[api.ReloadReport](t, base, post, "/api/v1/reload", api.ActionRequest{By: "erin"}, http.StatusOK, nil)

	// Reads.
	call(t, base, get, "/api/v1/status", nil, http.StatusOK, func() (*api.MasterStatus, error) { return c.Status(ctx) })
	daemons := call(t, base, get, "/api/v1/daemons", nil, http.StatusOK, func() ([]api.DaemonInfo, error) { return c.Daemons(ctx) })
	roles := map[api.Role]int{}
	for _, d := range daemons {
		roles[d.Role]++
		if d.State != api.DaemonConnected {
			t.Errorf("daemon %s: %s", d.Name, d.State)
		}
	}
	if roles[api.RoleSlave] != 2 || roles[api.RoleHypervisor] != 1 {
		t.Errorf("daemons: %+v", daemons)
	}
	call(t, base, get, "/api/v1/suites", nil, http.StatusOK, func() ([]api.Suite, error) { return c.Suites(ctx) })
	call(t, base, get, "/api/v1/schedule", nil, http.StatusOK, func() ([]api.NextRun, error) { return c.Schedule(ctx) })
	list := call(t, base, get, "/api/v1/sessions?limit=2", nil, http.StatusOK, func() (*api.SessionList, error) {
		return c.Sessions(ctx, api.SessionFilter{Limit: 2})
	})
	if len(list.Sessions) != 2 || list.Total != 4 {
		t.Errorf("sessions: %d of %d, want 2 of 4", len(list.Sessions), list.Total)
	}
	call(t, base, get, "/api/v1/sessions?state=failed&suite=fails", nil, http.StatusOK, func() (*api.SessionList, error) {
		return c.Sessions(ctx, api.SessionFilter{Suite: "fails", States: []api.SessionState{api.SessionFailed}})
	})
	for _, id := range []int64{ok.ID, fails.ID, slow.ID} {
		d := call(t, base, get, fmt.Sprintf("/api/v1/sessions/%d", id), nil, http.StatusOK, func() (*api.SessionDetail, error) { return c.Session(ctx, id) })
		if len(d.Stages) == 0 || len(d.Stages[0].Results) != 2 {
			t.Errorf("session %d: %+v", id, d)
		}
		call(t, base, get, fmt.Sprintf("/api/v1/sessions/%d?scripts=0", id), nil, http.StatusOK, func() (*api.SessionDetail, error) { return c.SessionSummary(ctx, id) })
		call(t, base, get, fmt.Sprintf("/api/v1/sessions/%d/view", id), nil, http.StatusOK, func() (*api.SessionView, error) { return c.SessionView(ctx, id) })
	}
	view, err := c.SessionView(ctx, ok.ID)
	if err != nil || len(view.Logs) == 0 || len(view.Events) == 0 {
		t.Errorf("session view of %d without logs or events: %+v (%v)", ok.ID, view, err)
	}
	call(t, base, get, "/api/v1/repos", nil, http.StatusOK, func() (*api.ReloadReport, error) { return c.Repos(ctx) })
	// Uptime and the statistics' window move with the clock: the
	// client's answers are not compared.
	call[*api.Dashboard](t, base, get, "/api/v1/dashboard", nil, http.StatusOK, nil)
	if d, err := c.Dashboard(ctx); err != nil || d.Version != "contract" || d.Stats == nil || d.Stats.Stats == nil || d.Stats.Sessions != 4 {
		t.Errorf("client, dashboard: %+v (%v)", d, err)
	}
	call[*api.StatsView](t, base, get, "/api/v1/stats?days=3", nil, http.StatusOK, nil)
	if s, err := c.Stats(ctx, 3); err != nil || s.Days != 3 || s.Stats == nil || s.ByState[api.SessionPassed] != 2 || s.PassRate == nil {
		t.Errorf("client, stats: %+v (%v)", s, err)
	}
	call(t, base, get, "/api/v1/clusters", nil, http.StatusOK, func() ([]api.ClusterView, error) { return c.Clusters(ctx) })
	hvs := call(t, base, get, "/api/v1/hypervisors", nil, http.StatusOK, func() ([]api.HypervisorView, error) { return c.Hypervisors(ctx) })
	if len(hvs) != 1 || hvs[0].Backend != "fake" || hvs[0].CPUs != 4 {
		t.Errorf("hypervisors: %+v", hvs)
	}
	overview := call(t, base, get, "/api/v1/suites/overview", nil, http.StatusOK, func() (*api.SuitesView, error) { return c.SuitesOverview(ctx) })
	if len(overview.Broken) == 0 || len(overview.Errors) == 0 || len(overview.Warnings) == 0 {
		t.Errorf("suites overview: want a broken suite, errors and warnings: %+v", overview)
	}
	call(t, base, get, "/api/v1/history?suite=ok&state=passed&per_page=1", nil, http.StatusOK, func() (*api.HistoryView, error) {
		return c.History(ctx, map[string][]string{"suite": {"ok"}, "state": {"passed"}, "per_page": {"1"}})
	})
	// The case statistics: "now" moves with the clock, so the client's
	// answers are compared without it.
	fcases := call[*api.CasesView](t, base, get, "/api/v1/suites/fails/cases", nil, http.StatusOK, nil)
	if len(fcases.Cases) != 1 || fcases.Cases[0].Name != "c" || fcases.Cases[0].Runs != 1 || fcases.Cases[0].Failures != 1 ||
		fcases.Cases[0].PassRate == nil || *fcases.Cases[0].PassRate != 0 || fcases.Cases[0].Flaky {
		t.Errorf("cases of fails: %+v", fcases.Cases)
	}
	// Its failure on both slaves: one fingerprint, new in its session.
	if fps := fcases.Cases[0].Fingerprints; len(fps) != 1 || fps[0].Count != 2 || fps[0].Sessions != 1 || len(fps[0].Hosts) != 2 ||
		fps[0].First.ID != fails.ID || fps[0].Text != "c:run: exit 3\nfailing" {
		t.Errorf("fingerprints of fails: %+v", fps)
	}
	if fv, err := c.SessionView(ctx, fails.ID); err != nil || len(fv.Fingerprints) != 1 {
		t.Errorf("session view of fails: fingerprints %+v (%v)", fv, err)
	} else {
		for _, row := range fv.Stages {
			for _, cell := range row.Cells {
				if (row.Name == "c:run") != (cell.NewFailure && cell.Fingerprint == fv.Fingerprints[0].ID) {
					t.Errorf("session view of fails: stage %s cell %+v", row.Name, cell)
				}
			}
		}
	}
	if cv, err := c.Cases(ctx, "fails"); err != nil {
		t.Errorf("client, cases: %v", err)
	} else if cv.Now = fcases.Now; !reflect.DeepEqual(cv, fcases) {
		t.Errorf("client, cases: %+v, want %+v", cv, fcases)
	}
	fcase := call[*api.CaseView](t, base, get, "/api/v1/suites/fails/cases/c", nil, http.StatusOK, nil)
	if len(fcase.RecentFailures) != 2 || fcase.Runs != 1 || fcase.Failures != 1 {
		t.Errorf("case c of fails: %+v", fcase)
	}
	if cv, err := c.Case(ctx, "fails", "c"); err != nil {
		t.Errorf("client, case: %v", err)
	} else if cv.Now = fcase.Now; !reflect.DeepEqual(cv, fcase) {
		t.Errorf("client, case: %+v, want %+v", cv, fcase)
	}
	if cv := call[*api.CasesView](t, base, get, "/api/v1/suites/ok/cases", nil, http.StatusOK, nil); len(cv.Cases) != 1 ||
		cv.Cases[0].Runs != 2 || cv.Cases[0].Failures != 0 || len(cv.Cases[0].Trend) != 2 {
		t.Errorf("cases of ok: %+v", cv.Cases)
	}

	// Quarantine: set, shown by the cases, ended.
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	q := call[*api.Quarantine](t, base, post, "/api/v1/suites/fails/cases/c/quarantine", api.QuarantineRequest{Reason: "known bug", Until: until, By: "frank"}, http.StatusOK, nil)
	if q.Suite != "fails" || q.Case != "c" || !q.Until.Equal(until) || q.Reason != "known bug" || !strings.Contains(q.By, "frank") {
		t.Errorf("quarantine: %+v", q)
	}
	if cv, err := c.Cases(ctx, "fails"); err != nil || cv.Cases[0].Quarantine == nil || cv.Cases[0].Quarantine.Reason != "known bug" {
		t.Errorf("cases with a quarantine: %+v (%v)", cv, err)
	}
	if got, err := c.Quarantine(ctx, "fails", "c", api.QuarantineRequest{Reason: "again", Until: until}); err != nil || got.Reason != "again" {
		t.Errorf("client, quarantine: %+v (%v)", got, err)
	}
	call[api.Unquarantined](t, base, post, "/api/v1/suites/fails/cases/c/unquarantine", api.ActionRequest{By: "frank"}, http.StatusOK, nil)
	if _, err := c.Unquarantine(ctx, "fails", "c", "frank"); !api.IsNotFound(err) {
		t.Errorf("client, unquarantine of none: %v", err)
	}
	if _, err := c.Quarantine(ctx, "fails", "nope", api.QuarantineRequest{Reason: "x", Until: until}); !api.IsNotFound(err) {
		t.Errorf("client, quarantine of an unknown case: %v", err)
	}
	anon, _ := api.NewClient(api.Options{URL: base})
	if _, err := anon.Quarantine(ctx, "fails", "c", api.QuarantineRequest{Reason: "x", Until: until}); err == nil || !strings.Contains(err.Error(), "API token") {
		t.Errorf("quarantine without a token: %v", err)
	}

	// Errors.
	for _, e := range []struct {
		method, path string
		status       int
	}{
		{get, "/api/v1/sessions/999", http.StatusNotFound},
		{get, "/api/v1/sessions/x", http.StatusBadRequest},
		{get, "/api/v1/sessions?state=nope", http.StatusBadRequest},
		{get, "/api/v1/stats?days=0", http.StatusBadRequest},
		{get, "/api/v1/nope", http.StatusNotFound},
		{get, "/api/v1/suites/nope/cases", http.StatusNotFound},
		{get, "/api/v1/suites/fails/cases/nope", http.StatusNotFound},
		{post, "/api/v1/suites/fails/cases/nope/quarantine", http.StatusBadRequest},
		{post, fmt.Sprintf("/api/v1/sessions/%d/cancel", ok.ID), http.StatusConflict},
	} {
		body := call[api.ErrorBody](t, base, e.method, e.path, nil, e.status, nil)
		if body.Error == "" {
			t.Errorf("%s %s: no error message", e.method, e.path)
		}
	}
	// The client's errors carry the status and the master's message.
	_, err = c.Session(ctx, 999)
	var ae *api.Error
	if !api.IsNotFound(err) || !errorsAs(err, &ae) || ae.Message != "no session 999" || err.Error() != "no session 999" {
		t.Errorf("client error: %#v", err)
	}

	// Text answers.
	d, err := c.Session(ctx, ok.ID)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{"suite_init": "init\n", "c:run": "hello\n"}
	for _, st := range d.Stages {
		want, ok := outputs[st.Name]
		if !ok {
			continue
		}
		delete(outputs, st.Name)
		out, err := c.Output(ctx, d.ID, st.Index, "h1.xrd.test", true)
		if err != nil {
			t.Fatalf("output of %s: %v", st.Name, err)
		}
		b, _ := io.ReadAll(out)
		out.Close()
		if string(b) != want {
			t.Errorf("output of %s: %q, want %q", st.Name, b, want)
		}
	}
	if len(outputs) > 0 {
		t.Errorf("stages not found: %v", outputs)
	}
	if _, err := c.Output(ctx, ok.ID, 99, "h1.xrd.test", false); !api.IsNotFound(err) {
		t.Errorf("output of no stage: %v, want not found", err)
	}
	if script, err := c.Script(ctx, ok.ID, 0, "h1.xrd.test"); err != nil || !strings.Contains(script, "echo init") {
		t.Errorf("script: %q (%v)", script, err)
	}
	if x, err := c.JUnit(ctx, fails.ID); err != nil || !bytes.Contains(x, []byte("<testsuite")) {
		t.Errorf("junit: %.200s (%v)", x, err)
	}
	if len(view.Logs) > 0 {
		l, err := c.Log(ctx, ok.ID, view.Logs[0].Slave, view.Logs[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(l)
		l.Close()
		if string(b) != "logged\n" {
			t.Errorf("log: %q", b)
		}
	}
	// Held at its failure, then extended and released (last: the
	// counts above do not include it).
	held, err := c.StartWith(ctx, api.StartRequest{Suite: "fails", Cases: []string{"c"}, By: "bob", Hold: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d := call[*api.SessionDetail](t, base, get, fmt.Sprintf("/api/v1/sessions/%d", held.ID), nil, http.StatusOK, nil)
		if d.State == api.SessionHeld && !d.HoldUntil.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %d is %s, not held", held.ID, d.State)
		}
	}
	ext := call[api.HoldReply](t, base, post, fmt.Sprintf("/api/v1/sessions/%d/hold/extend", held.ID), api.ExtendRequest{By: "bob", Duration: "30m"}, http.StatusOK, nil)
	if ext.Session != held.ID || ext.Until.IsZero() {
		t.Errorf("extend: %+v", ext)
	}
	call[api.ErrorBody](t, base, post, fmt.Sprintf("/api/v1/sessions/%d/hold/extend", held.ID), api.ExtendRequest{Duration: "soon"}, http.StatusBadRequest, nil)
	call[api.HoldReply](t, base, post, fmt.Sprintf("/api/v1/sessions/%d/hold/release", held.ID), api.ActionRequest{By: "bob"}, http.StatusAccepted, nil)
	finish(held.ID)
	call[api.ErrorBody](t, base, post, fmt.Sprintf("/api/v1/sessions/%d/hold/release", held.ID), api.ActionRequest{By: "bob"}, http.StatusConflict, nil)
}

func errorsAs(err error, target **api.Error) bool { return errors.As(err, target) }
