// Package shell runs the slave's shells (`xrdtest shell`, the pages'
// terminal): an interactive bash or one command, on a pseudo-terminal or
// on pipes, in a session's work folder with the stage scripts'
// environment and functions.sh, as one process tree that is killed
// whole when its client goes away.
package shell

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/proctree"
)

// Defaults and bounds.
const (
	// MaxChunk is the largest piece of output passed to Spec.Output.
	MaxChunk = 32 << 10
	// Grace is the time between SIGTERM and SIGKILL when a shell is
	// killed.
	Grace = 2 * time.Second
	// Drain is how long output is still read after the main process
	// exited, from background children that keep the terminal or the
	// pipes open; they are left running, as a stage's are.
	Drain = 200 * time.Millisecond
	// MarkerEnv carries each shell's random id to every process it
	// starts, for killing the whole tree (proctree.KillTree).
	MarkerEnv = "XRDTEST_SHELL_ID"
	// FunctionsEnv names functions.sh for the shell's start-up script.
	FunctionsEnv = "XRDTEST_FUNCTIONS"
)

// Spec describes one shell.
type Spec struct {
	// Command is run as "$@" by bash once functions.sh is sourced (with
	// stderr left alone); empty: an interactive bash.
	Command []string
	// TTY runs the shell on a pseudo-terminal of Rows x Cols (0: 24x80)
	// with TERM=Term (""=xterm-256color); without, stdin, stdout and
	// stderr are pipes.
	TTY        bool
	Rows, Cols uint16
	Term       string
	// Dir is the work folder (created if missing).
	Dir string
	// Env is added to the slave's environment.
	Env []string
	// Shell is the bash to run ("" = bash).
	Shell string
	// Start, when set, is called with the function that forks and execs
	// the shell, and must call it (see runner.Spec.Start).
	Start func(start func() error) error
	// Functions is functions.sh, sourced before the command or the
	// prompt ("" = none).
	Functions string
	// Output receives the output in pieces of at most MaxChunk bytes,
	// stderr set for the stderr pipe (without a tty); it may block,
	// which pauses the shell's output. Called from one goroutine per
	// stream, never after Done is closed.
	Output func(data []byte, stderr bool)
	Logger *slog.Logger
}

// Result is how a shell ended.
type Result struct {
	// ExitCode is the main process's exit status, 128+N for a death by
	// signal N; -1 with Err.
	ExitCode int
	// Killed: ctx ended first and the tree was killed.
	Killed bool
	Err    error
}

// Process is a running shell.
type Process struct {
	spec   Spec
	cmd    *exec.Cmd
	ptmx   *os.File       // tty: the terminal's master side
	stdin  io.WriteCloser // pipes: the shell's stdin
	marker string
	done   chan struct{}
	res    Result
	inMu   sync.Mutex // orders input writes and the stdin close
}

// rcFile is the interactive shell's start-up file: the usual bashrc
// files (aliases, completion), but the stage scripts' PATH kept, so that
// commands resolve as in the scripts (xrdtest first); then the scripts'
// functions, and a prompt that says where the shell is.
const rcFile = `# xrdtest shell: written by the slave at each interactive shell.
# What a script's bash reads first, which an interactive one skips (for a
# slave beside its host it joins the host's cgroup).
[ -n "${BASH_ENV-}" ] && . "$BASH_ENV"
__xrdtest_path=$PATH
[ -r /etc/bash.bashrc ] && . /etc/bash.bashrc
[ -r ~/.bashrc ] && . ~/.bashrc
PATH=$__xrdtest_path; unset __xrdtest_path
` + sourceFunctions + `
PS1='[xrdtest${XRDTEST_SESSION:+ session $XRDTEST_SESSION} \h \W]\$ '
`

// sourceFunctions defines functions.sh's functions, keeping stderr
// apart (functions.sh merges it into stdout for the scripts' logs).
const sourceFunctions = `if [ -n "$` + FunctionsEnv + `" ] && [ -r "$` + FunctionsEnv + `" ]; then exec 3>&2; . "$` + FunctionsEnv + `"; exec 2>&3 3>&-; fi`

// Start starts the shell; when ctx ends before it exits, its process
// tree is killed (SIGTERM, SIGKILL after Grace).
func Start(ctx context.Context, spec Spec) (*Process, error) {
	if spec.Shell == "" {
		spec.Shell = "bash"
	}
	if spec.Logger == nil {
		spec.Logger = slog.New(slog.DiscardHandler)
	}
	if spec.Output == nil {
		spec.Output = func([]byte, bool) {}
	}
	if spec.Rows == 0 || spec.Cols == 0 {
		spec.Rows, spec.Cols = 24, 80
	}
	if spec.Term == "" {
		spec.Term = "xterm-256color"
	}
	path := spec.Shell
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("shell: %w", err)
		}
		path = p
	}
	dir, err := filepath.Abs(spec.Dir)
	if err == nil {
		err = os.MkdirAll(filepath.Join(dir, ".xrdtest"), 0o700)
	}
	if err != nil {
		return nil, fmt.Errorf("shell: work folder: %w", err)
	}
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	p := &Process{spec: spec, marker: MarkerEnv + "=" + hex.EncodeToString(id), done: make(chan struct{})}
	args := []string{spec.Shell, "-c", sourceFunctions + `; "$@"`, "xrdtest-shell"}
	if len(spec.Command) == 0 {
		rc := filepath.Join(dir, ".xrdtest", "shellrc")
		if err := os.WriteFile(rc, []byte(rcFile), 0o600); err != nil {
			return nil, fmt.Errorf("shell: start-up file: %w", err)
		}
		args = []string{spec.Shell, "--rcfile", rc, "-i"}
	} else {
		args = append(args, spec.Command...)
	}
	env := append(os.Environ(), spec.Env...)
	env = append(env, FunctionsEnv+"="+spec.Functions, p.marker)
	if spec.TTY {
		env = append(env, "TERM="+spec.Term)
	}
	p.cmd = &exec.Cmd{Path: path, Args: args, Dir: dir, Env: env}
	var outputs []*os.File
	var closeAfterStart []io.Closer
	if spec.TTY {
		ptmx, tty, err := openPTY()
		if err != nil {
			return nil, fmt.Errorf("shell: %w", err)
		}
		if err := setSize(ptmx, spec.Rows, spec.Cols); err != nil {
			ptmx.Close()
			tty.Close()
			return nil, fmt.Errorf("shell: window size: %w", err)
		}
		p.ptmx = ptmx
		p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = tty, tty, tty
		// Its own session, the terminal its controlling one: Ctrl-C
		// reaches its foreground job as at a console.
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		outputs = []*os.File{ptmx}
		closeAfterStart = []io.Closer{tty}
	} else {
		inR, inW, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		outR, outW, err := os.Pipe()
		if err != nil {
			inR.Close()
			inW.Close()
			return nil, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			inR.Close()
			inW.Close()
			outR.Close()
			outW.Close()
			return nil, err
		}
		p.stdin = inW
		p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, errW
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		outputs = []*os.File{outR, errR}
		closeAfterStart = []io.Closer{inR, outW, errW}
	}
	started, err := proctree.StartCommandVia(p.cmd, spec.Start)
	for _, c := range closeAfterStart {
		c.Close()
	}
	if err != nil {
		for _, f := range outputs {
			f.Close()
		}
		if p.stdin != nil {
			p.stdin.Close()
		}
		return nil, fmt.Errorf("shell: start %s: %w", spec.Shell, err)
	}
	var readers sync.WaitGroup
	for i, f := range outputs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			pump(f, i == 1, spec.Output)
		}()
	}
	go p.run(ctx, started, outputs, &readers)
	return p, nil
}

// pump passes what f gives to out until f ends or is closed.
func pump(f *os.File, stderr bool, out func([]byte, bool)) {
	buf := make([]byte, MaxChunk)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			out(buf[:n], stderr)
		}
		if err != nil {
			return
		}
	}
}

func (p *Process) run(ctx context.Context, started func(), outputs []*os.File, readers *sync.WaitGroup) {
	defer close(p.done)
	defer started()
	waited := make(chan error, 1)
	go func() { waited <- p.cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-ctx.Done():
		select {
		case werr = <-waited:
		default:
			p.res.Killed = true
			werr = proctree.KillTree(p.marker, p.cmd.Process.Pid, Grace, waited, p.spec.Logger)
		}
	}
	// The readers end when the last holder of the terminal or the
	// pipes closes it; background children may hold them for long.
	drained := make(chan struct{})
	go func() { readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(Drain):
		for _, f := range outputs {
			f.Close()
		}
		<-drained
	}
	for _, f := range outputs {
		f.Close()
	}
	p.inMu.Lock()
	if p.stdin != nil {
		p.stdin.Close()
	}
	p.inMu.Unlock()
	p.res.ExitCode, p.res.Err = exitCode(p.cmd, werr)
}

func exitCode(cmd *exec.Cmd, werr error) (int, error) {
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return -1, fmt.Errorf("shell: wait: %w", werr)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}

// Done is closed once the shell's main process has exited (or was
// killed) and its output was passed on.
func (p *Process) Done() <-chan struct{} { return p.done }

// Result is how the shell ended; valid once Done is closed.
func (p *Process) Result() Result {
	<-p.done
	return p.res
}

// Write writes to the shell's stdin; it may block while the shell does
// not read.
func (p *Process) Write(b []byte) (int, error) {
	if p.ptmx != nil {
		return p.ptmx.Write(b)
	}
	p.inMu.Lock()
	defer p.inMu.Unlock()
	select {
	case <-p.done:
		return 0, os.ErrClosed
	default:
	}
	return p.stdin.Write(b)
}

// CloseStdin ends the shell's input: the pipe is closed, or on a tty an
// end of file (Ctrl-D) is typed.
func (p *Process) CloseStdin() error {
	if p.ptmx != nil {
		_, err := p.ptmx.Write([]byte{4})
		return err
	}
	p.inMu.Lock()
	defer p.inMu.Unlock()
	return p.stdin.Close()
}

// Resize sets the terminal's size (tty only); the shell's foreground
// job gets SIGWINCH.
func (p *Process) Resize(rows, cols uint16) error {
	if p.ptmx == nil {
		return errors.New("shell: no terminal to resize")
	}
	if rows == 0 || cols == 0 {
		return fmt.Errorf("shell: bad window size %dx%d", rows, cols)
	}
	return setSize(p.ptmx, rows, cols)
}

// signals are the signals a client may send.
var signals = map[string]unix.Signal{"INT": unix.SIGINT, "TERM": unix.SIGTERM, "HUP": unix.SIGHUP, "QUIT": unix.SIGQUIT, "KILL": unix.SIGKILL}

// Signal sends a signal (INT, TERM, HUP, QUIT, KILL) to the shell's
// foreground process group: on a tty the terminal's, else the shell's
// own group.
func (p *Process) Signal(name string) error {
	sig, ok := signals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	if !ok {
		return fmt.Errorf("shell: signal %q not allowed (INT, TERM, HUP, QUIT, KILL)", name)
	}
	pgid := p.cmd.Process.Pid
	if p.ptmx != nil {
		if fg, err := foreground(p.ptmx); err == nil && fg > 0 {
			pgid = fg
		}
	}
	return unix.Kill(-pgid, sig)
}
