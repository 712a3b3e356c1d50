package web_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/httpapi"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

const password = "web-test-pass-8181"

var cluster = testutil.ClusterDef("cluster_w", "10.98.0", "none.img", "'1024'", "w1.xrd.test", "w2.xrd.test")

const suite = `def getTestSuite():
    ts = TestSuite('hello')
    ts.clusters = ['cluster_w']
    ts.tests = ['greet', 'bye']
    ts.schedule = dict(hour='3')
    ts.initialize = 'file://init.sh'
    return ts
`

// testServer is a master with the web pages, no slaves.
type testServer struct {
	m    *master.Master
	base string
	logs *testutil.SyncBuffer
}

type webOpts struct{ private bool }

type option func(*master.Options, *webOpts)

func start(t *testing.T, opts ...option) *testServer {
	t.Helper()
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	for p, c := range map[string]string{
		"clusters/cluster_w.py":             cluster,
		"test-suites/hello/test_suite.py":   suite,
		"test-suites/hello/init.sh":         "#!/bin/bash\necho init\n",
		"test-suites/hello/tc/greet/run.sh": "#!/bin/bash\necho hi\n",
		"test-suites/hello/tc/bye/run.sh":   "#!/bin/bash\necho bye\n",
		// A broken suite: a syntax error on line 3.
		"test-suites/broken/test_suite.py": "def getTestSuite():\n    ts = TestSuite('broken')\n    ts.tests = [\n",
	} {
		full := filepath.Join(repo, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := &testutil.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var wo webOpts
	mo := master.Options{
		StateDir: filepath.Join(dir, "master"), Token: "daemon-token", APIToken: "api-token-123",
		APITokens: []httpapi.APIToken{{Name: "ci", Token: "ci-token-0123456789abcdef"}},
		Repos:     []definition.Repo{{Root: repo}}, Settings: mastertest.Settings(time.Second), Log: log, ReloadDebounce: -1,
	}
	for _, o := range opts {
		o(&mo, &wo)
	}
	mo.Pages = &master.Pages{Password: password, Public: !wo.private, KeyFile: filepath.Join(dir, "master", "web-key")}
	m := mastertest.Open(t, mo)
	stop := mastertest.Serve(m)
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("master log:\n%s", logs.String())
		}
		if strings.Contains(logs.String(), password) {
			t.Errorf("the password appears in the log")
		}
	})
	scheme := "http"
	if mo.WebTLS {
		scheme = "https"
	}
	return &testServer{m: m, base: scheme + "://" + m.WebAddr().String(), logs: logs}
}

// private makes the pages need a login.
func private(_ *master.Options, o *webOpts) { o.private = true }

// client is a browser-like client: cookies, no redirects followed.
func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func (ts *testServer) get(t *testing.T, c *http.Client, path string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(ts.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// post sends a form the way a browser on the site does (with Origin),
// unless origin says otherwise ("-": none).
func (ts *testServer) post(t *testing.T, c *http.Client, path, origin string, form url.Values) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch origin {
	case "":
		req.Header.Set("Origin", ts.base)
	case "-":
	default:
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login logs c in and returns a CSRF token of its pages.
func (ts *testServer) login(t *testing.T, c *http.Client, name string) string {
	t.Helper()
	code, body, hd := ts.post(t, c, "/login", "", url.Values{"name": {name}, "password": {password}, "next": {"/suites"}})
	if code != http.StatusSeeOther || hd.Get("Location") != "/suites" {
		t.Fatalf("login: %d %s\n%s", code, hd.Get("Location"), body)
	}
	cookie := hd.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("login cookie %q lacks %s", cookie, want)
		}
	}
	_, body, _ = ts.get(t, c, "/suites")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the suites page of a logged-in user:\n%s", body)
	}
	return m[1]
}

func TestPagesRender(t *testing.T) {
	ts := start(t)
	c := client(t)
	s := &store.Session{Suite: "hello", State: store.SessionFailed, Machines: []string{"w1.xrd.test", "w2.xrd.test"},
		Cases: []string{"greet", "bye"}, TriggeredBy: "test", Started: time.Now().Add(-time.Minute), Ended: time.Now(), Reason: "greet:run failed on w2.xrd.test (exit 3)"}
	ctx := context.Background()
	if err := ts.m.Store.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	ts.m.Store.PutStage(ctx, &store.Stage{SessionID: s.ID, Index: 0, Name: "suite_init", Started: s.Started, Ended: s.Started.Add(time.Second)})
	three := 3
	ts.m.Store.PutResults(ctx, []*store.Result{
		{SessionID: s.ID, Stage: 0, Slave: "w1.xrd.test", Status: store.StatusPassed, ExitCode: new(int), Start: s.Started, End: s.Started.Add(time.Second), Script: "echo init"},
		// Its output file was deleted by retention (outputs_max_age).
		{SessionID: s.ID, Stage: 0, Slave: "w2.xrd.test", Status: store.StatusFailed, ExitCode: &three, Start: s.Started, End: s.Started.Add(time.Second), OutputBytes: 2048},
	})
	// The case greet failed on w2 with a fingerprint.
	ts.m.Store.PutStage(ctx, &store.Stage{SessionID: s.ID, Index: 1, Name: "greet:run", Case: "greet"})
	ts.m.Store.PutFingerprint(ctx, "00ff00ff00ff00ff", "greet:run: exit 3\nconnection refused by <host>")
	ts.m.Store.PutResults(ctx, []*store.Result{
		{SessionID: s.ID, Stage: 1, Slave: "w1.xrd.test", Status: store.StatusPassed, ExitCode: new(int)},
		{SessionID: s.ID, Stage: 1, Slave: "w2.xrd.test", Status: store.StatusFailed, ExitCode: &three, Fingerprint: "00ff00ff00ff00ff"},
	})
	// A later session failed the same way: not new there.
	again := &store.Session{Suite: "hello", State: store.SessionFailed, Machines: []string{"w1.xrd.test"}, Cases: []string{"greet"}}
	ts.m.Store.CreateSession(ctx, again)
	ts.m.Store.PutStage(ctx, &store.Stage{SessionID: again.ID, Index: 0, Name: "greet:run", Case: "greet"})
	ts.m.Store.PutResult(ctx, &store.Result{SessionID: again.ID, Stage: 0, Slave: "w1.xrd.test", Status: store.StatusFailed, ExitCode: &three, Fingerprint: "00ff00ff00ff00ff"})
	for _, tc := range []struct {
		path string
		code int
		want []string
	}{
		{"/", 200, []string{"Dashboard", "Running sessions", "Slaves", "Next scheduled runs", "pass rate"}},
		{"/suites", 200, []string{"hello", "greet", "bye", "hour=3", "Definition errors", "broken", "test-suites/broken/test_suite.py:", "Definition repositories", "localfs", "sha256:", "watched on disk"}},
		{"/history", 200, []string{fmt.Sprintf("/sessions/%d", s.ID), "hello", "failed"}},
		{"/history?suite=hello&state=failed&from=2000-01-01&to=2199-12-31&page=1&per_page=25", 200, []string{fmt.Sprintf("#%d", s.ID)}},
		{"/history?state=passed", 200, []string{"No session matches"}},
		{fmt.Sprintf("/sessions/%d", s.ID), 200, []string{"suite_init", "w1.xrd.test", "w2.xrd.test", "exit 3", "cell st-failed", "Timeline", "greet:run failed on w2.xrd.test",
			"new failure", `title="a failure not seen before">new</span>`, "connection refused by &lt;host&gt;"}},
		{fmt.Sprintf("/sessions/%d", again.ID), 200, []string{"seen 2 times since", fmt.Sprintf(`first <a href="/sessions/%d">`, s.ID), "00ff00ff00ff00ff"}},
		{fmt.Sprintf("/sessions/%d/result?stage=0&slave=w1.xrd.test", s.ID), 200, []string{"suite_init", "echo init", "No output."}},
		{fmt.Sprintf("/sessions/%d/result?stage=0&slave=w2.xrd.test", s.ID), 200, []string{"The output (2.0 KiB) is no longer kept", "outputs_max_age"}},
		{fmt.Sprintf("/sessions/%d/log?slave=w1.xrd.test&path=/var/log/gone.log", s.ID), 404, []string{"log /var/log/gone.log of w1.xrd.test", "never collected, or deleted by the retention limits"}},
		{"/suites/hello/cases", 200, []string{"Cases of hello", "/suites/hello/cases/greet", "bye", "0.0 %", "chip st-failed", "no run"}},
		{"/suites/hello/cases/greet", 200, []string{"greet", "Failure fingerprints", "00ff00ff00ff00ff", "connection refused by &lt;host&gt;",
			"2</strong> failures in 2 sessions", "w1.xrd.test, w2.xrd.test", "Recent failures", "greet:run",
			"Failing since", fmt.Sprintf(`First failed run: <a href="/sessions/%d">`, s.ID), "No run passed in the window"}},
		{"/suites/hello/cases/bye", 200, []string{"No fingerprinted failure", "No failure in the window"}},
		{"/suites/hello/cases/nope", 404, []string{"no test case"}},
		{"/suites/nope/cases", 404, []string{"unknown suite"}},
		{"/clusters", 200, []string{"cluster_w", "w1.xrd.test", "10.98.0.11", "down"}},
		{"/hypervisors", 200, []string{"No hypervisor is connected"}},
		{"/login", 200, []string{"Password"}},
		{"/nope", 404, []string{"no such page"}},
		{"/sessions/999999", 404, []string{"not found"}},
		{"/static/style.css", 200, []string{".topbar"}},
	} {
		code, body, hd := ts.get(t, c, tc.path)
		if code != tc.code {
			t.Errorf("GET %s: %d, want %d\n%s", tc.path, code, tc.code, body)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: lacks %q", tc.path, w)
			}
		}
		if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
	}
	// The API gives the same views.
	for _, p := range []string{"/api/v1/dashboard", "/api/v1/stats?days=7", "/api/v1/clusters", "/api/v1/hypervisors",
		"/api/v1/suites/overview", "/api/v1/history?suite=hello", fmt.Sprintf("/api/v1/sessions/%d/view", s.ID),
		"/api/v1/suites/hello/cases", "/api/v1/suites/hello/cases/greet"} {
		code, body, hd := ts.get(t, c, p)
		if code != 200 || !strings.HasPrefix(hd.Get("Content-Type"), "application/json") || !json.Valid([]byte(body)) {
			t.Errorf("GET %s: %d %s\n%s", p, code, hd.Get("Content-Type"), body)
		}
	}
	code, body, _ := ts.get(t, c, fmt.Sprintf("/api/v1/sessions/%d/script?stage=0&slave=w1.xrd.test", s.ID))
	if code != 200 || body != "echo init" {
		t.Errorf("script: %d %q", code, body)
	}
	code, body, _ = ts.get(t, c, fmt.Sprintf("/api/v1/sessions/%d?scripts=0", s.ID))
	if code != 200 || strings.Contains(body, "echo init") || !strings.Contains(body, "w1.xrd.test") {
		t.Errorf("session without scripts: %d\n%s", code, body)
	}
	code, body, _ = ts.get(t, c, fmt.Sprintf("/api/v1/sessions/%d", s.ID))
	if code != 200 || !strings.Contains(body, "echo init") {
		t.Errorf("session with scripts: %d\n%s", code, body)
	}
}

// TestParamsValidated: bad history filters and path parameters are 400s
// naming the parameter, never 500s.
func TestParamsValidated(t *testing.T) {
	ts := start(t)
	c := client(t)
	for _, tc := range []struct{ path, want string }{
		{"/history?state=bogus", "state"},
		{"/history?page=0", "page"},
		{"/history?page=-4", "page"},
		{"/history?page=abc", "page"},
		{"/history?per_page=100000", "per_page"},
		{"/history?from=yesterday", "from"},
		{"/history?to=2999-01-01", "to"},
		{"/history?from=2024-02-01&to=2024-01-01", "before"},
		{"/history?suite=" + url.QueryEscape("a\x00b"), "suite"},
		{"/sessions/abc", "bad session id"},
		{"/sessions/-1", "bad session id"},
		{"/sessions/1/result?stage=x&slave=a", "stage=INDEX"},
		{"/sessions/1/result?stage=0", "stage=INDEX"},
		{"/sessions/1/output/stream?stage=0", "stage=INDEX"},
		{"/sessions/1/result?stage=0&slave=a&offset=-1", "offset"},
		{"/sessions/1/log?slave=a", "path=PATH"},
		{"/api/v1/history?state=bogus", "state"},
		{"/api/v1/stats?days=0", "days"},
		{"/api/v1/sessions/x/view", "bad session id"},
	} {
		code, body, _ := ts.get(t, c, tc.path)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d, want 400 naming %q\n%s", tc.path, code, tc.want, body)
		}
	}
	// A deep page past the end is empty, not an error.
	if code, body, _ := ts.get(t, c, "/history?page=5000"); code != 200 || !strings.Contains(body, "No session matches") {
		t.Errorf("deep page: %d", code)
	}
}

// TestActionsNeedLoginAndCSRF: every POST needs the login, the login's
// CSRF token and a same-site Origin/Referer.
func TestActionsNeedLoginAndCSRF(t *testing.T) {
	ts := start(t)
	anon := client(t)
	posts := []string{"/suites/hello/run", "/suites/hello/enabled", "/sessions/1/cancel", "/sessions/1/rerun", "/sessions/1/hold/release", "/sessions/1/hold/extend", "/clusters/cluster_w/stop", "/repos/reload",
		"/suites/hello/cases/greet/quarantine", "/suites/hello/cases/greet/unquarantine", "/logout"}
	for _, p := range posts {
		if code, body, _ := ts.post(t, anon, p, "", url.Values{"enabled": {"0"}}); code != http.StatusUnauthorized {
			t.Errorf("POST %s without login: %d, want 401\n%s", p, code, body)
		}
	}
	if code, _, _ := ts.post(t, anon, "/login", "", url.Values{"password": {"wrong"}}); code != http.StatusUnauthorized {
		t.Errorf("login with a wrong password: %d", code)
	}
	c := client(t)
	csrf := ts.login(t, c, "alice")
	for _, p := range posts {
		// No token, a wrong token, a foreign origin, no origin at all.
		for _, tc := range []struct {
			name, origin string
			form         url.Values
			want         int
		}{
			{"no token", "", url.Values{"enabled": {"0"}}, http.StatusForbidden},
			{"wrong token", "", url.Values{"enabled": {"0"}, "csrf": {csrf + "x"}}, http.StatusForbidden},
			{"foreign origin", "http://evil.example", url.Values{"enabled": {"0"}, "csrf": {csrf}}, http.StatusForbidden},
			{"no origin", "-", url.Values{"enabled": {"0"}, "csrf": {csrf}}, http.StatusForbidden},
		} {
			if code, body, _ := ts.post(t, c, p, tc.origin, tc.form); code != tc.want {
				t.Errorf("POST %s, %s: %d, want %d\n%s", p, tc.name, code, tc.want, body)
			}
		}
	}
	// With everything right, the action happens and is logged with the user.
	code, _, hd := ts.post(t, c, "/suites/hello/enabled", "", url.Values{"enabled": {"0"}, "csrf": {csrf}})
	if code != http.StatusSeeOther {
		t.Fatalf("disable: %d", code)
	}
	if en, known, _ := ts.m.Store.SuiteEnabled(context.Background(), "hello"); !known || en {
		t.Errorf("suite hello not disabled (%v %v); redirect %s", en, known, hd.Get("Location"))
	}
	loc := hd.Get("Location")
	if _, body, _ := ts.get(t, c, loc); !strings.Contains(body, "Suite hello disabled.") {
		t.Errorf("no message after disabling (%s)", loc)
	}
	// The reload button reloads and says what it found.
	if _, body, _ := ts.get(t, c, "/suites"); !strings.Contains(body, `action="/repos/reload"`) {
		t.Error("no reload button for a logged-in user")
	}
	code, _, hd = ts.post(t, c, "/repos/reload", "", url.Values{"csrf": {csrf}})
	if _, body, _ := ts.get(t, c, hd.Get("Location")); code != http.StatusSeeOther || !strings.Contains(body, "Definitions reloaded: 1 suite, 1 cluster, 1 error (the last good definitions stay in use).") {
		t.Errorf("reload: %d to %s", code, hd.Get("Location"))
	}
	if !strings.Contains(ts.logs.String(), `msg="web: reload of the definitions" by="web (alice)"`) {
		t.Error("the reload is not logged with the user")
	}
	if _, body, _ := ts.get(t, c, "/suites?flash=Your+password+expired"); strings.Contains(body, "password expired") {
		t.Error("an unsigned message is shown")
	}
	if !strings.Contains(ts.logs.String(), "user=alice") {
		t.Errorf("the action is not logged with its user:\n%s", ts.logs.String())
	}
	// Referer instead of Origin is accepted from the site only.
	req, _ := http.NewRequest(http.MethodPost, ts.base+"/suites/hello/enabled", strings.NewReader(url.Values{"enabled": {"1"}, "csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", ts.base+"/suites")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("enable with a same-site Referer: %d", resp.StatusCode)
	}
	// A forged cookie is no login.
	forged := client(t)
	u, _ := url.Parse(ts.base)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: "xrdtest_login", Value: "eyJuIjoibWFsbG9yeSIsImUiOjk5OTk5OTk5OTksIngiOiJ4In0.AAAA"}})
	if code, _, _ := ts.post(t, forged, "/suites/hello/enabled", "", url.Values{"enabled": {"0"}, "csrf": {csrf}}); code != http.StatusUnauthorized {
		t.Errorf("forged cookie: %d, want 401", code)
	}
	// Log out: the token no longer works... the cookie is gone.
	if code, _, _ := ts.post(t, c, "/logout", "", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := ts.post(t, c, "/suites/hello/enabled", "", url.Values{"enabled": {"0"}, "csrf": {csrf}}); code != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", code)
	}
}

// TestLoginRedirectStaysOnSite: next= cannot send the user elsewhere.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	ts := start(t)
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
		"/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/x\\..\\\\evil.example", "/\x00/evil.example"} {
		c := client(t)
		code, _, hd := ts.post(t, c, "/login", "", url.Values{"password": {password}, "next": {next}})
		if code != http.StatusSeeOther || hd.Get("Location") != "/" {
			t.Errorf("next=%q: %d to %q, want /", next, code, hd.Get("Location"))
		}
	}
}

// TestPrivatePages: with public_pages = 0 reads need the login, API reads
// the login or the API token; the login page itself stays open.
func TestPrivatePages(t *testing.T) {
	ts := start(t, private)
	anon := client(t)
	if code, _, hd := ts.get(t, anon, "/history"); code != http.StatusSeeOther || !strings.HasPrefix(hd.Get("Location"), "/login?next=") {
		t.Errorf("private page without login: %d %s", code, hd.Get("Location"))
	}
	if code, _, _ := ts.get(t, anon, "/api/v1/sessions"); code != http.StatusUnauthorized {
		t.Errorf("private API without token: %d", code)
	}
	if code, _, _ := ts.get(t, anon, "/login"); code != 200 {
		t.Errorf("login page: %d", code)
	}
	for tok, want := range map[string]int{"api-token-123": 200, "ci-token-0123456789abcdef": 200, "ci-token-0123456789abcdeX": 401, "ci": 401} {
		for _, path := range []string{"/api/v1/sessions", "/metrics"} {
			req, _ := http.NewRequest("GET", ts.base+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := anon.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("private %s with the token %q: %d, want %d", path, tok, resp.StatusCode, want)
			}
		}
	}
	c := client(t)
	ts.login(t, c, "bob")
	if code, _, _ := ts.get(t, c, "/history"); code != 200 {
		t.Errorf("private page after login: %d", code)
	}
}

// TestTokenReadsPrivatePages: with public_pages = 0 a valid API token
// reads every page, script and log a login does, and acts on none;
// GET /api/v1/sessions/{id}/log sends a collected log as text.
func TestTokenReadsPrivatePages(t *testing.T) {
	ts := start(t, private)
	ctx := context.Background()
	s := &store.Session{Suite: "hello", State: store.SessionPassed, Machines: []string{"w1.xrd.test"}}
	ts.m.Store.CreateSession(ctx, s)
	lw, err := ts.m.Store.LogWriter(s.ID, "w1.xrd.test", "/var/log/xrootd.log")
	if err != nil {
		t.Fatal(err)
	}
	lw.Write([]byte("<b>log line</b>\n"))
	lw.Close()
	logQ := "slave=w1.xrd.test&path=" + url.QueryEscape("/var/log/xrootd.log")
	do := func(method, path, tok string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	paths := []string{"/", "/history", "/clusters", fmt.Sprintf("/sessions/%d", s.ID),
		fmt.Sprintf("/sessions/%d/log?%s", s.ID, logQ), fmt.Sprintf("/sessions/%d/log/raw?%s", s.ID, logQ),
		"/showScript/test-suites/hello/init.sh", fmt.Sprintf("/api/v1/sessions/%d/log?%s", s.ID, logQ)}
	for _, path := range paths {
		if code, body, _ := do("GET", path, "ci-token-0123456789abcdef"); code != http.StatusOK {
			t.Errorf("GET %s with the token: %d, want 200\n%s", path, code, body)
		}
	}
	// Last: wrong tokens soon get the address refused (429).
	defer func() {
		for _, path := range paths {
			if code, _, _ := do("GET", path, "ci-token-0123456789abcdeX"); code != http.StatusSeeOther && code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
				t.Errorf("GET %s with a wrong token: %d", path, code)
			}
		}
	}()
	// The token is no login: the pages' actions still need one.
	if code, _, _ := do("POST", "/suites/hello/run", "ci-token-0123456789abcdef"); code == http.StatusSeeOther || code < 400 {
		t.Errorf("a page action with the token: %d", code)
	}
	code, body, hd := do("GET", fmt.Sprintf("/api/v1/sessions/%d/log?%s", s.ID, logQ), "api-token-123")
	if code != 200 || body != "<b>log line</b>\n" || !strings.HasPrefix(hd.Get("Content-Type"), "text/plain") || hd.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("API log: %d %v %q", code, hd, body)
	}
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{fmt.Sprintf("/api/v1/sessions/%d/log?slave=w1.xrd.test&path=/var/log/gone.log", s.ID), 404, "never collected, or deleted by the retention limits"},
		{fmt.Sprintf("/api/v1/sessions/%d/log?slave=w1.xrd.test", s.ID), 400, "give slave=NAME and path=PATH"},
	} {
		if code, body, _ := do("GET", tc.path, "api-token-123"); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d %s, want %d", tc.path, code, body, tc.code)
		}
	}
}

// TestOutputEscaped: output, script, names and messages are text: a
// script printing markup shows it, never runs it.
func TestOutputEscaped(t *testing.T) {
	ts := start(t)
	c := client(t)
	ctx := context.Background()
	evil := `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`
	s := &store.Session{Suite: "hello", State: store.SessionPassed, Machines: []string{"w1.xrd.test"}, TriggeredBy: evil, Reason: evil}
	ts.m.Store.CreateSession(ctx, s)
	ts.m.Store.PutStage(ctx, &store.Stage{SessionID: s.ID, Index: 0, Name: "suite_init"})
	ts.m.Store.PutResult(ctx, &store.Result{SessionID: s.ID, Stage: 0, Slave: "w1.xrd.test", Status: store.StatusPassed, Message: evil, Script: "echo '" + evil + "'"})
	w, _ := ts.m.Store.OutputWriter(s.ID, 0, "w1.xrd.test")
	w.Append(1, []byte(evil+"\n"))
	w.Close()
	// A case named evil failed, on a revision named evil, with a
	// fingerprint whose text is evil.
	s.RepoRevision = evil
	ts.m.Store.UpdateSession(ctx, s)
	ts.m.Store.PutStage(ctx, &store.Stage{SessionID: s.ID, Index: 1, Name: evil + ":run", Case: evil})
	ts.m.Store.PutFingerprint(ctx, "0123456789abcdef", evil)
	ts.m.Store.PutResult(ctx, &store.Result{SessionID: s.ID, Stage: 1, Slave: "w1.xrd.test", Status: store.StatusFailed, Fingerprint: "0123456789abcdef"})
	lw, _ := ts.m.Store.LogWriter(s.ID, "w1.xrd.test", "/var/log/"+evil)
	lw.Write([]byte(evil))
	lw.Close()
	for _, p := range []string{
		fmt.Sprintf("/sessions/%d", s.ID),
		fmt.Sprintf("/sessions/%d/result?stage=0&slave=w1.xrd.test", s.ID),
		fmt.Sprintf("/sessions/%d/log?slave=w1.xrd.test&path=%s", s.ID, url.QueryEscape("/var/log/"+evil)),
		"/history",
		"/suites/hello/cases",
		"/suites/hello/cases/" + url.PathEscape(evil),
	} {
		code, body, hd := ts.get(t, c, p)
		if code != 200 {
			t.Fatalf("GET %s: %d\n%s", p, code, body)
		}
		if strings.Contains(body, "<script>window") || strings.Contains(body, "<img src=x") {
			t.Errorf("GET %s: markup from the history reached the page unescaped", p)
		}
		if !strings.Contains(body, "&lt;script&gt;window.__xss=1&lt;/script&gt;") {
			t.Errorf("GET %s: the escaped text is not shown", p)
		}
		if ct := hd.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
	}
	code, body, hd := ts.get(t, c, fmt.Sprintf("/sessions/%d/output/raw?stage=0&slave=w1.xrd.test", s.ID))
	if code != 200 || !strings.HasPrefix(hd.Get("Content-Type"), "text/plain") || !strings.Contains(hd.Get("Content-Disposition"), "attachment") || body != evil+"\n" {
		t.Errorf("raw output: %d %q %q %q", code, hd.Get("Content-Type"), hd.Get("Content-Disposition"), body)
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ name, id, data string }

func readEvents(t *testing.T, r *bufio.Reader, events chan<- sseEvent) {
	defer close(events)
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.name != "" {
				events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			ev.name = line[7:]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

func next(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

// TestOutputStream: the SSE stream delivers each chunk as it is written,
// keeps characters whole, and ends when the stage has ended.
func TestOutputStream(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	s := &store.Session{Suite: "hello", State: store.SessionRunning, Machines: []string{"w1.xrd.test"}}
	ts.m.Store.CreateSession(ctx, s)
	ts.m.Store.PutStage(ctx, &store.Stage{SessionID: s.ID, Index: 0, Name: "suite_init", Started: time.Now()})
	res := &store.Result{SessionID: s.ID, Stage: 0, Slave: "w1.xrd.test", Status: store.StatusRunning, Start: time.Now()}
	ts.m.Store.PutResult(ctx, res)

	resp, err := http.Get(fmt.Sprintf("%s/sessions/%d/output/stream?stage=0&slave=w1.xrd.test", ts.base, s.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") || resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("headers: %v", resp.Header)
	}
	events := make(chan sseEvent, 100)
	go readEvents(t, bufio.NewReader(resp.Body), events)

	w, err := ts.m.Store.OutputWriter(s.ID, 0, "w1.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	text := func(ev sseEvent) string {
		var d struct{ T string }
		if ev.name != "output" || json.Unmarshal([]byte(ev.data), &d) != nil {
			t.Fatalf("event %+v, want output", ev)
		}
		return d.T
	}
	// Each chunk arrives before the next is written.
	w.Append(1, []byte("A <b>\n"))
	if got := text(next(t, events)); got != "A <b>\n" {
		t.Errorf("first chunk %q", got)
	}
	// "é" cut between two chunks arrives whole.
	w.Append(2, []byte("caf\xc3"))
	w.Append(3, []byte("\xa9\n"))
	var got string
	for got != "café\n" {
		ev := next(t, events)
		got += text(ev)
		if strings.ContainsRune(got, '\uFFFD') {
			t.Fatalf("a character was cut: %q", got)
		}
		if ev.id == "" {
			t.Errorf("output event without an id (offset)")
		}
	}
	w.Close()
	res.Status, res.End, res.ExitCode = store.StatusFailed, time.Now(), new(int)
	*res.ExitCode = 2
	ts.m.Store.PutResult(ctx, res)
	end := next(t, events)
	if end.name != "end" || !strings.Contains(end.data, `"failed"`) {
		t.Errorf("end event %+v", end)
	}
	if _, ok := <-events; ok {
		t.Error("the stream goes on after its end")
	}

	// Resuming from an offset (Last-Event-ID) sends only the rest.
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/sessions/%d/output/stream?stage=0&slave=w1.xrd.test", ts.base, s.ID), nil)
	req.Header.Set("Last-Event-ID", "6")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	events2 := make(chan sseEvent, 100)
	go readEvents(t, bufio.NewReader(resp2.Body), events2)
	if got := text(next(t, events2)); got != "café\n" {
		t.Errorf("resumed at 6: %q", got)
	}
	if ev := next(t, events2); ev.name != "end" {
		t.Errorf("resumed stream: %+v, want end", ev)
	}
}

// TestSessionEvents: a session's change stream reports changes and ends
// when the session has.
func TestSessionEvents(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	s := &store.Session{Suite: "hello", State: store.SessionRunning, Machines: []string{"w1.xrd.test"}}
	ts.m.Store.CreateSession(ctx, s)
	resp, err := http.Get(fmt.Sprintf("%s/sessions/%d/events", ts.base, s.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan sseEvent, 100)
	go readEvents(t, bufio.NewReader(resp.Body), events)
	time.Sleep(100 * time.Millisecond) // let the handler subscribe
	ts.m.Changes.Publish(s.ID)
	if ev := next(t, events); ev.name != "change" {
		t.Errorf("event %+v, want change", ev)
	}
	s.State, s.Ended = store.SessionPassed, time.Now()
	ts.m.Store.UpdateSession(ctx, s)
	ts.m.Changes.Publish(s.ID)
	for ev := next(t, events); ev.name != "end"; ev = next(t, events) {
	}
}

// TestLargeOutputPaged: a large output is shown by pages of at most 256
// KiB with links to the others, split on lines.
func TestLargeOutputPaged(t *testing.T) {
	ts := start(t)
	c := client(t)
	ctx := context.Background()
	s := &store.Session{Suite: "hello", State: store.SessionPassed, Machines: []string{"w1.xrd.test"}}
	ts.m.Store.CreateSession(ctx, s)
	ts.m.Store.PutStage(ctx, &store.Stage{SessionID: s.ID, Index: 0, Name: "suite_init"})
	ts.m.Store.PutResult(ctx, &store.Result{SessionID: s.ID, Stage: 0, Slave: "w1.xrd.test", Status: store.StatusPassed})
	w, _ := ts.m.Store.OutputWriter(s.ID, 0, "w1.xrd.test")
	line := strings.Repeat("x", 99) + "\n"
	var seq uint64
	for i := 0; i < 10; i++ { // 10 x 100 KiB-ish
		seq++
		w.Append(seq, []byte(strings.Repeat(line, 1024)))
	}
	w.Close()
	total := 10 * 1024 * 100
	seen := 0
	path := fmt.Sprintf("/sessions/%d/result?stage=0&slave=w1.xrd.test", s.ID)
	for pages := 0; path != ""; pages++ {
		if pages > 10 {
			t.Fatal("too many pages")
		}
		code, body, _ := ts.get(t, c, path)
		if code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		m := regexp.MustCompile(`(?s)<pre class="output" id="output">(.*?)</pre>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no output in %s", path)
		}
		if len(m[1]) > 256<<10 || len(m[1])%100 != 0 {
			t.Errorf("page %d: %d bytes (more than 256 KiB or not whole lines)", pages, len(m[1]))
		}
		seen += len(m[1])
		path = ""
		if n := regexp.MustCompile(`href="([^"]*offset=\d+[^"]*)">Next`).FindStringSubmatch(body); n != nil {
			path = strings.ReplaceAll(n[1], "&amp;", "&")
		}
	}
	if seen != total {
		t.Errorf("pages hold %d bytes, want %d", seen, total)
	}
	// Last: one click to the page that ends at the end, whole lines.
	_, body, _ := ts.get(t, c, fmt.Sprintf("/sessions/%d/result?stage=0&slave=w1.xrd.test", s.ID))
	n := regexp.MustCompile(`href="([^"]*offset=\d+[^"]*)">Last`).FindStringSubmatch(body)
	if n == nil {
		t.Fatal("no Last link on the first page")
	}
	_, body, _ = ts.get(t, c, strings.ReplaceAll(n[1], "&amp;", "&"))
	m := regexp.MustCompile(`(?s)<pre class="output" id="output">(.*?)</pre>`).FindStringSubmatch(body)
	if m == nil || len(m[1]) > 256<<10 || len(m[1]) < 128<<10 || len(m[1])%100 != 0 || !strings.HasPrefix(m[1], "xxx") {
		t.Errorf("last page: not whole lines, or not most of a page")
	}
	if !strings.Contains(body, fmt.Sprintf("–%d of %d", total, total)) || strings.Contains(body, ">Next") || !strings.Contains(body, ">‹ Previous") {
		t.Errorf("the last page does not end at the end, or links on")
	}
}

// TestHeldSessionPage: a held session's page says until when and how to
// look at it; a logged-in user gets the release and extend buttons, the
// others a login link. A release of a session that is not held is
// refused.
func TestHeldSessionPage(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	s := &store.Session{Suite: "hello", State: store.SessionHeld, Machines: []string{"w1.xrd.test"}, Cases: []string{"greet"}, HoldUntil: until}
	ts.m.Store.CreateSession(ctx, s)
	page := fmt.Sprintf("/sessions/%d", s.ID)
	_, body, _ := ts.get(t, client(t), page)
	for _, want := range []string{`class="badge st-held"`, "Held until " + until.Local().Format("2006-01-02 15:04:05"), fmt.Sprintf("xrdtest shell %d HOST", s.ID), "Log in to release or extend"} {
		if !strings.Contains(body, want) {
			t.Errorf("anonymous page lacks %q", want)
		}
	}
	if strings.Contains(body, "hold/release") {
		t.Error("a release button without a login")
	}
	c := client(t)
	csrf := ts.login(t, c, "dave")
	_, body, _ = ts.get(t, c, page)
	for _, want := range []string{page + "/hold/release", page + "/hold/extend", `<option value="30m">`} {
		if !strings.Contains(body, want) {
			t.Errorf("logged-in page lacks %q", want)
		}
	}
	// No session of this master holds it: refused, nothing changed.
	if code, body, _ := ts.post(t, c, page+"/hold/release", "", url.Values{"csrf": {csrf}}); code != http.StatusConflict || !strings.Contains(body, "not held") {
		t.Errorf("release: %d\n%s", code, body)
	}
	if code, body, _ := ts.post(t, c, page+"/hold/extend", "", url.Values{"csrf": {csrf}, "duration": {"later"}}); code != http.StatusBadRequest {
		t.Errorf("extend by nonsense: %d\n%s", code, body)
	}
	if got, _ := ts.m.Store.Session(ctx, s.ID); got.State != store.SessionHeld || !got.HoldUntil.Equal(until) {
		t.Errorf("the refused actions changed the session: %+v", got)
	}
}

// TestRerunAndRun: the re-run button starts the same suite again (all its
// cases, or those checked); Run now with some cases runs only those.
func TestRerunAndRun(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	old := &store.Session{Suite: "hello", State: store.SessionFailed, Machines: []string{"w1.xrd.test", "w2.xrd.test"}, Cases: []string{"greet", "bye"}}
	ts.m.Store.CreateSession(ctx, old)
	c := client(t)
	csrf := ts.login(t, c, "carol")
	started := func(code int, hd http.Header) *store.Session {
		t.Helper()
		var id int64
		if _, err := fmt.Sscanf(hd.Get("Location"), "/sessions/%d", &id); code != http.StatusSeeOther || err != nil {
			t.Fatalf("%d to %q", code, hd.Get("Location"))
		}
		s, err := ts.m.Store.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	code, _, hd := ts.post(t, c, fmt.Sprintf("/sessions/%d/rerun", old.ID), "", url.Values{"csrf": {csrf}})
	if s := started(code, hd); s.Suite != "hello" || strings.Join(s.Cases, ",") != "greet,bye" || !strings.Contains(s.TriggeredBy, "carol") {
		t.Errorf("re-run: %+v", s)
	}
	code, _, hd = ts.post(t, c, fmt.Sprintf("/sessions/%d/rerun", old.ID), "", url.Values{"csrf": {csrf}, "case": {"bye"}})
	if s := started(code, hd); strings.Join(s.Cases, ",") != "bye" || !strings.Contains(s.TriggeredBy, fmt.Sprintf("re-run of session %d", old.ID)) {
		t.Errorf("re-run of bye: %+v", s)
	}
	code, _, hd = ts.post(t, c, "/suites/hello/run", "", url.Values{"csrf": {csrf}, "case": {"greet"}})
	if s := started(code, hd); strings.Join(s.Cases, ",") != "greet" || s.TriggeredBy != "web (carol)" {
		t.Errorf("run greet: %+v", s)
	}
	if code, body, _ := ts.post(t, c, "/suites/hello/run", "", url.Values{"csrf": {csrf}, "case": {"nope"}}); code != http.StatusNotFound || !strings.Contains(body, "nope") {
		t.Errorf("run of an unknown case: %d\n%s", code, body)
	}
	// The form's retries and hold go to the session.
	code, _, hd = ts.post(t, c, "/suites/hello/run", "", url.Values{"csrf": {csrf}, "retries": {"2"}, "hold": {"30m"}})
	if s := started(code, hd); s.Suite != "hello" {
		t.Errorf("run with retries and hold: %+v", s)
	}
	if !strings.Contains(ts.logs.String(), "retries=2 hold=30m0s") {
		t.Errorf("the run's retries and hold are not in the log")
	}
	for _, form := range []url.Values{{"hold": {"soon"}}, {"hold": {"-5m"}}, {"retries": {"-1"}}, {"retries": {"many"}}, {"hold": {"5h"}}} {
		form.Set("csrf", csrf)
		if code, body, _ := ts.post(t, c, "/suites/hello/run", "", form); code != http.StatusBadRequest {
			t.Errorf("run with %v: %d, want 400\n%s", form, code, body)
		}
	}
	// This master's machines connect by themselves: no cluster to stop
	// (409, as the API answers the same action).
	if code, _, _ := ts.post(t, c, "/clusters/cluster_w/stop", "", url.Values{"csrf": {csrf}}); code != http.StatusConflict {
		t.Errorf("stop cluster without a provider: %d", code)
	}
	if _, body, _ := ts.get(t, c, "/clusters"); strings.Contains(body, "Stop cluster") {
		t.Error("a stop button without a cluster provider")
	}
	// Statuses as the API's: what does not exist is 404.
	for _, p := range []string{"/sessions/999/rerun", "/sessions/999/cancel"} {
		if code, body, _ := ts.post(t, c, p, "", url.Values{"csrf": {csrf}}); code != http.StatusNotFound || !strings.Contains(body, "999") {
			t.Errorf("POST %s: %d, want 404\n%s", p, code, body)
		}
	}
	if code, body, _ := ts.post(t, c, fmt.Sprintf("/sessions/%d/cancel", old.ID), "", url.Values{"csrf": {csrf}}); code != http.StatusConflict {
		t.Errorf("cancel of an ended session: %d, want 409\n%s", code, body)
	}
}

// noClusters is a cluster provider that starts nothing.
type noClusters struct{}

func (noClusters) StartCluster(context.Context, hypervisor.ClusterSpec) error {
	return errors.New("no machines in this test")
}
func (noClusters) StopCluster(context.Context, string) error { return nil }
func (noClusters) Running(string) bool                       { return false }
func (noClusters) Clusters() []string                        { return nil }
func (noClusters) Capacity(context.Context) (hypervisor.Capacity, error) {
	return hypervisor.Capacity{}, nil
}

// TestStopUnknownCluster: a cluster that is not defined is 404, as the
// API's.
func TestStopUnknownCluster(t *testing.T) {
	ts := start(t, func(o *master.Options, _ *webOpts) { o.Clusters = noClusters{} })
	c := client(t)
	csrf := ts.login(t, c, "dave")
	if code, body, _ := ts.post(t, c, "/clusters/nosuch/stop", "", url.Values{"csrf": {csrf}}); code != http.StatusNotFound || !strings.Contains(body, "nosuch") {
		t.Errorf("stop of an unknown cluster: %d, want 404\n%s", code, body)
	}
}

// TestHTTPS: with [webserver] protocol = https the pages are served with
// the master's certificate (issued by its CA) and the login cookie is
// Secure.
func TestHTTPS(t *testing.T) {
	ts := start(t, func(o *master.Options, _ *webOpts) { o.WebTLS = true })
	if !strings.HasPrefix(ts.base, "https://") {
		t.Fatal(ts.base)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ts.m.CA.Certificate())
	c := client(t)
	// Fully verified: the certificate names 127.0.0.1 and localhost too.
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	if code, body, _ := ts.get(t, c, "/"); code != 200 || !strings.Contains(body, "Dashboard") {
		t.Fatalf("GET / over HTTPS: %d", code)
	}
	code, _, hd := ts.post(t, c, "/login", "", url.Values{"password": {password}})
	if code != http.StatusSeeOther || !strings.Contains(hd.Get("Set-Cookie"), "Secure") {
		t.Errorf("login over HTTPS: %d, cookie %q", code, hd.Get("Set-Cookie"))
	}
	// Plain HTTP is not served on the HTTPS port.
	if resp, err := http.Get("http://" + ts.m.WebAddr().String() + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered on the HTTPS port")
		}
	}
}

// TestDashboardEvents: the dashboard's stream reports any session change.
func TestDashboardEvents(t *testing.T) {
	ts := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.base+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 10)
	go readEvents(t, bufio.NewReader(resp.Body), events)
	// Publish until the handler, subscribed by now, passes it on.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.name != "change" {
				t.Fatalf("event %+v, want change", ev)
			}
			return
		case <-tick.C:
			ts.m.Changes.Publish(42)
		case <-deadline:
			t.Fatal("no change event")
		}
	}
}

// siteCert writes a self-signed certificate for 127.0.0.1 and its key,
// as a site's own CA would issue, and returns the certificate.
func siteCert(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	cert, key := testutil.SelfSigned(t, &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
	return cert
}

// TestHTTPSSiteCertificate: with [security] certfile and keyfile the web
// port presents that certificate, and a renewed one without a restart.
func TestHTTPSSiteCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "web.pem"), filepath.Join(dir, "web-key.pem")
	first := siteCert(t, certFile, keyFile, "site one")
	ts := start(t, func(o *master.Options, _ *webOpts) { o.WebTLS, o.WebCertFile, o.WebKeyFile = true, certFile, keyFile })
	served := func(trust *x509.Certificate) error {
		roots := x509.NewCertPool()
		roots.AddCert(trust)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		resp, err := c.Get(ts.base + "/login")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := served(first); err != nil {
		t.Fatalf("the site certificate is not served: %v", err)
	}
	// Renewed in place: served at the next handshake.
	later := time.Now().Add(2 * time.Second)
	second := siteCert(t, certFile, keyFile, "site two")
	os.Chtimes(certFile, later, later)
	os.Chtimes(keyFile, later, later)
	if err := served(second); err != nil {
		t.Errorf("the renewed certificate is not served: %v", err)
	}
	// A master whose certificate files are missing does not start.
	_, err := master.Open(context.Background(), master.Options{StateDir: t.TempDir(), DaemonAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0",
		Log: slog.New(slog.DiscardHandler), WebTLS: true, WebCertFile: filepath.Join(dir, "nope.pem"), WebKeyFile: keyFile})
	if err == nil || !strings.Contains(err.Error(), "web certificate ([security] certfile, keyfile)") {
		t.Errorf("missing certificate file: %v", err)
	}
}

// TestOutputStreamUnknownCell: following the output of a stage or slave
// the session does not have is 404 at once, on the pages and the API.
func TestOutputStreamUnknownCell(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	s := &store.Session{Suite: "hello", State: store.SessionRunning, Machines: []string{"w1.xrd.test"}, Cases: []string{"greet"}}
	ts.m.Store.CreateSession(ctx, s)
	c := &http.Client{Timeout: 5 * time.Second}
	for _, q := range []string{"stage=99&slave=w1.xrd.test", "stage=0&slave=bogus", "stage=5&slave=w2.xrd.test"} {
		for _, path := range []string{
			fmt.Sprintf("/sessions/%d/output/stream?%s", s.ID, q),
			fmt.Sprintf("/api/v1/sessions/%d/output?follow=1&%s", s.ID, q),
		} {
			resp, err := c.Get(ts.base + path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "has no") {
				t.Errorf("%s: %d, want 404\n%s", path, resp.StatusCode, b)
			}
		}
	}
	if code, body, _ := ts.get(t, c, fmt.Sprintf("/sessions/%d/result?stage=0&slave=bogus", s.ID)); code != http.StatusNotFound {
		t.Errorf("the result page of a slave the session does not have: %d, want 404\n%s", code, body)
	}
	// A planned stage (greet:finalize, 3) of a machine of the session is
	// followed: it has not started yet.
	ctx2, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx2, "GET", fmt.Sprintf("%s/sessions/%d/output/stream?stage=3&slave=w1.xrd.test", ts.base, s.ID), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a planned stage: %d, want 200", resp.StatusCode)
	}
}

// TestStreamsOutliveTimeouts: a stage's live output (SSE) and its
// followed output (API) keep flowing past the web port's read and write
// timeouts.
func TestStreamsOutliveTimeouts(t *testing.T) {
	ts := start(t, func(o *master.Options, _ *webOpts) {
		o.WebLimits = master.WebLimits{Read: 300 * time.Millisecond, Write: 300 * time.Millisecond}
	})
	ctx := context.Background()
	s := &store.Session{Suite: "hello", State: store.SessionRunning, Machines: []string{"w1.xrd.test"}}
	ts.m.Store.CreateSession(ctx, s)
	ts.m.Store.PutStage(ctx, &store.Stage{SessionID: s.ID, Index: 0, Name: "suite_init", Started: time.Now()})
	ts.m.Store.PutResult(ctx, &store.Result{SessionID: s.ID, Stage: 0, Slave: "w1.xrd.test", Status: store.StatusRunning, Start: time.Now()})
	w, err := ts.m.Store.OutputWriter(s.ID, 0, "w1.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Append(1, []byte("first\n"))
	lines := map[string]chan string{}
	for _, path := range []string{"/sessions/%d/output/stream?stage=0&slave=w1.xrd.test", "/api/v1/sessions/%d/output?follow=1&stage=0&slave=w1.xrd.test"} {
		resp, err := http.Get(ts.base + fmt.Sprintf(path, s.ID))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		ch := make(chan string, 100)
		lines[path] = ch
		go func() {
			defer close(ch)
			br := bufio.NewReader(resp.Body)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				ch <- line
			}
		}()
	}
	time.Sleep(time.Second) // past both timeouts
	w.Append(2, []byte("after the timeouts\n"))
	for path, ch := range lines {
		deadline := time.After(5 * time.Second)
	wait:
		for {
			select {
			case line, ok := <-ch:
				if !ok {
					t.Errorf("%s: the stream ended at the server's timeouts", path)
					break wait
				}
				if strings.Contains(line, "after the timeouts") {
					break wait
				}
			case <-deadline:
				t.Errorf("%s: no output written after the timeouts", path)
				break wait
			}
		}
	}
}

// TestQuarantinePage: a logged-in user quarantines a case from its page
// (CSRF-protected, logged with the user), the page and the cases API show
// it, and ends it; bad forms are refused.
func TestQuarantinePage(t *testing.T) {
	ts := start(t)
	c := client(t)
	csrf := ts.login(t, c, "alice")
	if _, body, _ := ts.get(t, c, "/suites/hello/cases/greet"); !strings.Contains(body, `id="quarantine-form"`) || !strings.Contains(body, "Not quarantined") {
		t.Fatalf("no quarantine form:\n%s", body)
	}
	until := time.Now().AddDate(0, 0, 7).Format(time.DateOnly)
	for _, tc := range []struct {
		form url.Values
		want int
	}{
		{url.Values{"reason": {""}, "until": {until}}, http.StatusBadRequest},
		{url.Values{"reason": {"x"}, "until": {"next week"}}, http.StatusBadRequest},
		{url.Values{"reason": {"x"}, "until": {"2000-01-01"}}, http.StatusBadRequest},
	} {
		tc.form.Set("csrf", csrf)
		if code, body, _ := ts.post(t, c, "/suites/hello/cases/greet/quarantine", "", tc.form); code != tc.want {
			t.Errorf("%v: %d, want %d\n%s", tc.form, code, tc.want, body)
		}
	}
	if code, _, _ := ts.post(t, c, "/suites/hello/cases/nope/quarantine", "", url.Values{"csrf": {csrf}, "reason": {"x"}, "until": {until}}); code != http.StatusNotFound {
		t.Errorf("unknown case: %d", code)
	}
	code, _, hd := ts.post(t, c, "/suites/hello/cases/greet/quarantine", "", url.Values{"csrf": {csrf}, "reason": {"<b>disk</b> flaps"}, "until": {until}})
	if code != http.StatusSeeOther {
		t.Fatalf("quarantine: %d", code)
	}
	if _, body, _ := ts.get(t, c, hd.Get("Location")); !strings.Contains(body, "Case greet quarantined until "+until) ||
		!strings.Contains(body, "by web (alice)") || !strings.Contains(body, "&lt;b&gt;disk&lt;/b&gt; flaps") || !strings.Contains(body, `id="unquarantine-button"`) {
		t.Errorf("after the quarantine:\n%s", body)
	}
	if !strings.Contains(ts.logs.String(), `msg="web: quarantine case" suite=hello case=greet`) {
		t.Error("the quarantine is not logged")
	}
	_, body, _ := ts.get(t, c, "/api/v1/suites/hello/cases")
	var cv struct {
		Cases []struct {
			Name       string
			Quarantine *struct{ Reason, By string }
		}
	}
	if err := json.Unmarshal([]byte(body), &cv); err != nil || len(cv.Cases) != 2 || cv.Cases[0].Quarantine == nil || cv.Cases[0].Quarantine.By != "web (alice)" || cv.Cases[1].Quarantine != nil {
		t.Errorf("cases API: %s (%v)", body, err)
	}
	code, _, hd = ts.post(t, c, "/suites/hello/cases/greet/unquarantine", "", url.Values{"csrf": {csrf}})
	if _, body, _ := ts.get(t, c, hd.Get("Location")); code != http.StatusSeeOther || !strings.Contains(body, "Case greet no longer quarantined.") || !strings.Contains(body, "Not quarantined") {
		t.Errorf("unquarantine: %d\n%s", code, body)
	}
	if code, _, _ := ts.post(t, c, "/suites/hello/cases/greet/unquarantine", "", url.Values{"csrf": {csrf}}); code != http.StatusNotFound {
		t.Errorf("unquarantine again: %d, want 404", code)
	}
}
