package netns

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/slave/runner"
)

// TestRunnerInHost: the slave's runner, with a host's shell, keeps its
// guarantees inside the host: output order, exit status, and on timeout
// the whole tree killed, a child that left the process group (setsid)
// included, while a daemon of an earlier stage lives on.
func TestRunnerInHost(t *testing.T) {
	needRoot(t)
	work := t.TempDir()
	_, hosts := runningHosts(t, fourHosts(), work)
	h := hosts[0]
	shell := filepath.Join(h.dir, "shell")
	if err := os.WriteFile(shell, []byte(shellScript(h)), 0o755); err != nil {
		t.Fatal(err)
	}
	stage := func(script string, timeout time.Duration) (runner.Result, string) {
		var out strings.Builder
		res := runner.Run(context.Background(), runner.Spec{Script: script, Dir: work, Shell: shell, Timeout: timeout,
			Grace: 500 * time.Millisecond, Output: func(b []byte) { out.Write(b) }})
		return res, out.String()
	}
	for _, tt := range []struct {
		name, script string
		timeout      time.Duration
		exit         int
		timedOut     bool
		out          string
	}{
		{"order and status", "echo one; echo two >&2; hostname; exit 3", 0, 3, false, "one\ntwo\nman\n"},
		{"daemon", "setsid sleep 1001 </dev/null >/dev/null 2>&1 &", 0, 0, false, ""},
		{"timeout", "setsid sleep 1002 </dev/null >/dev/null 2>&1 & sleep 1003; echo never", time.Second, -1, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, out := stage(tt.script, tt.timeout)
			if res.Err != nil || res.TimedOut != tt.timedOut || (!tt.timedOut && res.ExitCode != tt.exit) || out != tt.out {
				t.Errorf("result %+v, output %q; want exit %d, timed out %v, output %q", res, out, tt.exit, tt.timedOut, tt.out)
			}
		})
	}
	for pattern, want := range map[string]bool{"sleep 1001": true, "sleep 1002": false, "sleep 1003": false} {
		out, _ := runIn(h, "pgrep", "-f", pattern)
		if (out != "") != want {
			t.Errorf("%s running in the host: %v, want %v", pattern, out != "", want)
		}
	}
}
