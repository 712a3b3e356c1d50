package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/chromedp"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/store"
)

const browserPass = "browser-pass-5150"

// clusterB is the two-host cluster of the browser test.
var clusterB = testutil.ClusterDef("cluster_b", "10.97.0", "none.img", "'1024'", "s1.xrd.test", "s2.xrd.test")

// xssLine is what the failing script prints: markup that must stay text.
const xssLine = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`

// chromium finds the browser. Without one the test skips, except in CI
// (CI=true), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (scripts/setup.sh installs it): the browser tests cannot run in CI without it")
	}
	t.Skip("chromium is not installed: apt-get install chromium")
	return ""
}

// newBrowser starts a headless chromium; each call of tab opens a tab in
// its own browser context (own cookies).
func newBrowser(t *testing.T, path string) (tab func() context.Context) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun, chromedp.WindowSize(1400, 900), chromedp.UserDataDir(t.TempDir()))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil { // start the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return func() context.Context {
		ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
		t.Cleanup(cancelT)
		return ctx
	}
}

// screenshotDir is where the screenshots go: $XRDTEST_ARTIFACTS/screenshots,
// or a new temporary folder (kept, and named in the log).
func screenshotDir(t *testing.T) string {
	t.Helper()
	var dir string
	if a := os.Getenv("XRDTEST_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		d, err := os.MkdirTemp("", "xrdtest-screenshots-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Error(err)
	}
}

// startBrowserMaster is an in-process master with the web pages and two
// slave processes.
func startBrowserMaster(t *testing.T, suites map[string]string) *resilienceMaster {
	t.Helper()
	var rm *resilienceMaster
	// Registered first, so it runs last: after the master stopped.
	t.Cleanup(func() {
		if rm != nil && strings.Contains(rm.logs.String(), browserPass) {
			t.Error("the password appears in the master's log")
		}
	})
	rm = startTestMaster(t, "cluster_b.py", clusterB, suites, func(o *master.Options) {
		o.Schedule = scheduler.Config{Enabled: true}
		o.ReloadDebounce = -1
		o.Pages = &master.Pages{Password: browserPass, Public: true}
	})
	rm.startSlave(t, "s1.xrd.test", rm.DaemonAddr().String())
	rm.startSlave(t, "s2.xrd.test", rm.DaemonAddr().String())
	return rm
}

// seedHistory adds finished sessions over the last days, for the
// statistics and the strips.
func seedHistory(t *testing.T, st store.Store) {
	ctx := context.Background()
	states := []store.SessionState{store.SessionPassed, store.SessionPassed, store.SessionFailed, store.SessionPassed, store.SessionCancelled}
	now := time.Now()
	for i := 0; i < 36; i++ {
		created := now.Add(-time.Duration(36-i) * 9 * time.Hour)
		s := &store.Session{Suite: []string{"live", "sleepy"}[i%2], State: states[i%len(states)], Machines: []string{"s1.xrd.test", "s2.xrd.test"},
			Cases: []string{"stream"}, TriggeredBy: scheduler.TriggeredBy, Created: created, Started: created.Add(2 * time.Second),
			Ended: created.Add(time.Duration(40+i*3) * time.Second)}
		if s.State == store.SessionFailed {
			s.Reason = "stream:run failed on s2.xrd.test (exit 1)"
		}
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
}

// js waits until the JavaScript expression is true.
func js(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond)) }()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(40*time.Second))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v (waiting for %s)\npage %s:\n%s", what, err, expr, loc, text)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// click clicks the element as a user would: mouse events at its centre.
// The pages' live updates replace parts of them. One that replaces the
// element between its lookup and the click makes chromedp fail before it
// sends any mouse event (scrolling the stale node into view, or reading
// its box): then the element is looked up again.
func click[S chromedp.Selectable](sel S) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			_, err := chromedp.Click(sel)(ctx, t)
			if !staleNode(err) {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (after %v)", ctx.Err(), err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// staleNode tells the browser's answer for a node that left the document.
func staleNode(err error) bool {
	var e *cdproto.Error
	return errors.As(err, &e) && (strings.Contains(e.Message, "node with given id") || strings.Contains(e.Message, "detached"))
}

func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
}

// TestBrowser drives the pages in chromium: connected slaves on the
// dashboard, a broken definition's error, cancel needing the login, a
// session started from the UI whose output streams live, a failing stage
// shown failed, script output that stays text.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser")
	}
	path := chromium(t)
	rm := startBrowserMaster(t, map[string]string{
		"live/test_suite.py":    strings.ReplaceAll(suiteDef("live", "", "stream", "bad"), "cluster_e2e", "cluster_b"),
		"live/init.sh":          "#!/bin/bash\necho init on @slavename@\n",
		"live/tc/stream/run.sh": "#!/bin/bash\necho A\nwhile [ ! -e \"$XRDTEST_SHARED/go-b\" ]; do sleep 0.05; done\necho B\n",
		"live/tc/bad/run.sh":    "#!/bin/bash\necho '" + xssLine + "'\nexit 3\n",
		"sleepy/test_suite.py":  strings.ReplaceAll(suiteDef("sleepy", "", "nap"), "cluster_e2e", "cluster_b"),
		"sleepy/init.sh":        "#!/bin/bash\n",
		"sleepy/tc/nap/run.sh":  "#!/bin/bash\necho napping\nsleep 60\n",
		"broken/test_suite.py":  "def getTestSuite():\n    ts = TestSuite('broken')\n    ts.clusters = ['cluster_b'\n    return ts\n",
	})
	seedHistory(t, rm.Store)
	base := "http://" + rm.WebAddr().String()
	shots := screenshotDir(t)
	tab := newBrowser(t, path)
	anon := tab()

	// The dashboard lists the connected slaves.
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if missing := rm.Registry.WaitForSlaves(wctx, []string{"s1.xrd.test", "s2.xrd.test"}, nil); len(missing) > 0 {
		t.Fatalf("slaves not connected: %v", missing)
	}
	cancel()
	navigate(t, anon, base+"/")
	slaves, err := chromedp.Run(anon, chromedp.Text(chromedp.ID("slaves")))
	if err != nil || !strings.Contains(slaves, "s1.xrd.test") || !strings.Contains(slaves, "s2.xrd.test") {
		t.Errorf("dashboard slaves: %q, %v", slaves, err)
	}

	// A broken suite shows its error with file:line.
	navigate(t, anon, base+"/suites")
	errs, err := chromedp.Run(anon, chromedp.Text(chromedp.ID("definition-errors")))
	if err != nil || !strings.Contains(errs, "test-suites/broken/test_suite.py:") || !strings.Contains(errs, "broken") {
		t.Errorf("definition errors: %q, %v", errs, err)
	}
	shoot(t, anon, shots, "suites")

	// Cancel needs the login: a visitor sees no cancel button.
	nap, err := rm.Manager.Start(context.Background(), "sleepy", nil, "browser test")
	if err != nil {
		t.Fatal(err)
	}
	navigate(t, anon, fmt.Sprintf("%s/sessions/%d", base, nap.ID))
	js(t, anon, "nap running", `document.querySelector('tr[data-stage="nap:run"] td[data-status="running"]') !== null`)
	if n := eval[int](t, anon, `document.querySelectorAll('#cancel-button').length`); n != 0 {
		t.Error("a visitor who is not logged in sees the cancel button")
	}
	if n := eval[int](t, anon, `document.querySelectorAll('#login-to-cancel').length`); n != 1 {
		t.Error("no login link to cancel")
	}
	navigate(t, anon, base+"/")
	js(t, anon, "dashboard lists the running session", fmt.Sprintf(`document.querySelector('#active-sessions a[href="/sessions/%d"]') !== null`, nap.ID))
	shoot(t, anon, shots, "dashboard")

	// Log in, then cancel.
	user := tab()
	navigate(t, user, base+"/login?next="+fmt.Sprintf("/sessions/%d", nap.ID))
	shoot(t, user, shots, "login")
	if err := chromedp.Do(user,
		chromedp.SendKeys(chromedp.ID("login-name"), "alice"),
		chromedp.SendKeys(chromedp.ID("login-password"), browserPass),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(user, click(chromedp.ID("login-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(user, click(chromedp.ID("cancel-button"))); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	js(t, user, "session cancelled", `document.querySelector('#session-state .badge').textContent === 'cancelled'`)
	if s, _ := rm.Store.Session(context.Background(), nap.ID); s.State != store.SessionCancelled {
		t.Errorf("session %d is %s after cancel", nap.ID, s.State)
	}
	if !strings.Contains(rm.logs.String(), "user=alice") {
		t.Error("the cancel is not logged with its user")
	}

	// Run a session from the UI: the output of a running stage streams.
	navigate(t, user, base+"/suites")
	if err := chromedp.Do(user, click(chromedp.CSS(`#suite-live details.run summary`))); err != nil {
		t.Fatal(err)
	}
	shoot(t, user, shots, "suites-run")
	if _, err := chromedp.RunResponse(user, click(chromedp.CSS(`#suite-live .run-form button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	loc, _ := chromedp.Run(user, chromedp.Location())
	var id int64
	if _, err := fmt.Sscanf(loc, base+"/sessions/%d", &id); err != nil {
		t.Fatalf("after Run now the browser is at %s", loc)
	}
	// The matrix updates live until the stream stage runs on s1.
	cell := `tr[data-stage="stream:run"] td[data-slave="s1.xrd.test"]`
	js(t, user, "stream:run starts", `document.querySelector('`+cell+` a') !== null && document.querySelector('`+cell+`').dataset.status === 'running'`)
	shoot(t, user, shots, "session-running")
	if _, err := chromedp.RunResponse(user, click(chromedp.CSS(cell+" a"))); err != nil {
		t.Fatal(err)
	}
	js(t, user, "A streamed", `document.getElementById('output').textContent.includes('A\n')`)
	if out := eval[string](t, user, `document.getElementById('output').textContent`); strings.Contains(out, "B") {
		t.Fatalf("B shown before it was printed: %q", out)
	}
	shoot(t, user, shots, "output-live")
	if err := os.WriteFile(filepath.Join(rm.dir, "go-b"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	js(t, user, "B streamed and the stream ended", `document.getElementById('output').textContent === 'A\nB\n' && document.getElementById('output').dataset.complete === '1'`)

	// The failing stage shows as failed, once the session ends.
	navigate(t, user, fmt.Sprintf("%s/sessions/%d", base, id))
	js(t, user, "session failed", `document.querySelector('#session-state .badge').textContent === 'failed'`)
	bad := `tr[data-stage="bad:run"] td[data-slave="s2.xrd.test"]`
	if st := eval[string](t, user, `document.querySelector('`+bad+`').dataset.status`); st != "failed" {
		t.Errorf("bad:run on s2 shown %q", st)
	}
	if txt := eval[string](t, user, `document.querySelector('`+bad+`').textContent`); !strings.Contains(txt, "exit 3") {
		t.Errorf("bad:run cell %q lacks the exit code", txt)
	}
	shoot(t, user, shots, "session")

	// A fault on s2 over the session's stages: shaded on s2's timeline
	// row, with its tooltip.
	{
		d, err := store.Detail(context.Background(), rm.Store, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []store.Event{
			{Session: id, Time: d.Started, Kind: "fault", Message: "fault f0123abcd on, set by s1.xrd.test until the end of case bad: isolate s2.xrd.test"},
			{Session: id, Time: d.Ended, Kind: "fault", Message: "fault f0123abcd healed at the end of case bad: isolate s2.xrd.test, on since 00:00:00"},
		} {
			if err := rm.Store.AddEvent(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		navigate(t, user, fmt.Sprintf("%s/sessions/%d", base, id))
		shade := `document.querySelector('svg.timeline rect.tl-fault.fault-isolate')`
		if w := eval[float64](t, user, shade+`.getBBox().width`); w < 100 {
			t.Errorf("fault shade %v wide, want most of the timeline", w)
		}
		if n := eval[int](t, user, `document.querySelectorAll('svg.timeline rect.tl-fault, svg.timeline rect.tl-fault-band').length`); n != 2 {
			t.Errorf("%d fault shades, want a wash and a band (on s2 only)", n)
		}
		if tip := eval[string](t, user, shade+`.textContent`); !strings.HasPrefix(tip, "fault isolate f0123abcd, set by s1.xrd.test, ") {
			t.Errorf("fault tooltip %q", tip)
		}
		// On s2's row: its y is that of the row whose label is s2.
		if ok := eval[bool](t, user, `(() => { const r = `+shade+`; const l = [...document.querySelectorAll('svg.timeline text.tl-slave')].find(e => e.textContent === 's2.xrd.test');
			return l !== undefined && Math.abs(l.getBBox().y - r.getBBox().y) < 22; })()`); !ok {
			t.Error("the fault shade is not on s2's row")
		}
		shoot(t, user, shots, "session-fault")
	}

	// The script's markup is shown as text and never runs.
	if _, err := chromedp.RunResponse(user, click(chromedp.CSS(bad+" a"))); err != nil {
		t.Fatal(err)
	}
	if out := eval[string](t, user, `document.getElementById('output').textContent`); !strings.Contains(out, xssLine) {
		t.Errorf("output %q, want the markup as text", out)
	}
	if v := eval[string](t, user, `typeof window.__xss`); v != "undefined" {
		t.Errorf("markup printed by a script ran in the page (window.__xss is %s)", v)
	}
	shoot(t, user, shots, "result")

	// The suite's cases: bad failed, its page lists the failure on s2,
	// the markup of its output stays text there too.
	navigate(t, user, base+"/suites/live/cases")
	if txt := eval[string](t, user, `document.getElementById('cases').textContent`); !strings.Contains(txt, "stream") || !strings.Contains(txt, "bad") {
		t.Errorf("cases of live: %q", txt)
	}
	if n := eval[int](t, user, `document.querySelectorAll('#cases .trend .chip.st-failed').length`); n != 1 {
		t.Errorf("cases of live: %d failed runs in the trend strips, want 1", n)
	}
	shoot(t, user, shots, "cases")
	if _, err := chromedp.RunResponse(user, click(chromedp.CSS(`#cases a[href="/suites/live/cases/bad"]`))); err != nil {
		t.Fatal(err)
	}
	if txt := eval[string](t, user, `document.getElementById('failures').textContent`); !strings.Contains(txt, "s2.xrd.test") || !strings.Contains(txt, "bad:run") {
		t.Errorf("failures of bad: %q", txt)
	}
	checkFingerprintPage(t, user)
	if v := eval[string](t, user, `typeof window.__xss`); v != "undefined" {
		t.Errorf("markup printed by a script ran in the case page (window.__xss is %s)", v)
	}
	shoot(t, user, shots, "case")

	for _, p := range []struct{ path, name string }{{"/history", "history"}, {"/clusters", "clusters"}, {"/hypervisors", "hypervisors"}} {
		navigate(t, user, base+p.path)
		shoot(t, user, shots, p.name)
	}
	navigate(t, user, base+"/")
	shoot(t, user, shots, "dashboard-after")
}

// checkFingerprintPage: the case page of bad shows the one fingerprint of
// its failure, the script's markup as text in it.
func checkFingerprintPage(t *testing.T, ctx context.Context) {
	t.Helper()
	if n := eval[int](t, ctx, `document.querySelectorAll('#fingerprints .fingerprint').length`); n != 1 {
		t.Errorf("case bad: %d fingerprints, want 1", n)
	}
	if txt := eval[string](t, ctx, `document.querySelector('#fingerprints pre').textContent`); !strings.Contains(txt, "bad:run: exit 3") ||
		!strings.Contains(txt, "<script>") {
		t.Errorf("fingerprint of bad: %q", txt)
	}
}
