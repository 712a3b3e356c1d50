package shell

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/slave/runner"
)

// output collects a shell's output and lets a test wait for text in it.
type output struct {
	mu       sync.Mutex
	out, err bytes.Buffer
	changed  chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{}, 1)} }

func (o *output) write(b []byte, stderr bool) {
	o.mu.Lock()
	if stderr {
		o.err.Write(b)
	} else {
		o.out.Write(b)
	}
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.out.String()
}

func (o *output) Stderr() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err.String()
}

// waitFor waits until stdout holds want.
func (o *output) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(o.String(), want) {
		select {
		case <-o.changed:
		case <-deadline:
			t.Fatalf("no %q in the output within 20s; got %q", want, o.String())
		}
	}
}

func start(t *testing.T, ctx context.Context, spec Spec) (*Process, *output) {
	t.Helper()
	o := newOutput()
	spec.Output = o.write
	if spec.Dir == "" {
		spec.Dir = t.TempDir()
	}
	p, err := Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
			t.Error("the shell did not end")
		}
	})
	return p, o
}

func result(t *testing.T, p *Process) Result {
	t.Helper()
	select {
	case <-p.Done():
		return p.Result()
	case <-time.After(30 * time.Second):
		t.Fatal("the shell did not end within 30s")
	}
	return Result{}
}

// TestCommandPipes: one command without a terminal keeps stdout and
// stderr apart, reads stdin to its end, runs in the work folder with
// the environment given, and its exit code is the result.
func TestCommandPipes(t *testing.T) {
	dir := t.TempDir()
	p, o := start(t, context.Background(), Spec{Dir: dir, Env: []string{"XRDTEST_SESSION=42"},
		Command: []string{"sh", "-c", `pwd; echo "s=$XRDTEST_SESSION"; echo oops >&2; cat; exit 7`}})
	p.Write([]byte("from stdin\n"))
	if err := p.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	r := result(t, p)
	if r.ExitCode != 7 || r.Err != nil || r.Killed {
		t.Fatalf("result %+v, want exit 7", r)
	}
	abs, _ := filepath.Abs(dir)
	if want := abs + "\ns=42\nfrom stdin\n"; o.String() != want {
		t.Errorf("stdout %q, want %q", o.String(), want)
	}
	if o.Stderr() != "oops\n" {
		t.Errorf("stderr %q, want %q", o.Stderr(), "oops\n")
	}
}

// TestFunctions: the stage scripts' functions are defined, and stderr
// stays stderr (functions.sh merges it for the scripts' logs).
func TestFunctions(t *testing.T) {
	fn := filepath.Join(t.TempDir(), "functions.sh")
	if err := runner.InstallFunctions(fn); err != nil {
		t.Fatal(err)
	}
	p, o := start(t, context.Background(), Spec{Functions: fn, Command: []string{"bash", "-c", "echo e >&2; exit 3"}})
	if r := result(t, p); r.ExitCode != 3 {
		t.Fatalf("exit %d, want 3", r.ExitCode)
	}
	if o.Stderr() != "e\n" {
		t.Errorf("stderr %q, want e", o.Stderr())
	}
	p, o = start(t, context.Background(), Spec{Functions: fn, Command: []string{"stamp", "echo", "hello"}})
	if r := result(t, p); r.ExitCode != 0 {
		t.Fatalf("exit %d, want 0; output %q", r.ExitCode, o.String())
	}
	if !strings.Contains(o.String(), "]\thello") {
		t.Errorf("stamp's output %q: functions.sh not sourced", o.String())
	}
}

// TestTerminal: an interactive shell on a terminal of the size asked,
// resized, Ctrl-C interrupting its foreground job, and its exit code.
func TestTerminal(t *testing.T) {
	p, o := start(t, context.Background(), Spec{TTY: true, Rows: 30, Cols: 100, Env: []string{"XRDTEST_SESSION=9", "PATH=/xrdtest-first:" + os.Getenv("PATH")}})
	p.Write([]byte("stty size; echo \"term=$TERM\"; echo \"path=$PATH\"\n"))
	o.waitFor(t, "30 100")
	o.waitFor(t, "term=xterm-256color")
	// The bashrc files do not change the scripts' PATH.
	o.waitFor(t, "path=/xrdtest-first:"+os.Getenv("PATH")+"\r\n")
	if err := p.Resize(40, 120); err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("stty size\n"))
	o.waitFor(t, "40 120")
	// A foreground job that would run for a minute; Ctrl-C ends it and
	// the shell goes on.
	p.Write([]byte("sleep 60\n"))
	time.Sleep(200 * time.Millisecond) // let bash start the job: the byte must reach sleep, not bash's line editor
	p.Write([]byte{3})
	p.Write([]byte("echo after-$((6*7))\n"))
	o.waitFor(t, "after-42")
	p.Write([]byte("exit 5\n"))
	if r := result(t, p); r.ExitCode != 5 || r.Killed {
		t.Fatalf("result %+v, want exit 5", r)
	}
	if !strings.Contains(o.String(), "[xrdtest session 9 ") {
		t.Errorf("no prompt naming the session in %q", o.String())
	}
}

// TestSignal: without a terminal, INT reaches the command.
func TestSignal(t *testing.T) {
	p, o := start(t, context.Background(), Spec{Command: []string{"bash", "-c", "trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.05; done"}})
	o.waitFor(t, "ready")
	if err := p.Signal("INT"); err != nil {
		t.Fatal(err)
	}
	if r := result(t, p); r.ExitCode != 9 {
		t.Fatalf("exit %d, want 9 (the INT trap's); output %q", r.ExitCode, o.String())
	}
	if err := p.Signal("USR1"); err == nil {
		t.Error("USR1 allowed")
	}
}

// TestKilledWithItsTree: when ctx ends, the shell and what it started,
// even in a session of its own, are killed.
func TestKilledWithItsTree(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	p, o := start(t, ctx, Spec{Dir: dir, TTY: true, Command: []string{"bash", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > pid; echo started; sleep 300"}})
	o.waitFor(t, "started")
	cancel()
	r := result(t, p)
	if !r.Killed {
		t.Errorf("result %+v, want killed", r)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat("/proc/" + strings.TrimSpace(string(b))); os.IsNotExist(err) {
			break
		}
		if st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			break // a zombie: dead, its reaper elsewhere
		}
		if time.Now().After(deadline) {
			t.Fatal("the setsid child survived the shell's kill")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBackgroundChildDoesNotHoldTheEnd: a child left running with the
// terminal open does not keep the shell from ending.
func TestBackgroundChildDoesNotHoldTheEnd(t *testing.T) {
	for _, tty := range []bool{true, false} {
		p, _ := start(t, context.Background(), Spec{TTY: tty, Command: []string{"bash", "-c", "sleep 3 & exit 4"}})
		begin := time.Now()
		if r := result(t, p); r.ExitCode != 4 {
			t.Fatalf("tty %v: exit %d, want 4", tty, r.ExitCode)
		}
		if d := time.Since(begin); d > 2500*time.Millisecond {
			t.Errorf("tty %v: the end waited %s for the background child", tty, d)
		}
	}
}
