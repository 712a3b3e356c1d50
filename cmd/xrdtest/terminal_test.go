package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/api"
)

// openPTY opens a pseudo-terminal: the side a program writes to, and the
// side that reads what it shows.
func openPTY(t *testing.T) (tty, pty *os.File) {
	t.Helper()
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { pty.Close() })
	if err := unix.IoctlSetPointerInt(int(pty.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(pty.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	// Raw: the terminal passes bytes as they are (no \n to \r\n).
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Oflag &^= unix.OPOST
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	return tty, pty
}

// session7 is a passed session of one stage on one slave, as a fake API
// serves it to the client commands.
var session7 = api.SessionDetail{
	Session: &api.Session{ID: 7, Suite: "s", State: api.SessionPassed},
	Stages: []api.StageDetail{{Stage: &api.Stage{SessionID: 7, Name: "suite_init"},
		Results: []*api.Result{{SessionID: 7, Slave: "a.xrd.test", Status: api.StatusPassed}}}},
}

// TestLogsOnTerminalEscaped: a script's escape sequences reach a terminal
// as visible text, not as commands to it; piped, the output is exact.
func TestLogsOnTerminalEscaped(t *testing.T) {
	const evil = "\x1b]0;pwned\x07\x1b[2Jhidden\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/sessions/7":
			json.NewEncoder(w).Encode(session7)
		case "/api/v1/sessions/7/output":
			io.WriteString(w, evil)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	args := []string{"logs", "7", "--master", srv.URL}

	tty, pty := openPTY(t)
	var errOut bytes.Buffer
	if code := run(context.Background(), args, tty, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var shown []byte
	pty.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !bytes.Contains(shown, []byte("<== suite_init")) {
		buf := make([]byte, 4096)
		n, err := pty.Read(buf)
		shown = append(shown, buf[:n]...)
		if err != nil {
			break
		}
	}
	if got := string(shown); strings.Contains(got, "\x1b") || strings.Contains(got, "\x07") || !strings.Contains(got, "^[]0;pwned^G^[[2Jhidden") {
		t.Errorf("the terminal got %q: escape sequences not neutralized", got)
	}

	var out bytes.Buffer
	if code := run(context.Background(), args, &out, &errOut); code != 0 || !strings.Contains(out.String(), evil) {
		t.Errorf("piped: exit %d, %q: want the output exact", code, out.String())
	}
}
