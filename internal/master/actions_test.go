package master_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/xrdtest/xrdtest/internal/httpapi"
	"github.com/xrdtest/xrdtest/internal/session"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
)

const apiToken = "api-secret-token-for-actions"

const suiteTail = "    ts.schedule = dict(hour='1')\n    ts.initialize = '#!/bin/bash\\necho init'\n    return ts\n"

// fakeClusters is a cluster provider whose StartCluster blocks until
// release is closed, and that records every call.
type fakeClusters struct {
	release  chan struct{}
	started  chan string
	stopGate chan struct{} // nil: StopCluster returns at once
	stopErr  error

	mu    sync.Mutex
	calls []string
}

func newFakeClusters() *fakeClusters {
	return &fakeClusters{release: make(chan struct{}), started: make(chan string, 16)}
}

func (f *fakeClusters) StartCluster(ctx context.Context, spec hypervisor.ClusterSpec) error {
	f.record("start " + spec.Cluster.Name)
	f.started <- spec.Cluster.Name
	select {
	case <-f.release:
		return errors.New("no machines in this test")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeClusters) StopCluster(ctx context.Context, cluster string) error {
	f.record("stop " + cluster)
	if f.stopGate != nil {
		<-f.stopGate
	}
	return f.stopErr
}

// Running says every cluster is up, so that stops go through (upClusters
// tells); the master asks no more of a provider than that.
func (f *fakeClusters) Running(string) bool { return true }
func (f *fakeClusters) Clusters() []string  { return nil }
func (f *fakeClusters) Capacity(context.Context) (hypervisor.Capacity, error) {
	return hypervisor.Capacity{}, nil
}

func (f *fakeClusters) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeClusters) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// actionsRepo writes a repository with cluster_t and the suite "ts" with
// cases a, b and c, and returns its root.
func actionsRepo(t *testing.T) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	files := map[string]string{
		"clusters/cluster_t.py":        twoHosts,
		"test-suites/ts/test_suite.py": "def getTestSuite():\n    ts = TestSuite('ts')\n    ts.clusters = ['cluster_t']\n    ts.tests = ['a', 'b', 'c']\n" + suiteTail,
		"test-suites/ts/tc/a/run.sh":   "#!/bin/bash\n",
		"test-suites/ts/tc/b/run.sh":   "#!/bin/bash\n",
		"test-suites/ts/tc/c/run.sh":   "#!/bin/bash\n",
	}
	testutil.WriteFiles(t, repo, files)
	return repo
}

// actionsMaster serves a master on repo with the given cluster provider
// (nil: none) and the API token apiToken.
func actionsMaster(t *testing.T, repo string, clusters hypervisor.Backend) *master.Master {
	t.Helper()
	m := mastertest.Open(t, master.Options{Token: token, APIToken: apiToken, Log: logger(), Repos: []definition.Repo{{Root: repo}},
		Clusters: clusters, ReloadDebounce: -1, Settings: mastertest.Settings(100 * time.Millisecond)})
	if errs := m.Definitions().Diagnostics.Errors(); len(errs) > 0 {
		t.Fatalf("definitions: %v", errs)
	}
	t.Cleanup(mastertest.Serve(m))
	return m
}

// post sends an action to the master's API and decodes the answer.
func post(t *testing.T, m *master.Master, path, tok string, body any, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+m.WebAddr().String()+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, b := testutil.Do(t, req)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

func TestRerun(t *testing.T) {
	repo := actionsRepo(t)
	m := actionsMaster(t, repo, nil)
	ctx := context.Background()
	first, err := m.Manager.Start(ctx, "ts", []string{"c", "a"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Cases, []string{"a", "c"}) {
		t.Errorf("cases %v, want the suite's order a, c", first.Cases)
	}
	m.Manager.Wait(ctx, first.ID) // fails: no slaves, that is fine here

	again, err := m.Manager.Rerun(ctx, first.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == first.ID || again.Suite != "ts" || !slices.Equal(again.Cases, []string{"a", "c"}) {
		t.Errorf("re-run: %+v", again)
	}
	if again.TriggeredBy != fmt.Sprintf("alice, re-run of session %d", first.ID) {
		t.Errorf("triggered by %q", again.TriggeredBy)
	}
	m.Manager.Wait(ctx, again.ID)

	// Over the API, with who asked recorded.
	var s store.Session
	code, body := post(t, m, fmt.Sprintf("/api/v1/sessions/%d/rerun", first.ID), apiToken, map[string]string{"by": "bob"}, &s)
	if code != http.StatusCreated || !slices.Equal(s.Cases, []string{"a", "c"}) || !strings.HasPrefix(s.TriggeredBy, "api token (bob), re-run of session") {
		t.Errorf("API re-run: %d %s", code, body)
	}
	m.Manager.Wait(ctx, s.ID)
	if code, body := post(t, m, fmt.Sprintf("/api/v1/sessions/%d/rerun", first.ID), "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d %s", code, body)
	}
	if code, body := post(t, m, "/api/v1/sessions/999/rerun", apiToken, nil, nil); code != http.StatusNotFound || !strings.Contains(body, "cannot re-run session 999") {
		t.Errorf("unknown session: %d %s", code, body)
	}

	// The definitions change: case c is renamed, then the suite goes.
	os.WriteFile(filepath.Join(repo, "test-suites/ts/test_suite.py"), []byte("def getTestSuite():\n    ts = TestSuite('ts')\n    ts.clusters = ['cluster_t']\n    ts.tests = ['a', 'b', 'c2']\n"+suiteTail), 0o644)
	os.Rename(filepath.Join(repo, "test-suites/ts/tc/c"), filepath.Join(repo, "test-suites/ts/tc/c2"))
	m.Reload(ctx)
	_, err = m.Manager.Rerun(ctx, first.ID, "alice")
	if !errors.Is(err, session.ErrUnknownCase) || !strings.Contains(err.Error(), `suite ts has no test case "c" (its cases: a, b, c2)`) {
		t.Errorf("renamed case: %v", err)
	}
	code, body = post(t, m, fmt.Sprintf("/api/v1/sessions/%d/rerun", first.ID), apiToken, nil, nil)
	if code != http.StatusNotFound || !strings.Contains(body, "its cases: a, b, c2") {
		t.Errorf("API, renamed case: %d %s", code, body)
	}
	os.RemoveAll(filepath.Join(repo, "test-suites/ts"))
	m.Reload(ctx)
	_, err = m.Manager.Rerun(ctx, first.ID, "alice")
	if !errors.Is(err, session.ErrUnknownSuite) || !strings.Contains(err.Error(), `unknown suite "ts": it is no longer defined`) {
		t.Errorf("suite gone: %v", err)
	}
	if !strings.Contains(logs.String(), "by=\"api token (bob)\"") {
		t.Errorf("the re-run is not logged with who asked")
	}
}

// TestActionsLogged: every action is logged with who asked, never with
// the token; a claimed name cannot forge log lines.
func TestActionsLogged(t *testing.T) {
	m := actionsMaster(t, actionsRepo(t), nil)
	ctx := context.Background()
	var s store.Session
	if code, body := post(t, m, "/api/v1/sessions", apiToken, map[string]any{"suite": "ts", "cases": []string{"a"}, "by": "erin"}, &s); code != http.StatusCreated {
		t.Fatalf("run: %d %s", code, body)
	}
	post(t, m, fmt.Sprintf("/api/v1/sessions/%d/cancel", s.ID), apiToken, map[string]string{"by": "frank\nlevel=ERROR msg=forged"}, nil)
	m.Manager.Wait(ctx, s.ID)
	post(t, m, "/api/v1/suites/ts/enabled", apiToken, map[string]any{"enabled": false, "by": "gina"}, nil)
	post(t, m, "/api/v1/suites/ts/enabled", apiToken, map[string]any{"enabled": true}, nil)
	if code, body := post(t, m, "/api/v1/reload", apiToken, map[string]string{"by": "hugo"}, nil); code != http.StatusOK {
		t.Errorf("reload: %d %s", code, body)
	}
	for _, want := range []string{
		`msg="API: run suite" suite=ts cases=[a] by="api token (erin)"`,
		fmt.Sprintf(`msg="API: cancel session" session=%d by="api token (franklevel=ERROR msg=forged)"`, s.ID),
		`msg="API: set suite enabled" suite=ts enabled=false by="api token (gina)"`,
		`msg="API: set suite enabled" suite=ts enabled=true by="api token"`,
		`msg="API: reload of the definitions" by="api token (hugo)"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if s2, _ := m.Store.Session(ctx, s.ID); s2.TriggeredBy != "api token (erin)" {
		t.Errorf("triggered by %q", s2.TriggeredBy)
	}
	if strings.Contains(logs.String(), apiToken) {
		t.Errorf("the API token appears in the logs")
	}
}

func TestStartUnknownCase(t *testing.T) {
	m := actionsMaster(t, actionsRepo(t), nil)
	code, body := post(t, m, "/api/v1/sessions", apiToken, map[string]any{"suite": "ts", "cases": []string{"a", "zz"}}, nil)
	if code != http.StatusNotFound || !strings.Contains(body, `suite ts has no test case \"zz\" (its cases: a, b, c)`) {
		t.Errorf("unknown case: %d %s", code, body)
	}
}

func TestStopCluster(t *testing.T) {
	fc := newFakeClusters()
	m := actionsMaster(t, actionsRepo(t), fc)
	ctx := context.Background()

	if err := m.Manager.StopCluster(ctx, "nope", "alice"); !errors.Is(err, session.ErrUnknownCluster) {
		t.Errorf("unknown cluster: %v", err)
	}
	// A session starting the cluster holds it.
	s := mastertest.StartSession(t, m, "ts")
	<-fc.started
	err := m.Manager.StopCluster(ctx, "cluster_t", "alice")
	if !errors.Is(err, session.ErrClusterInUse) || err.Error() != fmt.Sprintf("cluster in use: cluster cluster_t is used by session %d: cancel it first", s.ID) {
		t.Errorf("in use: %v", err)
	}
	code, body := post(t, m, "/api/v1/clusters/cluster_t/stop", apiToken, map[string]string{"by": "carol"}, nil)
	if code != http.StatusConflict || !strings.Contains(body, "is used by session") {
		t.Errorf("API, in use: %d %s", code, body)
	}
	close(fc.release)
	if s, _ := m.Manager.Wait(ctx, s.ID); s.State != store.SessionFailed {
		t.Errorf("session %s", s.State)
	}
	before := len(fc.Calls())

	// While it is being stopped, a second stop and a session of a suite
	// using it are refused.
	fc.stopGate = make(chan struct{})
	stopped := make(chan error, 1)
	go func() { stopped <- m.Manager.StopCluster(ctx, "cluster_t", "alice") }()
	for !slices.Contains(fc.Calls()[before:], "stop cluster_t") {
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.Manager.StopCluster(ctx, "cluster_t", "bob"); !errors.Is(err, session.ErrClusterInUse) || !strings.Contains(err.Error(), "already being stopped (by alice)") {
		t.Errorf("second stop: %v", err)
	}
	if _, err := m.Manager.Start(ctx, "ts", nil, "test"); !errors.Is(err, session.ErrClusterInUse) || !strings.Contains(err.Error(), "cluster cluster_t is being stopped (by alice)") {
		t.Errorf("start while stopping: %v", err)
	}
	close(fc.stopGate)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	fc.stopGate = nil

	// Over the API.
	var out map[string]any
	code, body = post(t, m, "/api/v1/clusters/cluster_t/stop", apiToken, map[string]string{"by": "carol"}, &out)
	if code != http.StatusOK || out["stopped"] != true {
		t.Errorf("API stop: %d %s", code, body)
	}
	if n := strings.Count(strings.Join(fc.Calls(), "\n"), "stop cluster_t"); n != 3 { // the session's own, alice's, carol's
		t.Errorf("%d stops: %v", n, fc.Calls())
	}
	fc.stopErr = errors.New("hypervisor hv1 is not connected")
	code, body = post(t, m, "/api/v1/clusters/cluster_t/stop", apiToken, nil, nil)
	if code != http.StatusInternalServerError || !strings.Contains(body, "cannot stop cluster cluster_t: hypervisor hv1 is not connected") {
		t.Errorf("API stop failing: %d %s", code, body)
	}
	if code, _ := post(t, m, "/api/v1/clusters/cluster_t/stop", "wrong", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	if code, body := post(t, m, "/api/v1/clusters/nope/stop", apiToken, nil, nil); code != http.StatusNotFound || !strings.Contains(body, `unknown cluster \"nope\"`) {
		t.Errorf("API, unknown cluster: %d %s", code, body)
	}
	for _, want := range []string{`msg="API: stop cluster" cluster=cluster_t by="api token (carol)"`, `msg="cluster stopped" cluster=cluster_t by="api token (carol)"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(logs.String(), apiToken) || strings.Contains(logs.String(), "wrong") {
		t.Errorf("a token appears in the logs")
	}
}

func TestStopClusterWithoutProvider(t *testing.T) {
	m := actionsMaster(t, actionsRepo(t), nil)
	err := m.Manager.StopCluster(context.Background(), "cluster_t", "alice")
	if !errors.Is(err, session.ErrNoClusters) || !strings.Contains(err.Error(), "its machines connect by themselves") {
		t.Errorf("no provider: %v", err)
	}
	if code, body := post(t, m, "/api/v1/clusters/cluster_t/stop", apiToken, nil, nil); code != http.StatusConflict {
		t.Errorf("API: %d %s", code, body)
	}
}

// upClusters is a provider that knows which clusters are up, as the
// hypervisors do.
type upClusters struct {
	*fakeClusters
	up bool
}

func (u *upClusters) Running(string) bool { return u.up }

func TestStopClusterNotRunning(t *testing.T) {
	uc := &upClusters{fakeClusters: newFakeClusters()}
	m := actionsMaster(t, actionsRepo(t), uc)
	err := m.Manager.StopCluster(context.Background(), "cluster_t", "alice")
	if !errors.Is(err, session.ErrClusterNotRunning) || err.Error() != "cluster not running: cluster cluster_t is not running" {
		t.Errorf("down cluster: %v", err)
	}
	code, body := post(t, m, "/api/v1/clusters/cluster_t/stop", apiToken, nil, nil)
	if code != http.StatusConflict || !strings.Contains(body, "cluster cluster_t is not running") {
		t.Errorf("API, down cluster: %d %s", code, body)
	}
	if calls := uc.Calls(); len(calls) != 0 {
		t.Errorf("a down cluster was stopped: %v", calls)
	}
	uc.up = true
	if err := m.Manager.StopCluster(context.Background(), "cluster_t", "alice"); err != nil {
		t.Errorf("up cluster: %v", err)
	}
	if calls := uc.Calls(); !slices.Equal(calls, []string{"stop cluster_t"}) {
		t.Errorf("calls %v", calls)
	}
}

// TestNamedAPITokens: each of several API tokens acts under its holder's
// name, in the log and in the session; a token works for no one else's
// name, and no token is ever logged.
func TestNamedAPITokens(t *testing.T) {
	const ciToken, aliceToken = "ci-token-0123456789abcdef", "alice-token-0123456789abcdef"
	m := mastertest.Start(t, master.Options{Token: token, APIToken: apiToken,
		APITokens: []httpapi.APIToken{{Name: "ci", Token: ciToken}, {Name: "alice", Token: aliceToken}},
		Log:       logger(), Repos: []definition.Repo{{Root: actionsRepo(t)}}, ReloadDebounce: -1, Settings: mastertest.Settings(100 * time.Millisecond)})
	for _, tc := range []struct{ tok, by, want string }{
		{ciToken, "carol", "token ci (carol)"},
		{aliceToken, "", "token alice"},
		{apiToken, "bob", "api token (bob)"},
	} {
		var s store.Session
		code, body := post(t, m, "/api/v1/sessions", tc.tok, map[string]any{"suite": "ts", "by": tc.by}, &s)
		if code != http.StatusCreated || s.TriggeredBy != tc.want {
			t.Errorf("start with the token of %s: %d %s, triggered by %q", tc.want, code, body, s.TriggeredBy)
		}
		if !strings.Contains(logs.String(), fmt.Sprintf(`msg="API: run suite" suite=ts cases=[] by=%q`, tc.want)) {
			t.Errorf("no log of the start by %s", tc.want)
		}
	}
	// A body that is not JSON is refused before anything is done.
	req, _ := http.NewRequest(http.MethodPost, "http://"+m.WebAddr().String()+"/api/v1/sessions/1/cancel", strings.NewReader("{by: nobody"))
	req.Header.Set("Authorization", "Bearer "+ciToken)
	if resp, b := testutil.Do(t, req); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "bad request body") {
		t.Errorf("cancel with a bad body: %d %s", resp.StatusCode, b)
	}
	for _, bad := range []string{"", "ci", ciToken + "x", ciToken[:len(ciToken)-1], "token ci"} {
		if code, _ := post(t, m, "/api/v1/reload", bad, nil, nil); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", bad, code)
		}
	}
	for _, secret := range []string{ciToken, aliceToken, apiToken} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a token is in the log")
		}
	}
}

// TestActionStatuses: an unknown session is 404, an ended one 409, a
// bad filter 400, as the history's.
func TestActionStatuses(t *testing.T) {
	m := actionsMaster(t, actionsRepo(t), nil)
	ctx := context.Background()
	if code, body := post(t, m, "/api/v1/sessions/999/cancel", apiToken, nil, nil); code != http.StatusNotFound || !strings.Contains(body, "no session 999") {
		t.Errorf("cancel of an unknown session: %d %s", code, body)
	}
	s := mastertest.StartSession(t, m, "ts")
	m.Manager.Wait(ctx, s.ID) // fails: no slaves
	code, body := post(t, m, fmt.Sprintf("/api/v1/sessions/%d/cancel", s.ID), apiToken, nil, nil)
	if code != http.StatusConflict || !strings.Contains(body, "is not running (it is failed)") {
		t.Errorf("cancel of an ended session: %d %s", code, body)
	}
	resp, err := http.Get("http://" + m.WebAddr().String() + "/api/v1/sessions?state=bogus")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `state \"bogus\"`) {
		t.Errorf("sessions?state=bogus: %d %s", resp.StatusCode, b)
	}
}
