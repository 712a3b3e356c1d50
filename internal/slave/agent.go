// Package slave is the slave daemon: it enrolls with the master once,
// keeps one Connect stream open (reconnecting with backoff), runs the
// stage scripts the master sends and streams their output back, and
// opens the shells it asks for (shells.go).
package slave

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/daemonclient"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/slave/inhost"
	"github.com/xrdtest/xrdtest/internal/slave/runner"
	"github.com/xrdtest/xrdtest/internal/slave/syncsock"
)

// Config configures a slave.
type Config struct {
	Master        string // host:port of the master's daemon port
	Name          string // the host's full name: the slave's identity
	StateDir      string // enrolled key and certificates
	WorkDir       string // one subfolder per session
	FunctionsPath string // where functions.sh is installed
	Token         string // connection token, needed to enroll
	Pin           pki.Pin
	HavePin       bool
	Version       string
	Log           *slog.Logger
	// Env is added to every script's environment.
	Env []string
	// MinBackoff and MaxBackoff bound the reconnect delay.
	MinBackoff, MaxBackoff time.Duration
	// WorkRetention limits the session work directories kept in WorkDir.
	WorkRetention WorkRetention
	// Shell runs the stage scripts and shells ("" = bash).
	Shell string
	// Host, when set, is the host this slave runs beside (the netns
	// backend's slaves): stage scripts and shells start inside it.
	Host *inhost.Host
	// SyncDir holds the scripts' sync socket as a file ("" = an abstract
	// socket): scripts in another network namespace reach it.
	SyncDir string
}

// Agent is a running slave.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	client *daemonclient.Client

	mu     sync.Mutex
	stages map[string]*heldStage // running, or finished and not yet acknowledged
	order  []string              // stage ids in the order they started
	// completed remembers recently acknowledged stage ids, so a command
	// resent by the master after a reconnect never runs twice.
	completed map[string]bool
	compOrder []string
	// syncSrv is the scripts' socket for sync calls, opened by Run; syncErr
	// says why there is none.
	syncSrv *syncsock.Server
	syncErr error
	// syncCalls are the scripts' sync calls waiting for the master.
	syncCalls map[string]*syncCall
	syncSeq   uint64
	binDir    string // holds the `xrdtest` the scripts call
	// shells are the shells open, by id (shells.go).
	shells map[string]*openShell
	// scripts counts the stages running, for Run to wait for them.
	scripts sync.WaitGroup

	// dirsMu guards the use of the work directories (workdirs.go).
	dirsMu   sync.Mutex
	busyDirs map[int64]int       // sessions with stages running
	usedDirs map[int64]time.Time // when each session last started or ended a stage
}

type syncCall struct {
	req    *protocol.SyncRequest
	answer chan syncsock.Response
}

// heldStage is a stage command the slave holds until the master has
// acknowledged all of it: its unacknowledged output chunks (resent after a
// reconnect) and its end.
type heldStage struct {
	id      string
	cancel  context.CancelFunc
	mu      sync.Mutex
	chunks  []*protocol.StageOutput // sent, not yet acknowledged
	bytes   int                     // their size
	done    *protocol.StageDone     // nil while running
	started bool                    // StageStarted sent (resent after a reconnect)
	begun   time.Time               // when the script started
	acked   chan struct{}           // closed and replaced at every ack
	// announce orders StageStarted before the stage's end: held while it
	// is sent, and while the end is recorded.
	announce sync.Mutex
}

// startedDelay is how long a stage runs before the slave tells the master
// it started: the end of a shorter stage says it all (its duration dates
// the start), one message instead of two, which is much of what a slave
// costs the master per stage. A stage that starts a bash takes about 10
// ms of CPU here, more with many hosts on one machine, so a shorter delay
// announced most of them; the master shows a running stage after a
// second anyway (session.runningDelay).
const startedDelay = 200 * time.Millisecond

// window bounds the unacknowledged output a stage may hold: beyond it the
// script's output is not read, which blocks the script, until the master
// catches up. It is what keeps a slave's memory bounded while the master
// is away.
const window = 8 << 20

// maxCompleted bounds the memory of acknowledged stage ids.
const maxCompleted = 4096

// ErrRefused wraps a refusal by the master that retrying cannot cure.
var ErrRefused = daemonclient.ErrRefused

// New returns an agent; Run starts it.
func New(cfg Config) *Agent {
	a := &Agent{cfg: cfg, log: cfg.Log.With("slave", cfg.Name),
		stages: map[string]*heldStage{}, completed: map[string]bool{}, syncCalls: map[string]*syncCall{}}
	a.client = daemonclient.New(daemonclient.Config{
		Master: cfg.Master, Role: pki.RoleSlave, Name: cfg.Name, StateDir: cfg.StateDir, Token: cfg.Token,
		Pin: cfg.Pin, HavePin: cfg.HavePin, Version: cfg.Version, Log: a.log, MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff,
	})
	return a
}

// Run serves the master until ctx ends or the master refuses the slave
// for good.
func (a *Agent) Run(ctx context.Context) error {
	if err := (pki.Identity{Role: pki.RoleSlave, Name: a.cfg.Name}).Validate(); err != nil {
		return fmt.Errorf("%w: invalid slave name %q: %v", ErrRefused, a.cfg.Name, err)
	}
	if err := runner.InstallFunctions(a.cfg.FunctionsPath); err != nil {
		return fmt.Errorf("cannot install functions.sh: %w", err)
	}
	if err := a.installBinary(); err != nil {
		return fmt.Errorf("cannot put xrdtest on the scripts' PATH: %w", err)
	}
	go a.runWorkRetention(ctx)
	// One socket for every stage's sync calls; without it the stages
	// run, and their sync calls say why they fail.
	if a.syncSrv, a.syncErr = syncsock.ListenIn(a.cfg.SyncDir); a.syncErr != nil {
		a.log.Warn("no sync socket: xrdtest sync will fail in the stages", "err", a.syncErr)
	} else {
		go a.syncSrv.Serve(ctx)
	}
	err := a.client.Run(ctx, (*handler)(a))
	// The scripts' and shells' contexts end with ctx: wait until they are stopped
	// (TERM, then KILL after their grace), so that none outlives the
	// slave.
	a.scripts.Wait()
	return err
}

// handler is the Agent as the connection sees it.
type handler Agent

func (h *handler) Hello(hello *protocol.Hello)                           { hello.HeldStages = (*Agent)(h).held() }
func (h *handler) Resends() []*protocol.DaemonMessage                    { return (*Agent)(h).resends() }
func (h *handler) Handle(ctx context.Context, m *protocol.MasterMessage) { (*Agent)(h).handle(ctx, m) }

// installBinary links the running executable as `xrdtest` into a folder
// put first on the scripts' PATH, so that `xrdtest sync` works in any
// script unchanged.
func (a *Agent) installBinary() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	a.binDir = filepath.Join(a.cfg.StateDir, "bin")
	if err := os.MkdirAll(a.binDir, 0o755); err != nil {
		return err
	}
	link := filepath.Join(a.binDir, "xrdtest")
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(self, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

// relaySync sends a script's sync call to the master and waits for the
// answer; the call is resent after a reconnect until answered.
func (a *Agent) relaySync(ctx, agentCtx context.Context, stageID string, r syncsock.Request) syncsock.Response {
	a.mu.Lock()
	a.syncSeq++
	call := &syncCall{req: &protocol.SyncRequest{Id: fmt.Sprintf("%s/sync/%d", stageID, a.syncSeq), StageId: stageID,
		Op: r.Op, Name: r.Name, Count: r.Count, TimeoutMs: r.TimeoutMs, Args: r.Args}, answer: make(chan syncsock.Response, 1)}
	a.syncCalls[call.req.Id] = call
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.syncCalls, call.req.Id)
		a.mu.Unlock()
	}()
	a.send(agentCtx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_SyncRequest{SyncRequest: call.req}})
	select {
	case ans := <-call.answer:
		return ans
	case <-ctx.Done():
		return syncsock.Response{Error: "the stage ended"}
	}
}

// send queues a message for the master; it waits while disconnected.
func (a *Agent) send(ctx context.Context, m *protocol.DaemonMessage) { a.client.Send(ctx, m) }

// held lists the stages the slave holds, for Hello.
func (a *Agent) held() []*protocol.HeldStage {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*protocol.HeldStage
	a.eachStage(func(id string, st *heldStage) {
		out = append(out, &protocol.HeldStage{Id: id, Finished: st.done != nil})
	})
	return out
}

// eachStage calls f on each stage held, in the order they started, with
// the stage locked; the caller holds a.mu.
func (a *Agent) eachStage(f func(id string, st *heldStage)) {
	for _, id := range a.order {
		st := a.stages[id]
		st.mu.Lock()
		f(id, st)
		st.mu.Unlock()
	}
}

// resends returns, stage by stage, what the master has not acknowledged:
// the start, the output chunks in order, the end.
func (a *Agent) resends() []*protocol.DaemonMessage {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*protocol.DaemonMessage
	a.eachStage(func(id string, st *heldStage) {
		if st.started {
			out = append(out, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageStarted{StageStarted: &protocol.StageStarted{Id: id,
				RunningUs: time.Since(st.begun).Microseconds()}}})
		}
		for _, c := range st.chunks {
			out = append(out, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageOutput{StageOutput: c}})
		}
		if st.done != nil {
			out = append(out, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageDone{StageDone: st.done}})
		}
	})
	for _, c := range a.syncCalls {
		out = append(out, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_SyncRequest{SyncRequest: c.req}})
	}
	return out
}

// ack drops what the master has stored.
func (a *Agent) ack(ack *protocol.Ack) {
	a.mu.Lock()
	st := a.stages[ack.GetId()]
	if st != nil && ack.GetDone() {
		delete(a.stages, ack.GetId())
		for i, id := range a.order {
			if id == ack.GetId() {
				a.order = append(a.order[:i], a.order[i+1:]...)
				break
			}
		}
		a.completed[ack.GetId()] = true
		a.compOrder = append(a.compOrder, ack.GetId())
		if len(a.compOrder) > maxCompleted {
			delete(a.completed, a.compOrder[0])
			a.compOrder = a.compOrder[1:]
		}
	}
	a.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for n < len(st.chunks) && (ack.GetDone() || st.chunks[n].GetSeq() <= ack.GetSeq()) {
		st.bytes -= len(st.chunks[n].GetData())
		n++
	}
	st.chunks = st.chunks[n:]
	close(st.acked)
	st.acked = make(chan struct{})
}

func (a *Agent) handle(ctx context.Context, m *protocol.MasterMessage) {
	switch m := m.Msg.(type) {
	case *protocol.MasterMessage_RunStage:
		a.startStage(ctx, m.RunStage)
	case *protocol.MasterMessage_CancelStage:
		a.mu.Lock()
		if s := a.stages[m.CancelStage.GetId()]; s != nil {
			s.cancel()
		}
		a.mu.Unlock()
	case *protocol.MasterMessage_Ack:
		a.ack(m.Ack)
	case *protocol.MasterMessage_SyncResponse:
		a.mu.Lock()
		call := a.syncCalls[m.SyncResponse.GetId()]
		a.mu.Unlock()
		if call != nil {
			select {
			case call.answer <- syncsock.Response{Result: m.SyncResponse.GetResult(), Error: m.SyncResponse.GetError()}:
			default:
			}
		}
	case *protocol.MasterMessage_CollectLogs:
		go a.collectLogs(ctx, m.CollectLogs)
	case *protocol.MasterMessage_ShellOpen:
		a.openShellFor(ctx, m.ShellOpen)
	case *protocol.MasterMessage_ShellInput:
		a.shellInput(m.ShellInput)
	case *protocol.MasterMessage_Heartbeat:
	default:
		a.log.Warn("unexpected message from the master", "type", fmt.Sprintf("%T", m))
	}
}

// startStage runs a stage in the background. A command the slave holds or
// has recently completed is a resend and is ignored: nothing runs twice.
func (a *Agent) startStage(ctx context.Context, rs *protocol.RunStage) {
	a.mu.Lock()
	if _, held := a.stages[rs.GetId()]; held || a.completed[rs.GetId()] {
		a.mu.Unlock()
		a.log.Debug("ignoring a stage command already received", "id", rs.GetId())
		return
	}
	sctx, cancel := context.WithCancel(ctx)
	st := &heldStage{id: rs.GetId(), cancel: cancel, acked: make(chan struct{})}
	a.stages[rs.GetId()] = st
	a.order = append(a.order, rs.GetId())
	a.mu.Unlock()
	a.scripts.Add(1)
	go func() {
		defer a.scripts.Done()
		defer cancel()
		a.runStage(sctx, ctx, st, rs)
	}()
}

func (a *Agent) runStage(ctx, agentCtx context.Context, st *heldStage, rs *protocol.RunStage) {
	id := rs.GetId()
	log := a.log.With("stage", rs.GetStageName(), "session", rs.GetSession())
	var seq uint64
	env := append(append([]string{}, a.cfg.Env...), rs.GetEnv()...)
	env = append(env, "PATH="+a.binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	env = append(env, a.hostEnv()...)
	if a.syncSrv != nil {
		senv, end := a.syncSrv.Stage(ctx, func(callCtx context.Context, r syncsock.Request) syncsock.Response {
			return a.relaySync(callCtx, agentCtx, id, r)
		})
		defer end()
		env = append(env, senv...)
	} else {
		// Run logged why at the start.
		env = append(env, syncsock.EnvError+"="+a.syncErr.Error())
	}
	a.useWorkDir(rs.GetSession(), 1)
	defer a.useWorkDir(rs.GetSession(), -1)
	st.mu.Lock()
	st.begun = time.Now()
	st.mu.Unlock()
	announce := time.AfterFunc(startedDelay, func() { a.announceStart(agentCtx, st) })
	defer announce.Stop()
	res := runner.Run(ctx, runner.Spec{
		Script:  rs.GetScript(),
		Dir:     a.workDir(rs.GetSession()),
		Env:     env,
		Timeout: time.Duration(rs.GetTimeoutMs()) * time.Millisecond,
		Grace:   time.Duration(rs.GetKillGraceMs()) * time.Millisecond,
		Shell:   a.cfg.Shell,
		Start:   a.hostStart(),
		Logger:  log,
		Output: func(chunk []byte) {
			seq++
			c := &protocol.StageOutput{Id: id, Seq: seq, Data: append([]byte(nil), chunk...)}
			st.mu.Lock()
			st.chunks = append(st.chunks, c)
			st.bytes += len(c.Data)
			st.mu.Unlock()
			a.send(agentCtx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageOutput{StageOutput: c}})
			a.waitWindow(agentCtx, st)
		},
	})
	st.announce.Lock()
	st.mu.Lock()
	done := &protocol.StageDone{Id: id, ExitCode: int32(res.ExitCode), TimedOut: res.TimedOut, Cancelled: res.Cancelled, Chunks: seq,
		DurationUs: max(1, time.Since(st.begun).Microseconds())}
	if res.Err != nil {
		done.Error = res.Err.Error()
	}
	st.done = done
	st.mu.Unlock()
	st.announce.Unlock()
	log.Info("stage done", "exit", res.ExitCode, "timed_out", res.TimedOut, "cancelled", res.Cancelled, "err", res.Err)
	a.send(agentCtx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageDone{StageDone: done}})
}

// hostEnv is what a script needs in its environment to join the host
// the slave runs beside, if any.
func (a *Agent) hostEnv() []string {
	if a.cfg.Host == nil {
		return nil
	}
	return a.cfg.Host.Env()
}

// hostStart starts scripts and shells inside the host the slave runs
// beside; nil (start them here) for a slave in its host.
func (a *Agent) hostStart() func(func() error) error {
	if a.cfg.Host == nil {
		return nil
	}
	return a.cfg.Host.Start
}

// announceStart sends StageStarted once, unless the stage has ended.
func (a *Agent) announceStart(ctx context.Context, st *heldStage) {
	st.announce.Lock()
	defer st.announce.Unlock()
	st.mu.Lock()
	send := !st.started && st.done == nil
	st.started = st.started || send
	running := time.Since(st.begun)
	st.mu.Unlock()
	if send {
		a.send(ctx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageStarted{StageStarted: &protocol.StageStarted{Id: st.id,
			RunningUs: running.Microseconds()}}})
	}
}

// waitWindow blocks while the stage holds more unacknowledged output than
// the window allows.
func (a *Agent) waitWindow(ctx context.Context, st *heldStage) {
	for {
		st.mu.Lock()
		full, acked := st.bytes > window, st.acked
		st.mu.Unlock()
		if !full {
			return
		}
		select {
		case <-acked:
		case <-ctx.Done():
			return
		}
	}
}

// logChunkSize is the size of the pieces log files are sent in.
const logChunkSize = 64 << 10

// collectLogs sends the requested files, each from its end when
// max_bytes is set.
func (a *Agent) collectLogs(ctx context.Context, req *protocol.CollectLogs) {
	chunk := func(c *protocol.LogChunk) {
		c.Id = req.GetId()
		a.send(ctx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_LogChunk{LogChunk: c}})
	}
	for _, p := range req.GetPaths() {
		if err := a.sendFile(p, req.GetMaxBytes(), chunk); err != nil {
			chunk(&protocol.LogChunk{Path: p, Eof: true, Error: err.Error()})
		}
	}
	chunk(&protocol.LogChunk{Done: true})
}

func (a *Agent) sendFile(path string, maxBytes int64, chunk func(*protocol.LogChunk)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && maxBytes > 0 && st.Size() > maxBytes {
		if _, err := f.Seek(-maxBytes, io.SeekEnd); err != nil {
			return err
		}
	}
	buf := make([]byte, logChunkSize)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			chunk(&protocol.LogChunk{Path: path, Data: append([]byte(nil), buf[:n]...)})
		}
		if errors.Is(err, io.EOF) {
			chunk(&protocol.LogChunk{Path: path, Eof: true})
			return nil
		}
		if err != nil {
			return err
		}
	}
}
