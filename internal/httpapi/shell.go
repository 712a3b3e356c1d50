package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Bounds of a shell's WebSocket: each holds a connection, goroutines and
// a process tree on a slave for as long as its client wants, so it ends
// when idle (no input and no output) for ShellIdle, after
// ShellLifetime in all, when a write to its client stalls for
// shellWriteTimeout, and when its session ends.
const (
	DefaultShellIdle     = 30 * time.Minute
	DefaultShellLifetime = 12 * time.Hour
	shellWriteTimeout    = 30 * time.Second
	// shellReadLimit bounds a client's message (input or control).
	shellReadLimit = 64 << 10
)

// ShellHost is the session's host that host names: its full name, or
// its short name (up to the first dot) when only one host has it.
func ShellHost(machines []string, host string) (string, error) {
	if host == "" {
		return "", badRequest("give host=NAME: one of %s", strings.Join(machines, ", "))
	}
	var found []string
	for _, m := range machines {
		short, _, _ := strings.Cut(m, ".")
		if strings.EqualFold(m, host) {
			return m, nil
		}
		if strings.EqualFold(short, host) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("host %s is not in this session (its hosts: %s): %w", host, strings.Join(machines, ", "), store.ErrNotFound)
	}
	return "", badRequest("host %s is ambiguous: give one of %s", host, strings.Join(found, ", "))
}

// shellQuery reads what a shell runs from the request's query.
func shellQuery(r *http.Request) (host string, req daemons.ShellRequest, err error) {
	q := r.URL.Query()
	req.Command = q["cmd"]
	if len(req.Command) > 256 {
		return "", req, badRequest("too many command words (%d)", len(req.Command))
	}
	req.TTY = q.Get("tty") == "1"
	for _, p := range []struct {
		name string
		v    *int
	}{{"rows", &req.Rows}, {"cols", &req.Cols}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 10000 {
				return "", req, badRequest("%s %q: want a number from 1 to 10000", p.name, s)
			}
			*p.v = n
		}
	}
	req.Term = q.Get("term")
	if strings.ContainsFunc(req.Term, func(r rune) bool {
		return !(r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return "", req, badRequest("term %q: want a terminal type such as xterm-256color", req.Term)
	}
	return q.Get("host"), req, nil
}

// Shell opens a shell on a host of a session that is running or held and
// relays it over a WebSocket (api.ShellPath says how), for c, who is
// already authorized. Refusals answer before the upgrade, with the
// API's errors; opening and closing are the session's events, naming c.
func (a *Actions) Shell(w http.ResponseWriter, r *http.Request, c Caller, id int64) {
	if a.Daemons == nil {
		writeError(w, fmt.Errorf("shells are %w by this master", ErrNotOffered))
		return
	}
	host, req, err := shellQuery(r)
	if err == nil {
		host, err = a.shellTarget(r.Context(), id, host, &req)
	}
	if err != nil {
		a.log().Warn(c.Via+": shell refused", "session", id, "host", r.URL.Query().Get("host"), "by", c.By, "addr", c.Addr, "err", err)
		writeError(w, err)
		return
	}
	if r.Header.Get("Upgrade") == "" {
		// Not a WebSocket: a check of what the upgrade would refuse (a
		// browser's WebSocket cannot read a refusal), which opens nothing.
		if !a.Daemons.SlaveConnected(host) {
			writeError(w, withStatus(http.StatusConflict, fmt.Errorf("%w: slave %s is not connected", daemons.ErrShellRefused, host)))
			return
		}
		writeJSON(w, http.StatusOK, api.ShellCheck{Session: id, Host: host})
		return
	}
	release, err := a.Streams.Start(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	sh, err := a.Daemons.OpenShell(host, req)
	if err != nil {
		a.log().Warn(c.Via+": shell refused", "session", id, "host", host, "by", c.By, "addr", c.Addr, "err", err)
		writeError(w, withStatus(http.StatusConflict, err))
		return
	}
	// The Origin of a browser's request must be this site (the pages
	// checked it already; so does the upgrade, for the API's clients).
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		sh.Close("the WebSocket upgrade failed")
		a.log().Warn(c.Via+": shell refused: no WebSocket", "session", id, "host", host, "by", c.By, "err", err)
		return
	}
	conn.SetReadLimit(shellReadLimit)
	what := "a shell"
	if len(req.Command) > 0 {
		cmd := []rune(strings.Join(req.Command, " "))
		if len(cmd) > 120 { // the event names the command, not a script
			cmd = append(cmd[:120], '…')
		}
		what = strconv.Quote(string(cmd))
	}
	a.log().Info(c.Via+": shell opened", "session", id, "host", host, "command", req.Command, "by", c.By, "addr", c.Addr)
	a.Manager.AddEvent(r.Context(), id, "shell", fmt.Sprintf("%s on %s opened by %s", what, host, c.By))
	end := a.relayShell(r.Context(), conn, sh, id)
	result := end.Error
	if end.Exit != nil {
		result = fmt.Sprintf("exit %d", *end.Exit)
	}
	a.log().Info(c.Via+": shell closed", "session", id, "host", host, "by", c.By, "result", result)
	a.Manager.AddEvent(r.Context(), id, "shell", fmt.Sprintf("%s on %s closed by %s: %s", what, host, c.By, result))
}

// shellTarget checks that the session is running or held and has host,
// and completes the request: the full host name, the session's
// environment.
func (a *Actions) shellTarget(ctx context.Context, id int64, host string, req *daemons.ShellRequest) (string, error) {
	s, err := a.Store.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("no session %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	if s.State != store.SessionRunning && s.State != store.SessionHeld {
		return "", withStatus(http.StatusConflict, fmt.Errorf("session %d is %s: a shell opens on a running or held session only", id, s.State))
	}
	full, err := ShellHost(s.Machines, host)
	if err != nil {
		return "", fmt.Errorf("session %d: %w", id, err)
	}
	req.Session = id
	req.Env = []string{"XRDTEST_SUITE=" + s.Suite}
	return full, nil
}

// relayShell passes the shell's output to the client and the client's
// input to the shell until one of them ends, and returns the end it sent.
func (a *Actions) relayShell(ctx context.Context, conn *websocket.Conn, sh *daemons.Shell, id int64) api.ShellEnd {
	// ctx ends when the relay does; life at the shell's lifetime, which
	// only the watcher below sees, so that the shell's end is still sent.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	life, cancelLife := context.WithTimeout(ctx, cmpDur(a.ShellLifetime, DefaultShellLifetime))
	defer cancelLife()
	var active atomic.Int64
	active.Store(time.Now().UnixNano())
	touch := func() { active.Store(time.Now().UnixNano()) }

	// The client's messages: input and controls. Its end ends the shell.
	go func() {
		for {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				sh.Close("closed by the client")
				return
			}
			touch()
			if typ == websocket.MessageBinary {
				if err := sh.Write(ctx, b); err != nil {
					return
				}
				continue
			}
			var ctl api.ShellControl
			if err := json.Unmarshal(b, &ctl); err != nil {
				sh.Close("the client sent a bad control message: " + err.Error())
				return
			}
			if ctl.Resize != nil {
				sh.Resize(ctl.Resize.Rows, ctl.Resize.Cols)
			}
			if ctl.Signal != "" {
				sh.Signal(ctl.Signal)
			}
			if ctl.EOF {
				sh.CloseInput()
			}
		}
	}()
	// The session's end, idleness and the lifetime end the shell too.
	go func() {
		idle := cmpDur(a.ShellIdle, DefaultShellIdle)
		tick := time.NewTicker(min(idle/4, time.Minute))
		defer tick.Stop()
		ended := make(chan struct{})
		go func() {
			if s, err := a.Manager.Wait(ctx, id); err == nil && s.State.Finished() {
				close(ended)
			}
		}()
		for {
			select {
			case <-life.Done():
				if errors.Is(life.Err(), context.DeadlineExceeded) {
					sh.Close(fmt.Sprintf("the shell's lifetime (%s) is over", cmpDur(a.ShellLifetime, DefaultShellLifetime)))
				}
				return
			case <-ended:
				sh.Close(fmt.Sprintf("session %d has ended", id))
				return
			case <-tick.C:
				if since := time.Since(time.Unix(0, active.Load())); since >= idle {
					sh.Close(fmt.Sprintf("idle for %s", idle))
					return
				}
			}
		}
	}()
	var end api.ShellEnd
	for {
		out, exit, err := sh.Next(context.WithoutCancel(ctx))
		if err != nil {
			end.Error = err.Error()
			break
		}
		if exit != nil {
			if exit.Error != "" {
				end.Error = exit.Error
			} else {
				code := exit.Code
				end.Exit = &code
			}
			break
		}
		touch()
		msg := make([]byte, 1+len(out.Data))
		msg[0] = api.ShellStdout
		if out.Stderr {
			msg[0] = api.ShellStderr
		}
		copy(msg[1:], out.Data)
		wctx, wcancel := context.WithTimeout(ctx, shellWriteTimeout)
		err = conn.Write(wctx, websocket.MessageBinary, msg)
		wcancel()
		if err != nil {
			sh.Close("the client stopped reading")
			// Nothing more reaches the client.
			conn.CloseNow()
			return api.ShellEnd{Error: "the client stopped reading"}
		}
		sh.Ack(len(out.Data))
	}
	b, _ := json.Marshal(end)
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer wcancel()
	if conn.Write(wctx, websocket.MessageText, b) == nil {
		conn.Close(websocket.StatusNormalClosure, "")
	} else {
		conn.CloseNow()
	}
	return end
}

func cmpDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// shell is GET /api/v1/sessions/{id}/shell, behind the API token.
func (a *API) shell(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	c := caller(r, r.URL.Query().Get("by"))
	c.Addr = r.RemoteAddr
	a.Actions.Shell(w, r, c, id)
}
