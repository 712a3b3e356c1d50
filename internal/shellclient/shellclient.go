// Package shellclient is the client end of `xrdtest shell`: it opens a
// shell on a host of a session through the master's API (a websocket the
// master relays over the slave's own connection; package slave/shell is
// the other end) and relays the local terminal, in raw mode with its size
// and Ctrl-C, or stdin, stdout and stderr as they are, until the remote
// side exits.
package shellclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/api"
)

// Failed is the exit status of a shell that did not run or did not end
// with an exit code of its own (as ssh's 255).
const Failed = 255

// Run opens a shell on host of session id through the master c and
// relays it until it ends: stdin to the shell, its output to stdout and
// its error output to stderr. When tty is true and stdin is a terminal,
// the shell gets a terminal of the same type and size, and the local one
// is in raw mode meanwhile (given back before Run returns), so that
// Ctrl-C and the window size reach the remote side; without one, an
// INT is sent on as a signal. A TERM or HUP ends the shell. The result
// is the remote exit code, or an error when the shell could not run or
// ended without one (the command's status is then Failed).
func Run(ctx context.Context, c *api.Client, id int64, host string, opts api.ShellOptions, tty bool, stdin *os.File, stdout, stderr io.Writer) (int, error) {
	in := int(stdin.Fd())
	var saved *unix.Termios
	if tty {
		if t, err := unix.IoctlGetTermios(in, unix.TCGETS); err == nil {
			saved = t
			opts.TTY, opts.Term = true, os.Getenv("TERM")
			opts.Rows, opts.Cols = windowSize(in)
		}
	}
	// Signals are the remote side's from here on, not ours: Ctrl-C
	// without a terminal is sent on as INT.
	ctx = context.WithoutCancel(ctx)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGWINCH)
	defer signal.Stop(sigs)

	url, header, hc := c.ShellRequest(id, host, opts)
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: header})
	if err != nil {
		return Failed, dialError(c.URL(), resp, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	if saved != nil {
		raw := *saved
		makeRaw(&raw)
		if err := unix.IoctlSetTermios(in, unix.TCSETS, &raw); err == nil {
			defer unix.IoctlSetTermios(in, unix.TCSETS, saved)
		}
	}
	control := func(ctl api.ShellControl) {
		b, _ := json.Marshal(ctl)
		_ = conn.Write(ctx, websocket.MessageText, b)
	}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := stdin.Read(buf)
			if n > 0 {
				if conn.Write(ctx, websocket.MessageBinary, buf[:n]) != nil {
					return
				}
			}
			if err != nil {
				control(api.ShellControl{EOF: true})
				return
			}
		}
	}()
	go func() {
		for s := range sigs {
			switch s {
			case unix.SIGWINCH:
				if rows, cols := windowSize(in); rows > 0 {
					control(api.ShellControl{Resize: &api.ShellSize{Rows: rows, Cols: cols}})
				}
			case unix.SIGINT:
				control(api.ShellControl{Signal: "INT"})
			default: // TERM, HUP: we are asked to go, and the shell with us
				conn.Close(websocket.StatusGoingAway, "the client was stopped")
				return
			}
		}
	}()
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			restore(in, saved)
			return Failed, fmt.Errorf("the connection to the master ended before the shell did: %v", err)
		}
		if typ == websocket.MessageBinary && len(b) > 0 {
			w := stdout
			if b[0] == api.ShellStderr {
				w = stderr
			}
			w.Write(b[1:])
			continue
		}
		var end api.ShellEnd
		if err := json.Unmarshal(b, &end); err != nil {
			restore(in, saved)
			return Failed, fmt.Errorf("the master sent a bad message: %v", err)
		}
		conn.Close(websocket.StatusNormalClosure, "")
		restore(in, saved)
		if end.Exit == nil {
			return Failed, errors.New(end.Error)
		}
		return *end.Exit, nil
	}
}

// restore gives the terminal its modes back before a message is
// printed (raw mode would print it askew).
func restore(fd int, saved *unix.Termios) {
	if saved != nil {
		_ = unix.IoctlSetTermios(fd, unix.TCSETS, saved)
	}
}

// dialError is why the shell could not be opened: the master's refusal
// when it gave one.
func dialError(base string, resp *http.Response, err error) error {
	if resp == nil {
		return fmt.Errorf("cannot reach the master at %s: %v", base, err)
	}
	var body api.ErrorBody
	if resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(b, &body) == nil && body.Error != "" {
			return errors.New(body.Error)
		}
	}
	return fmt.Errorf("the master refused the shell: %s", resp.Status)
}

// windowSize is the terminal's size, 0 when unknown.
func windowSize(fd int) (rows, cols int) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return int(ws.Row), int(ws.Col)
}

// makeRaw is cfmakeraw(3): every key, Ctrl-C included, goes to the
// remote side as typed, and its output is shown as sent.
func makeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
}
