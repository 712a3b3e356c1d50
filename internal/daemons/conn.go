package daemons

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/session"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/store"
)

// daemonConn is the master's side of one daemon's Connect stream.
type daemonConn struct {
	id       pki.Identity
	addr     string
	version  string
	hostname string
	since    time.Time
	log      *slog.Logger

	// out feeds the goroutine that writes to the stream (a gRPC stream
	// must not be written concurrently).
	out    chan *protocol.MasterMessage
	closed chan struct{}            // closed when the stream ended
	hv     *protocol.HypervisorInfo // hypervisors: capacity, clusters

	registry *Registry

	mu       sync.Mutex
	logs     map[string]*logWait // log collections by id
	reason   string              // why the connection ended
	lastSeen time.Time
	// doneAcks acknowledge stage ends: they go out just before the next
	// message to the daemon (its next RunStage, in the same write) or with
	// the next heartbeat, instead of costing a write and a read each. An
	// end is acknowledged only to let the slave forget it: nothing waits
	// for it, and a slave that reconnects before it arrives resends the
	// end, which is acknowledged again.
	doneAcks []*protocol.MasterMessage
	// shells are the shells open on this connection, by id (shells.go).
	shells map[string]*Shell
}

func newDaemonConn(r *Registry, id pki.Identity, addr string, hello *protocol.Hello, log *slog.Logger) *daemonConn {
	return &daemonConn{
		registry: r, id: id, addr: addr, version: hello.GetVersion(), hostname: hello.GetHostname(), since: time.Now(), log: log,
		out: make(chan *protocol.MasterMessage, 64), closed: make(chan struct{}),
		logs: map[string]*logWait{}, lastSeen: time.Now(), hv: hello.GetHypervisor(),
	}
}

func (c *daemonConn) info() DaemonInfo {
	return DaemonInfo{Role: api.Role(c.id.Role), Name: c.id.Name, Address: c.addr, Version: c.version, Hostname: c.hostname, Since: c.since, State: api.DaemonConnected}
}

// send queues a message for the stream; it gives up when the stream ended.
func (c *daemonConn) send(m *protocol.MasterMessage) bool {
	select {
	case c.out <- m:
		return true
	case <-c.closed:
		return false
	}
}

// ackLater queues a stage end's acknowledgement for the next send.
func (c *daemonConn) ackLater(m *protocol.MasterMessage) {
	c.mu.Lock()
	c.doneAcks = append(c.doneAcks, m)
	c.mu.Unlock()
}

// takeAcks returns the queued acknowledgements and forgets them.
func (c *daemonConn) takeAcks() []*protocol.MasterMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	acks := c.doneAcks
	c.doneAcks = nil
	return acks
}

func (c *daemonConn) close(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
	default:
		c.reason = reason
		close(c.closed)
	}
}

func (c *daemonConn) closeReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

func (c *daemonConn) seen() {
	c.mu.Lock()
	c.lastSeen = time.Now()
	c.mu.Unlock()
}

func (c *daemonConn) silentFor() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Since(c.lastSeen)
}

// stageWait follows one stage command on one slave.
type stageWait struct {
	cmd  session.StageCommand
	sink session.OutputSink
	done chan *protocol.StageDone

	mu      sync.Mutex
	started time.Time
	sinkErr error
}

func (w *stageWait) startTime(fallback time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started.IsZero() {
		return fallback
	}
	return w.started
}

// outcome converts the slave's report; the end time is the master's
// clock at the report. A stage short enough for the slave to send no
// StageStarted starts its duration before the end, or, from a slave that
// does not say, when its command was sent.
func (w *stageWait) outcome(d *protocol.StageDone, sent time.Time) session.Outcome {
	o := session.Outcome{Start: w.startTime(time.Time{}), End: time.Now()}
	if us := d.GetDurationUs(); o.Start.IsZero() && us > 0 {
		o.Start = o.End.Add(-time.Duration(us) * time.Microsecond)
	}
	o.Start = maxTime(o.Start, sent)
	code := int(d.GetExitCode())
	switch {
	case d.GetError() != "":
		o.Status, o.Message = store.StatusFailed, "the slave could not run the script: "+d.GetError()
	case d.GetTimedOut():
		o.Status, o.ExitCode, o.Message = store.StatusTimeout, &code, "killed after the stage timeout"
	case d.GetCancelled():
		o.Status, o.ExitCode, o.Message = store.StatusCancelled, &code, "cancelled"
	case code == 0:
		o.Status, o.ExitCode = store.StatusPassed, &code
	default:
		o.Status, o.ExitCode = store.StatusFailed, &code
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sinkErr != nil {
		o.Message = cmp.Or(o.Message, "output incomplete: "+w.sinkErr.Error())
	}
	return o
}

// handle processes one message from the daemon. Output is written to its
// sink here, on the receiving goroutine, so a slow disk slows the stream
// down (gRPC flow control) instead of filling memory. Every chunk and
// stage end is acknowledged once stored, known or not, so the slave can
// drop it from its resend buffer.
func (c *daemonConn) handle(m *protocol.DaemonMessage) {
	c.seen()
	switch m := m.Msg.(type) {
	case *protocol.DaemonMessage_Heartbeat:
	case *protocol.DaemonMessage_StageStarted:
		if w := c.registry.pendingStage(c.id.Name, m.StageStarted.GetId()); w != nil {
			w.mu.Lock()
			if w.started.IsZero() {
				w.started = time.Now().Add(-time.Duration(m.StageStarted.GetRunningUs()) * time.Microsecond)
			}
			w.mu.Unlock()
		}
	case *protocol.DaemonMessage_StageOutput:
		o := m.StageOutput
		if w := c.registry.pendingStage(c.id.Name, o.GetId()); w != nil {
			if err := w.sink.Append(o.GetSeq(), o.GetData()); err != nil {
				w.mu.Lock()
				if w.sinkErr == nil {
					w.sinkErr = err
					c.log.Error("cannot store stage output", "id", o.GetId(), "seq", o.GetSeq(), "err", err)
				}
				w.mu.Unlock()
				return // not acknowledged: the slave resends it after a reconnect
			}
		}
		c.send(ackMessage(o.GetId(), o.GetSeq(), false))
	case *protocol.DaemonMessage_StageDone:
		d := m.StageDone
		if w := c.registry.pendingStage(c.id.Name, d.GetId()); w != nil {
			select {
			case w.done <- d:
			default:
			}
		}
		c.ackLater(ackMessage(d.GetId(), d.GetChunks(), true))
	case *protocol.DaemonMessage_LogChunk:
		c.handleLogChunk(m.LogChunk)
	case *protocol.DaemonMessage_SyncRequest:
		c.handleSync(m.SyncRequest)
	case *protocol.DaemonMessage_ShellOutput:
		if s := c.shell(m.ShellOutput.GetId()); s != nil {
			s.output(m.ShellOutput)
		}
	case *protocol.DaemonMessage_ShellExit:
		if s := c.shell(m.ShellExit.GetId()); s != nil {
			s.end(m.ShellExit)
		}
	case *protocol.DaemonMessage_ClusterState:
		if h := c.registry.hv; h != nil {
			h.clusterState(m.ClusterState)
		}
	default:
		c.log.Warn("unexpected message from daemon", "type", fmt.Sprintf("%T", m))
	}
}

// handleSync passes a script's sync call to the session's hub. The answer
// goes to whatever connection the slave has when it is decided.
func (c *daemonConn) handleSync(req *protocol.SyncRequest) {
	answer := func(result, errMsg string) {
		c.send(&protocol.MasterMessage{Msg: &protocol.MasterMessage_SyncResponse{SyncResponse: &protocol.SyncResponse{Id: req.GetId(), Error: errMsg, Result: result}}})
	}
	respond := func(errMsg string) { answer("", errMsg) }
	w := c.registry.pendingStage(c.id.Name, req.GetStageId())
	if w == nil {
		respond("the stage " + req.GetStageId() + " is not running on " + c.id.Name)
		return
	}
	if req.GetOp() == "fault" {
		if c.registry.faults == nil {
			respond("this master sets no faults")
			return
		}
		// Off the connection's loop: a fault takes a while to set.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := c.registry.faults.Fault(ctx, w.cmd.Session, c.id.Name, req.GetId(), req.GetArgs())
			if err != nil {
				respond(err.Error())
				return
			}
			answer(res, "")
		}()
		return
	}
	if c.registry.sync == nil {
		respond("this master does not coordinate sync calls")
		return
	}
	c.registry.sync.Request(w.cmd.Session, c.id.Name, req.GetId(), req.GetOp(), req.GetName(), req.GetCount(),
		time.Duration(req.GetTimeoutMs())*time.Millisecond, respond)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
