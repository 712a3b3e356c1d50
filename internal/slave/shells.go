package slave

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/xrdtest/xrdtest/internal/daemonclient"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/slave/shell"
	"github.com/xrdtest/xrdtest/internal/slave/syncsock"
)

// openShell is a shell the master asked for. It lives on the connection
// that carried its ShellOpen: when that ends, the shell's context ends
// and its process tree is killed; its messages are never resent.
type openShell struct {
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	proc   *shell.Process
	// in holds the input not yet written, in order (data, then the end
	// of input): the master keeps at most ShellWindow bytes in flight,
	// so it never fills; the connection's reader never waits for it.
	in chan *protocol.ShellInput

	mu      sync.Mutex
	unacked int           // output sent, not yet acknowledged
	acked   chan struct{} // closed and replaced at every acknowledgement
}

// shellInputQueue bounds the input messages waiting for the shell.
const shellInputQueue = 64

// openShellFor starts the shell of a ShellOpen, or answers why not.
func (a *Agent) openShellFor(ctx context.Context, m *protocol.ShellOpen) {
	connDone := daemonclient.ConnectionDone(ctx)
	exit := func(err string) { // off the connection's reader, which must not wait
		go a.send(ctx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_ShellExit{ShellExit: &protocol.ShellExit{Id: m.GetId(), ExitCode: -1, Error: err}}})
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &openShell{id: m.GetId(), ctx: sctx, cancel: cancel, in: make(chan *protocol.ShellInput, shellInputQueue), acked: make(chan struct{})}
	a.mu.Lock()
	if a.shells == nil {
		a.shells = map[string]*openShell{}
	}
	switch {
	case a.shells[m.GetId()] != nil:
		a.mu.Unlock()
		cancel()
		return // a duplicate: the first one runs
	case len(a.shells) >= protocol.MaxShells:
		a.mu.Unlock()
		cancel()
		exit(fmt.Sprintf("%s has %d shells open already, the most it allows: close one first", a.cfg.Name, protocol.MaxShells))
		return
	}
	a.shells[m.GetId()] = s
	a.mu.Unlock()
	if connDone != nil {
		go func() {
			select {
			case <-connDone:
				cancel()
			case <-sctx.Done():
			}
		}()
	}
	session := m.GetSession()
	env := append(append([]string{}, a.cfg.Env...), m.GetEnv()...)
	env = append(env, "XRDTEST_SESSION="+strconv.FormatInt(session, 10), "XRDTEST_SLAVE="+a.cfg.Name,
		"PATH="+a.binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		// The sync calls belong to a stage: a shell has none to name.
		syncsock.EnvError+"=xrdtest sync and fault work in stage scripts, not in a shell")
	env = append(env, a.hostEnv()...)
	a.useWorkDir(session, 1)
	log := a.log.With("shell", m.GetId(), "session", session)
	proc, err := shell.Start(sctx, shell.Spec{
		Command: m.GetCommand(), TTY: m.GetTty(), Rows: uint16(m.GetRows()), Cols: uint16(m.GetCols()), Term: m.GetTerm(),
		Dir: a.workDir(session), Env: env, Shell: a.cfg.Shell, Start: a.hostStart(), Functions: a.cfg.FunctionsPath, Logger: log,
		Output: func(data []byte, stderr bool) { a.shellOutput(s, data, stderr) },
	})
	if err != nil {
		a.useWorkDir(session, -1)
		a.dropShell(s)
		cancel()
		log.Warn("cannot open a shell", "err", err)
		exit(err.Error())
		return
	}
	s.proc = proc
	log.Info("shell opened", "command", m.GetCommand(), "tty", m.GetTty())
	a.scripts.Add(2)
	go func() {
		defer a.scripts.Done()
		a.writeShellInput(s)
	}()
	go func() {
		defer a.scripts.Done()
		defer cancel()
		res := proc.Result()
		a.useWorkDir(session, -1)
		a.dropShell(s)
		e := &protocol.ShellExit{Id: s.id, ExitCode: int32(res.ExitCode)}
		switch {
		case res.Err != nil:
			e.Error = res.Err.Error()
		case res.Killed:
			e.Error = "the shell was closed"
		}
		log.Info("shell closed", "exit", res.ExitCode, "killed", res.Killed, "err", res.Err)
		// After its output (sent before Result returned), on the same
		// connection only.
		a.send(sctx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_ShellExit{ShellExit: e}})
	}()
}

func (a *Agent) dropShell(s *openShell) {
	a.mu.Lock()
	if a.shells[s.id] == s {
		delete(a.shells, s.id)
	}
	a.mu.Unlock()
}

// shellOutput sends a piece of output once the window has room; output
// of a shell whose connection ended is dropped (its tree is being
// killed).
func (a *Agent) shellOutput(s *openShell, data []byte, stderr bool) {
	s.mu.Lock()
	for s.unacked >= protocol.ShellWindow {
		acked := s.acked
		s.mu.Unlock()
		select {
		case <-acked:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
	}
	s.unacked += len(data)
	s.mu.Unlock()
	a.send(s.ctx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_ShellOutput{ShellOutput: &protocol.ShellOutput{
		Id: s.id, Data: append([]byte(nil), data...), Stderr: stderr}}})
}

// shellInput handles a ShellInput on the connection's reader: nothing
// here waits for the shell.
func (a *Agent) shellInput(in *protocol.ShellInput) {
	a.mu.Lock()
	s := a.shells[in.GetId()]
	a.mu.Unlock()
	if s == nil || s.proc == nil {
		return // ended, or still starting: the master sends nothing before it can
	}
	if n := in.GetOutputAcked(); n > 0 {
		s.mu.Lock()
		s.unacked = max(0, s.unacked-int(n))
		close(s.acked)
		s.acked = make(chan struct{})
		s.mu.Unlock()
	}
	if in.GetRows() > 0 && in.GetCols() > 0 {
		_ = s.proc.Resize(uint16(in.GetRows()), uint16(in.GetCols()))
	}
	if in.GetSignal() != "" {
		if err := s.proc.Signal(in.GetSignal()); err != nil {
			a.log.Debug("shell signal", "shell", s.id, "err", err)
		}
	}
	if in.GetClose() {
		s.cancel()
		return
	}
	if len(in.GetData()) > 0 || in.GetEof() {
		select {
		case s.in <- in:
		default:
			a.log.Warn("shell input overflow: the master sent more than its window; shell killed", "shell", s.id)
			s.cancel()
		}
	}
}

// writeShellInput writes the queued input to the shell, acknowledging
// it once written.
func (a *Agent) writeShellInput(s *openShell) {
	for {
		select {
		case in := <-s.in:
			if d := in.GetData(); len(d) > 0 {
				if _, err := s.proc.Write(d); err != nil {
					a.log.Debug("shell input", "shell", s.id, "err", err)
				}
				a.send(s.ctx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_ShellOutput{ShellOutput: &protocol.ShellOutput{
					Id: s.id, InputAcked: uint64(len(d))}}})
			}
			if in.GetEof() {
				_ = s.proc.CloseStdin()
			}
		case <-s.proc.Done():
			return
		}
	}
}
