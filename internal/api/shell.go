package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// A shell (`xrdtest shell`, the pages' terminal) is a WebSocket:
//
//	GET /api/v1/sessions/{id}/shell?host=H[&cmd=WORD...][&tty=1&rows=R&cols=C&term=T][&by=USER]
//
// with the API token (the pages' GET /sessions/{id}/shell takes the
// login's cookie and CSRF token instead). The client sends binary
// messages, its input, and text messages, a ShellControl each. The
// master sends binary messages whose first byte is ShellStdout or
// ShellStderr and the rest output, then one text message, the ShellEnd,
// and closes. Refusals (no such session or host, a session that is not
// running or held, a slave not connected) come before the upgrade, as
// the API's errors; the same request without the upgrade answers them
// alone (ShellCheck), opening nothing.

// The first byte of the master's binary messages: which stream the rest
// is from (a terminal has one stream, ShellStdout).
const (
	ShellStdout byte = 1
	ShellStderr byte = 2
)

// ShellControl is a text message of a shell's client.
type ShellControl struct {
	// Resize sets the terminal's size.
	Resize *ShellSize `json:"resize,omitempty"`
	// EOF ends the input (a terminal gets Ctrl-D).
	EOF bool `json:"eof,omitempty"`
	// Signal goes to the foreground job: INT, TERM, HUP, QUIT or KILL.
	Signal string `json:"signal,omitempty"`
}

// ShellSize is a terminal's size.
type ShellSize struct {
	Rows int `json:"rows"`
	Cols int `json:"cols"`
}

// ShellEnd is a shell's last message: its exit code, or why it ended
// otherwise (killed, idle too long, its slave or session gone).
type ShellEnd struct {
	Exit  *int   `json:"exit,omitempty"`
	Error string `json:"error,omitempty"`
}

// ShellCheck answers the same request without the upgrade: the shell
// would open (on Host, the full name), else the refusal is the error.
// Nothing is opened.
type ShellCheck struct {
	Session int64  `json:"session"`
	Host    string `json:"host"`
}

// ShellOptions are what a shell runs and on what.
type ShellOptions struct {
	// Command is the command's words; empty: an interactive bash.
	Command []string
	// TTY asks for a terminal of Rows x Cols with TERM=Term.
	TTY        bool
	Rows, Cols int
	Term       string
	// By is the user asking, a hint for the logs and the session's
	// events.
	By string
}

// ShellPath is the path and query of the shell WebSocket of a session's
// host.
func ShellPath(session int64, host string, o ShellOptions) string {
	q := url.Values{"host": {host}}
	for _, w := range o.Command {
		q.Add("cmd", w)
	}
	if o.TTY {
		q.Set("tty", "1")
		if o.Rows > 0 && o.Cols > 0 {
			q.Set("rows", strconv.Itoa(o.Rows))
			q.Set("cols", strconv.Itoa(o.Cols))
		}
		if o.Term != "" {
			q.Set("term", o.Term)
		}
	}
	if o.By != "" {
		q.Set("by", o.By)
	}
	return "/api/v1/sessions/" + strconv.FormatInt(session, 10) + "/shell?" + q.Encode()
}

// ShellRequest is what dials a shell: its ws:// or wss:// address, the
// header with the token, and the HTTP client whose transport (CA,
// timeouts) the dial uses. The WebSocket itself is the caller's.
func (c *Client) ShellRequest(session int64, host string, o ShellOptions) (string, http.Header, *http.Client) {
	u := c.base + ShellPath(session, host, o)
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		u = "wss://" + rest
	} else if rest, ok := strings.CutPrefix(u, "http://"); ok {
		u = "ws://" + rest
	}
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	return u, h, c.http
}
