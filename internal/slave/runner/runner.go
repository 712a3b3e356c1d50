package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xrdtest/xrdtest/internal/proctree"
)

// Defaults applied by Run to the zero values of Spec.
const (
	DefaultShell = "bash"
	DefaultGrace = 5 * time.Second
	DefaultDrain = 200 * time.Millisecond

	// MaxChunk is the largest chunk passed to Spec.Output.
	MaxChunk = 64 << 10
	// FlushInterval bounds how long output waits in the buffer before it is
	// passed to Spec.Output.
	FlushInterval = 100 * time.Millisecond

	// MarkerEnv is the environment variable that carries the run's random
	// id to every process the script starts; see the package doc.
	MarkerEnv = "XRDTEST_RUN_ID"

	// ScriptDir is the subfolder of Spec.Dir that holds the script files.
	ScriptDir = ".xrdtest"
)

// Spec describes one stage script run.
type Spec struct {
	// Script is the script text, tags already substituted by the master.
	// It is run as "bash FILE"; a shebang line is only a comment.
	Script string
	// Dir is the work directory (created if missing); the script runs
	// there and its script file is written to Dir/.xrdtest. Required.
	Dir string
	// Env is extra environment ("KEY=value"), appended to the slave's own.
	Env []string
	// Timeout kills the script's process tree when it elapses; 0 = none.
	Timeout time.Duration
	// Grace is the time between SIGTERM and SIGKILL on timeout or cancel;
	// 0 = DefaultGrace.
	Grace time.Duration
	// Drain is how long output is still read after the script's main
	// process exited, for background children that keep stdout open;
	// 0 = DefaultDrain, negative = stop at once.
	Drain time.Duration
	// Output receives stdout and stderr, interleaved as written. It is
	// called from one goroutine, in order, never after Run returned, with
	// chunks of at most MaxChunk bytes; buffered output is passed on at
	// least every FlushInterval while the script writes. Like
	// io.Writer.Write it must not keep chunk after returning: the buffer
	// is reused. A slow Output slows the script down (the pipe fills)
	// rather than using memory. nil discards the output.
	Output func(chunk []byte)
	// Shell is the interpreter, looked up in PATH unless it contains a
	// slash; "" = DefaultShell.
	Shell string
	// Logger receives debug and warning messages about killing; nil = none.
	Logger *slog.Logger
	// Start, when set, is called with the function that forks and execs
	// the shell, and must call it: a slave beside its host starts its
	// scripts from a thread in the host's network namespace (package
	// inhost). nil = call it directly.
	Start func(start func() error) error
}

// Result is the outcome of Run.
type Result struct {
	// ExitCode is the exit status of the script's main process; for a
	// death by signal 128+signal, as bash reports it; -1 if it did not
	// run (Err set, or ctx done before the start).
	ExitCode int
	// TimedOut is set when Spec.Timeout elapsed and the tree was killed.
	TimedOut bool
	// Cancelled is set when ctx was done before the script exited and the
	// tree was killed (or the script never started).
	Cancelled bool
	// Start is when the process started (or Run was called, if it did
	// not); End is when Run finished, output drained.
	Start, End time.Time
	// Err is an infrastructure failure (the work dir or the script file
	// could not be written, the shell could not be started): not a script
	// failure. ExitCode is then -1.
	Err error
}

// OK reports whether the script ran and exited 0 in time.
func (r Result) OK() bool {
	return r.Err == nil && !r.TimedOut && !r.Cancelled && r.ExitCode == 0
}

// Run runs spec.Script and waits until its main process exited and output
// was drained, or until the timeout or ctx killed its whole process tree.
// Background children of a script that exits by itself are left running.
func Run(ctx context.Context, spec Spec) Result {
	res := Result{ExitCode: -1, Start: time.Now()}
	res.run(ctx, spec)
	res.End = time.Now()
	return res
}

func (res *Result) run(ctx context.Context, spec Spec) {
	spec = withDefaults(spec)
	log := spec.Logger
	if err := ctx.Err(); err != nil {
		res.Cancelled = true
		return
	}
	shell, err := lookShell(spec.Shell)
	if err != nil {
		res.Err = err
		return
	}
	id, err := newRunID()
	if err != nil {
		res.Err = err
		return
	}
	dir, script, err := writeScript(spec.Dir, id, spec.Script)
	if err != nil {
		res.Err = err
		return
	}
	defer os.Remove(script)

	pr, pw, err := os.Pipe()
	if err != nil {
		res.Err = fmt.Errorf("runner: output pipe: %w", err)
		return
	}
	cmd := &exec.Cmd{
		Path:   shell,
		Args:   []string{spec.Shell, script},
		Dir:    dir,
		Env:    environ(spec.Env, id),
		Stdin:  devNull, // nil if it could not be opened: os/exec opens it then
		Stdout: pw,
		Stderr: pw, // the same pipe: one stream, order kept
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid: true,
		},
	}
	res.Start = time.Now()
	started, err := proctree.StartCommandVia(cmd, spec.Start)
	if err != nil {
		pw.Close()
		pr.Close()
		shells.Delete(spec.Shell)
		res.Err = fmt.Errorf("runner: start %s: %w", spec.Shell, err)
		return
	}
	pw.Close() // the children hold the write end now
	pid := cmd.Process.Pid
	defer started()
	log = log.With("run", id, "pid", pid)

	out := newPump(pr, spec.Output)
	go out.run()
	defer pr.Close()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var timeout <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var werr error
	select {
	case werr = <-waited:
	case <-timeout:
		res.TimedOut = true
	case <-ctx.Done():
		res.Cancelled = true
	}
	if res.TimedOut || res.Cancelled {
		select {
		case werr = <-waited: // exited by itself at the same moment: no kill
			res.TimedOut, res.Cancelled = false, false
		default:
			log.Debug("stopping the stage", "timed_out", res.TimedOut, "cancelled", res.Cancelled)
			werr = proctree.KillTree(MarkerEnv+"="+id, pid, spec.Grace, waited, log)
		}
	}

	out.drain(spec.Drain)
	<-out.done
	out.release()

	res.ExitCode, res.Err = exitCode(cmd, werr)
}

func withDefaults(s Spec) Spec {
	if s.Shell == "" {
		s.Shell = DefaultShell
	}
	if s.Grace <= 0 {
		s.Grace = DefaultGrace
	}
	if s.Drain == 0 {
		s.Drain = DefaultDrain
	}
	if s.Drain < 0 {
		s.Drain = 0
	}
	if s.Output == nil {
		s.Output = func([]byte) {}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s
}

// devNull is the scripts' stdin, opened once for all of them.
var devNull, _ = os.Open(os.DevNull)

// shells caches the paths lookShell found: a search of PATH per stage is
// work a stage need not pay. A path that disappears fails the Start,
// which drops it from the cache.
var shells sync.Map // name -> path

func lookShell(shell string) (string, error) {
	if strings.Contains(shell, "/") {
		return shell, nil // Start reports a missing file
	}
	if p, ok := shells.Load(shell); ok {
		return p.(string), nil
	}
	p, err := exec.LookPath(shell)
	if err != nil {
		return "", fmt.Errorf("runner: shell: %w", err)
	}
	shells.Store(shell, p)
	return p, nil
}

func newRunID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("runner: run id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// writeScript creates dir and dir/.xrdtest and writes the script to a new
// file named after the run id. It returns the absolute dir and file.
func writeScript(dir, id, text string) (absDir, file string, err error) {
	if dir == "" {
		return "", "", errors.New("runner: Spec.Dir is empty")
	}
	if absDir, err = filepath.Abs(dir); err != nil {
		return "", "", fmt.Errorf("runner: work dir: %w", err)
	}
	sdir := filepath.Join(absDir, ScriptDir)
	file = filepath.Join(sdir, "stage-"+id+".sh")
	// The folders exist from the first stage on: made only when missing.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(sdir, 0o700); err != nil {
			return "", "", fmt.Errorf("runner: work dir: %w", err)
		}
		f, err = os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	}
	if err != nil {
		return "", "", fmt.Errorf("runner: script file: %w", err)
	}
	_, err = io.WriteString(f, text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return "", "", fmt.Errorf("runner: script file: %w", err)
	}
	return absDir, file, nil
}

// environ is the slave's environment, then extra, then the run marker
// (os/exec keeps the last of duplicate keys, so the marker always wins).
func environ(extra []string, id string) []string {
	env := os.Environ()
	env = append(env[:len(env):len(env)], extra...)
	return append(env, MarkerEnv+"="+id)
}

func exitCode(cmd *exec.Cmd, werr error) (int, error) {
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return -1, fmt.Errorf("runner: wait: %w", werr)
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return cmd.ProcessState.ExitCode(), nil
	case ws.Signaled():
		return 128 + int(ws.Signal()), nil
	default:
		return ws.ExitStatus(), nil
	}
}
