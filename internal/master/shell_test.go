package master_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/store"
)

// TestShellEndpoint: GET /api/v1/sessions/{id}/shell opens only with the
// API token, on a host of a running or held session whose slave is
// connected; every other request is refused before the upgrade with a
// status and a message that say why, and changes nothing (no event).
func TestShellEndpoint(t *testing.T) {
	m := mastertest.Start(t, shellOptions())
	defer runAgents(t, m, "h1.xrd.test")()
	waitConnected(t, m, "h1.xrd.test")
	ctx := context.Background()
	machines := []string{"h1.xrd.test", "h2.xrd.test", "h2.other.test"}
	newSession := func(state store.SessionState) int64 {
		s := &store.Session{Suite: "s", State: state, Machines: machines}
		if err := m.Store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	running, held, passed := newSession(store.SessionRunning), newSession(store.SessionHeld), newSession(store.SessionPassed)
	base := "ws://" + m.WebAddr().String()
	path := func(id int64, host string, extra ...string) string {
		p := api.ShellPath(id, host, api.ShellOptions{Command: []string{"sh", "-c", "echo on $XRDTEST_SLAVE; exit 6"}})
		for _, e := range extra {
			p += "&" + e
		}
		return p
	}
	bearer := http.Header{"Authorization": {"Bearer " + shellAPIToken}}
	for _, tc := range []struct {
		name   string
		path   string
		header http.Header
		status int
		want   string
	}{
		{"no token", path(running, "h1"), nil, http.StatusUnauthorized, "a valid API token is required"},
		{"wrong token", path(running, "h1"), http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized, "a valid API token is required"},
		{"bad session id", "/api/v1/sessions/x/shell?host=h1", bearer, http.StatusBadRequest, `bad session id "x"`},
		{"unknown session", path(999, "h1"), bearer, http.StatusNotFound, "no session 999"},
		{"no host", "/api/v1/sessions/1/shell", bearer, http.StatusBadRequest, "give host=NAME: one of h1.xrd.test, h2.xrd.test, h2.other.test"},
		{"host not in the session", path(running, "h9"), bearer, http.StatusNotFound, "host h9 is not in this session (its hosts: h1.xrd.test, h2.xrd.test, h2.other.test)"},
		{"ambiguous short name", path(running, "h2"), bearer, http.StatusBadRequest, "host h2 is ambiguous: give one of h2.xrd.test, h2.other.test"},
		{"ended session", path(passed, "h1"), bearer, http.StatusConflict, "is passed: a shell opens on a running or held session only"},
		{"slave not connected", path(held, "h2.xrd.test"), bearer, http.StatusConflict, "slave h2.xrd.test is not connected"},
		{"bad window size", path(running, "h1", "tty=1", "rows=0", "cols=80"), bearer, http.StatusBadRequest, `rows "0"`},
		{"bad terminal type", path(running, "h1", "term=x%60rm"), bearer, http.StatusBadRequest, "term \"x`rm\""},
		{"another site's page", path(running, "h1"), http.Header{"Authorization": {"Bearer " + shellAPIToken}, "Origin": {"http://evil.example"}}, http.StatusForbidden, ""},
	} {
		c, resp, err := websocket.Dial(ctx, base+tc.path, &websocket.DialOptions{HTTPHeader: tc.header})
		if err == nil {
			c.CloseNow()
			t.Errorf("%s: the shell opened", tc.name)
			continue
		}
		if resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %v (%v), want status %d", tc.name, resp, err, tc.status)
			continue
		}
		var body api.ErrorBody
		json.NewDecoder(resp.Body).Decode(&body)
		if !strings.Contains(body.Error, tc.want) {
			t.Errorf("%s: error %q, want %q", tc.name, body.Error, tc.want)
		}
	}
	// Without the upgrade, the same request is a check: it says whether
	// the shell would open, and opens nothing.
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{path(held, "h1"), http.StatusOK, fmt.Sprintf(`{"session":%d,"host":"h1.xrd.test"}`, held)},
		{path(held, "h2.xrd.test"), http.StatusConflict, "slave h2.xrd.test is not connected"},
		{path(passed, "h1"), http.StatusConflict, "a shell opens on a running or held session only"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+m.WebAddr().String()+tc.path, nil)
		req.Header = bearer.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		io.Copy(&b, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(strings.Join(strings.Fields(b.String()), ""), strings.Join(strings.Fields(tc.want), "")) {
			t.Errorf("check %s: %s %s, want %d and %s", tc.path, resp.Status, b.String(), tc.status, tc.want)
		}
	}
	// A WebSocket acts: without a token, its Host must name the master
	// (a rebound name is refused before anything else), as a POST's.
	if _, resp, err := websocket.Dial(ctx, base+path(running, "h1"), &websocket.DialOptions{Host: "evil.example:80"}); err == nil || resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("a rebound Host: %v, %v; want 421", resp, err)
	}
	for _, id := range []int64{running, held, passed} {
		if evs, _ := m.Store.Events(ctx, id); len(evs) != 0 {
			t.Errorf("session %d: refused shells recorded events %v", id, evs)
		}
	}

	// The right request, on a held session by the short name: output and
	// exit code, and two events.
	c, _, err := websocket.Dial(ctx, base+path(held, "h1")+"&by="+url.QueryEscape("carol"), &websocket.DialOptions{HTTPHeader: bearer})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var out strings.Builder
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		typ, b, err := c.Read(rctx)
		if err != nil {
			t.Fatalf("read: %v (output so far %q)", err, out.String())
		}
		if typ == websocket.MessageBinary {
			if b[0] != api.ShellStdout {
				t.Errorf("stream %d, want stdout", b[0])
			}
			out.Write(b[1:])
			continue
		}
		if string(b) != `{"exit":6}` {
			t.Errorf("end %s, want exit 6", b)
		}
		break
	}
	if out.String() != "on h1.xrd.test\n" {
		t.Errorf("output %q", out.String())
	}
	var evs []string
	for deadline := time.Now().Add(10 * time.Second); len(evs) < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		all, _ := m.Store.Events(ctx, held)
		evs = evs[:0]
		for _, e := range all {
			evs = append(evs, e.Kind+": "+e.Message)
		}
	}
	want := []string{`shell: "sh -c echo on $XRDTEST_SLAVE; exit 6" on h1.xrd.test opened by api token (carol)`,
		`shell: "sh -c echo on $XRDTEST_SLAVE; exit 6" on h1.xrd.test closed by api token (carol): exit 6`}
	if strings.Join(evs, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(evs, "\n"), strings.Join(want, "\n"))
	}
}

// TestShellStalledClient: a client that stops reading a shell that
// writes without end holds only the shell's window: the slave's stream,
// which its stages and other shells share, goes on.
func TestShellStalledClient(t *testing.T) {
	m := mastertest.Start(t, shellOptions())
	s, stop := runningShellSession(t, m)
	defer stop()
	ctx := context.Background()
	flood, _, err := dialShell(ctx, m, s.ID, api.ShellOptions{Command: []string{"cat", "/dev/zero"}})
	if err != nil {
		t.Fatal(err)
	}
	defer flood.CloseNow()
	// Never read: let the flood fill what it can.
	time.Sleep(500 * time.Millisecond)
	for i := range 3 {
		start := time.Now()
		c, _, err := dialShell(ctx, m, s.ID, api.ShellOptions{Command: []string{"echo", "fine"}})
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := readShell(ctx, c, 20*time.Second)
		if err != nil {
			t.Fatalf("shell %d beside the flood: %v", i, err)
		}
		c.CloseNow()
		if string(out) != "fine\n" {
			t.Errorf("shell %d: output %q", i, out)
		}
		t.Logf("shell %d beside the flood: %s", i, time.Since(start).Round(time.Millisecond))
	}
}

// TestShellClientGone: when the client goes away, or the slave's
// connection to the master, the slave kills the shell's processes.
func TestShellClientGone(t *testing.T) {
	t.Run("client", func(t *testing.T) { shellGone(t, false) })
	t.Run("connection", func(t *testing.T) { shellGone(t, true) })
}

func shellGone(t *testing.T, dropConnection bool) {
	m := mastertest.Open(t, shellOptions())
	stopMaster := mastertest.Serve(m)
	defer func() { stopMaster() }()
	s, stop := runningShellSession(t, m)
	defer stop()
	ctx := context.Background()
	// A unique argument finds the process.
	arg := "301." + strings.TrimLeft(time.Now().Format("150405000"), "0")
	c, _, err := dialShell(ctx, m, s.ID, api.ShellOptions{TTY: true, Command: []string{"bash", "-c", "echo started; sleep " + arg}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out []byte
	for !strings.Contains(string(out), "started") {
		_, b, err := c.Read(rctx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[1:]...)
	}
	for deadline := time.Now().Add(20 * time.Second); !sleeping(arg); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shell's sleep is not running")
		}
	}
	if dropConnection {
		stopMaster() // the slave stays, its connection goes
		stopMaster = func() {}
	} else {
		c.CloseNow()
	}
	for deadline := time.Now().Add(20 * time.Second); sleeping(arg); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the shell's sleep outlived its client or connection by 20s (connection dropped: %v)", dropConnection)
		}
	}
}

// sleeping reports whether a live process runs `sleep arg`.
func sleeping(arg string) bool {
	ds, _ := os.ReadDir("/proc")
	for _, d := range ds {
		b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil || string(b) != "sleep\x00"+arg+"\x00" {
			continue
		}
		if st, err := os.ReadFile("/proc/" + d.Name() + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
			return true
		}
	}
	return false
}

// TestShellOutlivesWebTimeouts: the web port's read and write timeouts
// do not cut a shell short (it has bounds of its own).
func TestShellOutlivesWebTimeouts(t *testing.T) {
	opts := shellOptions()
	opts.WebLimits = master.WebLimits{ReadHeader: 300 * time.Millisecond, Read: 300 * time.Millisecond, Write: 300 * time.Millisecond, Idle: 300 * time.Millisecond}
	m := mastertest.Start(t, opts)
	s, stop := runningShellSession(t, m)
	defer stop()
	ctx := context.Background()
	c, _, err := dialShell(ctx, m, s.ID, api.ShellOptions{Command: []string{"sh", "-c", "read x; sleep 1; echo late $x"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	time.Sleep(time.Second) // past both timeouts before any input
	if err := c.Write(ctx, websocket.MessageBinary, []byte("input\n")); err != nil {
		t.Fatal(err)
	}
	out, end, err := readShell(ctx, c, 20*time.Second)
	if err != nil {
		t.Fatalf("read: %v (output so far %q)", err, out)
	}
	if end != `{"exit":0}` {
		t.Errorf("end %s", end)
	}
	if string(out) != "late input\n" {
		t.Errorf("output %q", out)
	}
}

// TestShellsPerSlave: a slave takes protocol.MaxShells shells at once;
// one more is refused, naming the bound, until one closes.
func TestShellsPerSlave(t *testing.T) {
	m := mastertest.Start(t, shellOptions())
	s, stop := runningShellSession(t, m)
	defer stop()
	ctx := context.Background()
	dial := func() (*websocket.Conn, *http.Response, error) {
		return dialShell(ctx, m, s.ID, api.ShellOptions{Command: []string{"sleep", "60"}})
	}
	var open []*websocket.Conn
	defer func() {
		for _, c := range open {
			c.CloseNow()
		}
	}()
	for range protocol.MaxShells {
		c, _, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	_, resp, err := dial()
	if err == nil || resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("shell %d: %v, %v; want 409", protocol.MaxShells+1, resp, err)
	}
	var body api.ErrorBody
	json.NewDecoder(resp.Body).Decode(&body)
	if want := fmt.Sprintf("h1.xrd.test has %d shells open already, the most it allows: close one first", protocol.MaxShells); !strings.Contains(body.Error, want) {
		t.Errorf("error %q, want %q", body.Error, want)
	}
	open[0].CloseNow()
	open = open[1:]
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, _, err := dial()
		if err == nil {
			open = append(open, c)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no shell once one closed: %v", err)
		}
	}
}

// TestShellBounds: a shell without input or output for ShellIdle ends,
// and so does one open for ShellLifetime however busy, each saying why.
func TestShellBounds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  master.WebLimits
		command []string
		want    string
	}{
		{"idle", master.WebLimits{ShellIdle: 400 * time.Millisecond}, []string{"sleep", "60"}, `{"error":"idle for 400ms"}`},
		{"lifetime", master.WebLimits{ShellLifetime: 1500 * time.Millisecond}, []string{"sh", "-c", "while :; do echo busy; sleep 0.1; done"},
			`{"error":"the shell's lifetime (1.5s) is over"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := shellOptions()
			opts.WebLimits = tc.limits
			m := mastertest.Start(t, opts)
			s, stop := runningShellSession(t, m)
			defer stop()
			ctx := context.Background()
			start := time.Now()
			c, _, err := dialShell(ctx, m, s.ID, api.ShellOptions{Command: tc.command})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			_, end, err := readShell(ctx, c, 30*time.Second)
			if err != nil {
				t.Fatalf("no end within 30s: %v", err)
			}
			if end != tc.want {
				t.Errorf("end %s, want %s", end, tc.want)
			}
			t.Logf("ended after %s", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestShellHTTPS: the API client's shell dial works with a master that
// serves HTTPS, its CA given as `xrdtest --ca` gives it (wss://, the
// client's transport and CA).
func TestShellHTTPS(t *testing.T) {
	state := t.TempDir()
	opts := shellOptions()
	opts.StateDir, opts.WebTLS = state, true
	m := mastertest.Start(t, opts)
	s, stop := runningShellSession(t, m)
	defer stop()
	ctx := context.Background()
	cl, err := api.NewClient(api.Options{URL: "https://" + m.WebAddr().String(), Token: shellAPIToken, CAFile: filepath.Join(state, "ca", "ca.pem")})
	if err != nil {
		t.Fatal(err)
	}
	url, header, hc := cl.ShellRequest(s.ID, "h1", api.ShellOptions{Command: []string{"echo", "over tls"}})
	if !strings.HasPrefix(url, "wss://") {
		t.Errorf("address %s, want wss://", url)
	}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: header})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	out, _, err := readShell(ctx, c, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "over tls\n" {
		t.Errorf("output %q", out)
	}
}

// shellAPIToken is the API token of the masters of the shell tests.
const shellAPIToken = "shell-api-token-0123"

// shellOptions are the options of a master of the shell tests.
func shellOptions() master.Options {
	return master.Options{Token: token, APIToken: shellAPIToken, Log: logger(), Heartbeat: 200 * time.Millisecond, HeartbeatTimeout: 2 * time.Second}
}

// runningShellSession runs the slave h1.xrd.test for m, waits until it is
// connected and creates a running session on it; stop ends the slave.
func runningShellSession(t *testing.T, m *master.Master) (s *store.Session, stop func()) {
	t.Helper()
	stop = runAgents(t, m, "h1.xrd.test")
	ok := false
	defer func() {
		if !ok {
			stop()
		}
	}()
	waitConnected(t, m, "h1.xrd.test")
	s = &store.Session{Suite: "s", State: store.SessionRunning, Machines: []string{"h1.xrd.test"}}
	if err := m.Store.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	ok = true
	return s, stop
}

// dialShell opens a shell on h1 of session id of m, with the API token.
func dialShell(ctx context.Context, m *master.Master, id int64, opts api.ShellOptions) (*websocket.Conn, *http.Response, error) {
	return websocket.Dial(ctx, "ws://"+m.WebAddr().String()+api.ShellPath(id, "h1", opts),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + shellAPIToken}}})
}

// readShell reads the shell c until its end, for at most timeout: the
// output (each message without its stream byte) and the end message.
func readShell(ctx context.Context, c *websocket.Conn, timeout time.Duration) (out []byte, end string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return out, "", err
		}
		if typ == websocket.MessageText {
			return out, string(b), nil
		}
		out = append(out, b[1:]...)
	}
}
