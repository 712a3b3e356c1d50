package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coder/websocket"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
)

// TestBrowserShell: on a running session's page a logged-in user opens a
// terminal on a host, types a command and sees its output, and exit
// ends it; a visitor gets no shell buttons; the page's WebSocket refuses
// a request without the login, with a wrong CSRF token or from another
// site.
func TestBrowserShell(t *testing.T) {
	if testing.Short() {
		t.Skip("browser")
	}
	path := chromium(t)
	rm := startBrowserMaster(t, map[string]string{
		"hold/test_suite.py": strings.ReplaceAll(suiteDef("hold", "", "c"), "cluster_e2e", "cluster_b"),
		"hold/init.sh":       "#!/bin/bash\n",
		"hold/tc/c/run.sh":   "#!/bin/bash\nfor i in $(seq 1200); do [ -e \"$XRDTEST_SHARED/release\" ] && exit 0; sleep 0.1; done\nexit 1\n",
	})
	defer os.WriteFile(filepath.Join(rm.dir, "release"), nil, 0o644)
	base := "http://" + rm.WebAddr().String()
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if missing := rm.Registry.WaitForSlaves(wctx, []string{"s1.xrd.test", "s2.xrd.test"}, nil); len(missing) > 0 {
		t.Fatalf("slaves not connected: %v", missing)
	}
	cancel()
	s := mastertest.StartSession(t, rm.Master, "hold")
	page := fmt.Sprintf("%s/sessions/%d", base, s.ID)
	tab := newBrowser(t, path)

	anon := tab()
	navigate(t, anon, page)
	js(t, anon, "c:run running", `document.querySelector('tr[data-stage="c:run"] td[data-status="running"]') !== null`)
	if n := eval[int](t, anon, `document.querySelectorAll('[data-shell-host]').length`); n != 0 {
		t.Errorf("a visitor sees %d shell buttons", n)
	}

	user := tab()
	navigate(t, user, base+"/login?next="+url.QueryEscape(fmt.Sprintf("/sessions/%d", s.ID)))
	if err := chromedp.Do(user, chromedp.SendKeys(chromedp.ID("login-name"), "alice"), chromedp.SendKeys(chromedp.ID("login-password"), browserPass)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(user, click(chromedp.ID("login-submit"))); err != nil {
		t.Fatal(err)
	}
	js(t, user, "shell buttons", `document.querySelector('[data-shell-host="s1.xrd.test"]') !== null`)
	// The page's policy stays strict: count what it blocks.
	js(t, user, "watch the policy", `(window.__csp = [], document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)), true)`)
	if err := chromedp.Do(user, click(chromedp.CSS(`[data-shell-host="s1.xrd.test"]`))); err != nil {
		t.Fatal(err)
	}
	js(t, user, "terminal connected", `document.getElementById('terminal-state').textContent === 'connected'`)
	typeLine(t, user, "echo hi-$((6*7)) $XRDTEST_SLAVE")
	js(t, user, "command output in the terminal", `document.querySelector('#terminal .xterm-rows').textContent.includes('hi-42 s1.xrd.test')`)
	shoot(t, user, screenshotDir(t), "terminal")
	typeLine(t, user, "exit 4")
	js(t, user, "shell exited", `document.getElementById('terminal-state').textContent === 'exited 4'`)
	if v := eval[[]string](t, user, `window.__csp`); len(v) > 0 {
		t.Errorf("the page's policy blocked %q", v)
	}

	// A refusal is shown, with the master's reason.
	js(t, user, "a host not in the session", `(document.querySelector('[data-shell-host="s2.xrd.test"]').setAttribute('data-shell-host', 'nope.xrd.test'), true)`)
	if err := chromedp.Do(user, click(chromedp.CSS(`[data-shell-host="nope.xrd.test"]`))); err != nil {
		t.Fatal(err)
	}
	js(t, user, "refusal shown", `document.getElementById('terminal-state').textContent.includes('refused: session `+fmt.Sprint(s.ID)+`: host nope.xrd.test is not in this session (its hosts: s1.xrd.test, s2.xrd.test)')`)

	events, err := rm.Store.Events(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, e := range events {
		all = append(all, e.Kind+": "+e.Message)
	}
	for _, w := range []string{"shell: a shell on s1.xrd.test opened by web (alice)", "shell: a shell on s1.xrd.test closed by web (alice): exit 4"} {
		if !strings.Contains(strings.Join(all, "\n"), w) {
			t.Errorf("no event %q in:\n%s", w, strings.Join(all, "\n"))
		}
	}

	// The WebSocket itself: a login's cookie is not enough.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"name": {"bob"}, "password": {browserPass}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = hc.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	m := regexp.MustCompile(`data-csrf="([^"]+)"`).FindStringSubmatch(body.String())
	if m == nil {
		t.Fatal("no CSRF token on the session page of a logged-in user")
	}
	csrf := m[1]
	ws := "ws://" + rm.WebAddr().String() + fmt.Sprintf("/sessions/%d/shell?", s.ID)
	q := func(csrf string) string {
		return ws + url.Values{"host": {"s1"}, "cmd": {"true"}, "csrf": {csrf}}.Encode()
	}
	for _, tc := range []struct {
		name, url, origin string
		client            *http.Client
		want              int
	}{
		{"no login", q(csrf), base, http.DefaultClient, http.StatusUnauthorized},
		{"wrong CSRF token", q("wrong"), base, hc, http.StatusForbidden},
		{"no CSRF token", q(""), base, hc, http.StatusForbidden},
		{"another site", q(csrf), "http://evil.example", hc, http.StatusForbidden},
		{"no Origin", q(csrf), "", hc, http.StatusForbidden},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, resp, err := websocket.Dial(ctx, tc.url, &websocket.DialOptions{HTTPClient: tc.client, HTTPHeader: h})
		cancel()
		if err == nil {
			c.CloseNow()
			t.Errorf("%s: the shell opened", tc.name)
			continue
		}
		if resp == nil || resp.StatusCode != tc.want {
			t.Errorf("%s: %v, %v; want status %d", tc.name, resp, err, tc.want)
		}
	}
	// With all of it, the same request opens.
	h := http.Header{"Origin": {base}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, q(csrf), &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
	if err != nil {
		t.Fatalf("with the login, its CSRF token and the site's Origin: %v", err)
	}
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("the shell's end never came: %v", err)
		}
		if typ == websocket.MessageText {
			if string(b) != `{"exit":0}` {
				t.Errorf("end %s, want exit 0", b)
			}
			break
		}
	}
	c.CloseNow()

	// When the session ends, the page's live update takes the buttons away.
	if err := os.WriteFile(filepath.Join(rm.dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	js(t, user, "shell buttons gone with the session", `document.getElementById('shells').hidden && document.querySelectorAll('[data-shell-host]').length === 0`)
}

// typeLine types a line into the focused terminal: the text as typed
// text (an input event: chromedp's SendKeys sends both a key and a char
// event, which xterm.js takes as two keys), then Enter.
func typeLine(t *testing.T, ctx context.Context, line string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`#terminal textarea`)),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: line})
			return chromedp.Void{}, err
		},
		chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
}
