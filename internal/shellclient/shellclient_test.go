package shellclient

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/api"
)

// A fake master: the shell echoes its input on stdout, says "bye" on
// stderr at the end of the input, and exits 3. The end-to-end tests of
// `xrdtest shell` (cmd/xrdtest) run it against a real master and slave.
func TestRunPipes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("host") != "h1" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(api.ErrorBody{Error: "bad request " + r.URL.String()})
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := r.Context()
		for {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageBinary {
				conn.Write(ctx, websocket.MessageBinary, append([]byte{api.ShellStdout}, b...))
				continue
			}
			var ctl api.ShellControl
			if json.Unmarshal(b, &ctl) == nil && ctl.EOF {
				conn.Write(ctx, websocket.MessageBinary, append([]byte{api.ShellStderr}, "bye"...))
				end, _ := json.Marshal(api.ShellEnd{Exit: new(3)})
				conn.Write(ctx, websocket.MessageText, end)
				conn.Close(websocket.StatusNormalClosure, "")
				return
			}
		}
	}))
	defer srv.Close()
	stdin, in, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	in.WriteString("hello")
	in.Close()

	c, _ := api.NewClient(api.Options{URL: srv.URL, Token: "tok"})
	var stdout, stderr bytes.Buffer
	code, err := Run(context.Background(), c, 7, "h1", api.ShellOptions{}, true, stdin, &stdout, &stderr)
	if err != nil || code != 3 || stdout.String() != "hello" || stderr.String() != "bye" {
		t.Errorf("Run = %d, %v; stdout %q, stderr %q; want 3, hello, bye", code, err, stdout.String(), stderr.String())
	}

	// A refusal before the upgrade is the master's error.
	code, err = Run(context.Background(), c, 7, "h2", api.ShellOptions{}, false, stdin, &stdout, &stderr)
	if code != Failed || err == nil || !strings.HasPrefix(err.Error(), "bad request /api/v1/sessions/7/shell") {
		t.Errorf("refused: %d, %v", code, err)
	}
	srv.Close()
	code, err = Run(context.Background(), c, 7, "h1", api.ShellOptions{}, false, stdin, &stdout, &stderr)
	if code != Failed || err == nil || !strings.Contains(err.Error(), "cannot reach the master at "+srv.URL) {
		t.Errorf("no master: %d, %v", code, err)
	}
}

func TestMakeRaw(t *testing.T) {
	t0 := unix.Termios{Iflag: unix.ICRNL | unix.IXON, Oflag: unix.OPOST, Lflag: unix.ECHO | unix.ICANON | unix.ISIG, Cflag: unix.PARENB}
	makeRaw(&t0)
	if t0.Iflag&(unix.ICRNL|unix.IXON) != 0 || t0.Oflag&unix.OPOST != 0 || t0.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 ||
		t0.Cflag&unix.PARENB != 0 || t0.Cflag&unix.CS8 == 0 || t0.Cc[unix.VMIN] != 1 || t0.Cc[unix.VTIME] != 0 {
		t.Errorf("not raw: %+v", t0)
	}
}
