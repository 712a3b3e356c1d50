package sessiontest

import (
	"context"
	"fmt"
	"time"

	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
)

// A Step is one thing a simulated stage script does. The steps of a stage
// run in order; one that ends the stage (Exit, Hang, TimeOut, Vanish, a
// failed sync call) skips the rest, and a stage whose steps all ran exits
// 0.
type Step struct {
	// do plays the step; ended reports that the stage ended with out.
	do func(r *stageRun) (out session.Outcome, ended bool)
	// reconnects marks the step that may run while the slave is
	// disconnected; before any other, the stage waits for it to be back.
	reconnects bool
}

// Exit ends the stage with the exit code: 0 passes, others fail.
func Exit(code int) Step {
	return Step{do: func(r *stageRun) (session.Outcome, bool) { return r.exit(code), true }}
}

// Output writes text to the stage's output.
func Output(text string) Step {
	return Step{do: func(r *stageRun) (session.Outcome, bool) {
		r.write(text)
		return session.Outcome{}, false
	}}
}

// Hang runs until the stage is cancelled (a user's cancel, the master's
// shutdown); it ends cancelled, as a script killed by TERM.
func Hang() Step {
	return Step{do: func(r *stageRun) (session.Outcome, bool) {
		<-r.ctx.Done()
		return r.cancelled("cancelled"), true
	}}
}

// BlockUntil runs until release is closed, cancelled or not: a slave that
// confirms nothing, not even a cancel. The steps after it run once
// released (a stage cancelled meanwhile still ends cancelled).
func BlockUntil(release <-chan struct{}) Step {
	return Step{do: func(r *stageRun) (session.Outcome, bool) {
		<-release
		return session.Outcome{}, false
	}}
}

// TimeOut ends the stage as the slave's runner does when its timeout
// (StageCommand.Timeout, which Run.Cmd records) elapsed: the simulated
// slave reports it at once, the session only passes the timeout on.
func TimeOut() Step {
	return Step{do: func(r *stageRun) (session.Outcome, bool) {
		code := 143
		return r.outcome(store.StatusTimeout, &code, "killed after the stage timeout"), true
	}}
}

// Disconnect drops the slave's connection. The stage goes on once it is
// back (a Reconnect step, or Slaves.Connect from the test) within
// Slaves.Grace on Slaves.Clock; otherwise it ends lost, as with
// daemons.Registry.
func Disconnect() Step {
	return Step{do: func(r *stageRun) (session.Outcome, bool) {
		r.startGrace()
		r.s.Disconnect(r.slave) // recorded after the timer is set: a test may Advance past it then
		return session.Outcome{}, false
	}}
}

// Reconnect connects the slave again (after Disconnect).
func Reconnect() Step {
	return Step{reconnects: true, do: func(r *stageRun) (session.Outcome, bool) {
		r.s.Connect(r.slave)
		return session.Outcome{}, false
	}}
}

// Vanish disconnects the slave for good: the stage ends lost at once, as
// once the grace has passed, and the slave stays away (later stages of
// the session skip it, the next session misses it).
func Vanish() Step {
	return Step{do: func(r *stageRun) (session.Outcome, bool) {
		r.s.Disconnect(r.slave)
		return r.outcome(store.StatusLost, nil, fmt.Sprintf("slave %s lost: disconnected (vanished) and not back within %s", r.slave, r.s.grace())), true
	}}
}

// Barrier calls `xrdtest sync barrier NAME` through Slaves.Hub. A failed
// call writes its error to the output and ends the stage with exit 1, as
// `run xrdtest sync ...` does in a script.
func Barrier(name string) Step { return syncStep("barrier", name, 0) }

// Signal calls `xrdtest sync signal NAME` (see Barrier).
func Signal(name string) Step { return syncStep("signal", name, 0) }

// WaitSignals calls `xrdtest sync wait --count N NAME` (see Barrier).
func WaitSignals(name string, n int64) Step { return syncStep("wait", name, n) }

func syncStep(op, name string, count int64) Step {
	return Step{do: func(r *stageRun) (session.Outcome, bool) {
		call := op + " " + name
		r.syncs++
		id := fmt.Sprintf("%s/sync/%d", r.cmd.ID, r.syncs)
		r.s.record(Event{Kind: SyncCalled, Slave: r.slave, Session: r.cmd.Session, Stage: r.cmd.StageName, Detail: call})
		answer := make(chan string, 1)
		if r.s.Hub == nil {
			answer <- "this master does not coordinate sync calls"
		} else {
			r.s.Hub.Request(r.cmd.Session, r.slave, id, op, name, count, r.s.SyncTimeout, func(msg string) {
				select {
				case answer <- msg:
				default: // answered again (a resend): the first answer counts
				}
			})
		}
		select {
		case msg := <-answer:
			result := "ok"
			if msg != "" {
				result = msg
			}
			r.s.record(Event{Kind: SyncAnswered, Slave: r.slave, Session: r.cmd.Session, Stage: r.cmd.StageName, Detail: call + ": " + result})
			if msg != "" {
				r.write(fmt.Sprintf("xrdtest sync %s: %s\n", call, msg))
				return r.exit(1), true
			}
			return session.Outcome{}, false
		case <-r.ctx.Done():
			return r.cancelled("cancelled"), true
		}
	}}
}

// stageRun is one stage being played on one slave.
type stageRun struct {
	s      *Slaves
	ctx    context.Context
	slave  string
	cmd    session.StageCommand
	out    session.OutputSink
	start  time.Time
	chunks uint64 // output chunks written
	syncs  int    // sync calls made
	outErr error
	// graceOver is closed when a slave that disconnected (Disconnect)
	// has been away for the grace.
	graceOver  <-chan struct{}
	graceTimer session.Timer
}

func (r *stageRun) play(steps []Step) session.Outcome {
	o, ended := session.Outcome{}, false
	for _, st := range steps {
		if !st.reconnects {
			if o, ended = r.awaitConnected(); ended {
				break
			}
		}
		if o, ended = st.do(r); ended {
			break
		}
	}
	if !ended {
		if o, ended = r.awaitConnected(); !ended {
			o = r.exit(0)
		}
	}
	if r.graceTimer != nil {
		r.graceTimer.Stop()
	}
	// As daemons.Registry: a script that ended on its own after the
	// stage was cancelled counts as cancelled.
	if r.ctx.Err() != nil && (o.Status == store.StatusPassed || o.Status == store.StatusFailed) {
		o.Status, o.Message = store.StatusCancelled, "cancelled (the script ended on its own)"
	}
	if r.outErr != nil && o.Message == "" {
		o.Message = "output incomplete: " + r.outErr.Error()
	}
	return o
}

// startGrace starts the grace of a slave that disconnected, unless it
// runs already.
func (r *stageRun) startGrace() {
	if r.graceOver == nil {
		expired := make(chan struct{})
		r.graceOver = expired
		r.graceTimer = r.s.afterFunc(r.s.grace(), func() { close(expired) })
	}
}

// awaitConnected waits, when the slave disconnected, until it is back;
// if the grace passes first, the stage ends lost (the slave stays away).
func (r *stageRun) awaitConnected() (session.Outcome, bool) {
	for {
		r.s.mu.Lock()
		up, changed := r.s.slaves[r.slave].connected, r.s.changed
		r.s.mu.Unlock()
		if up {
			if r.graceTimer != nil { // back: a later drop has a grace of its own
				r.graceTimer.Stop()
				r.graceOver, r.graceTimer = nil, nil
			}
			return session.Outcome{}, false
		}
		r.startGrace() // dropped by the test (Slaves.Disconnect): from now
		select {
		case <-changed:
		case <-r.graceOver:
			return r.outcome(store.StatusLost, nil, fmt.Sprintf("slave %s lost: disconnected (connection dropped) and not back within %s", r.slave, r.s.grace())), true
		}
	}
}

func (r *stageRun) write(text string) {
	r.chunks++
	if err := r.out.Append(r.chunks, []byte(text)); err != nil && r.outErr == nil {
		r.outErr = err
	}
}

func (r *stageRun) exit(code int) session.Outcome {
	if code == 0 {
		return r.outcome(store.StatusPassed, &code, "")
	}
	return r.outcome(store.StatusFailed, &code, "")
}

func (r *stageRun) cancelled(msg string) session.Outcome {
	code := 143 // 128 + TERM, as bash reports a script killed by it
	return r.outcome(store.StatusCancelled, &code, msg)
}

func (r *stageRun) outcome(status store.Status, code *int, msg string) session.Outcome {
	return session.Outcome{Status: status, ExitCode: code, Start: r.start, End: r.s.now(), Message: msg}
}

// Sleep runs for d of real time (not Slaves.Clock: nothing advances a
// fake clock while a stage runs), or until the stage is cancelled.
func Sleep(d time.Duration) Step {
	return Step{do: func(r *stageRun) (session.Outcome, bool) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return session.Outcome{}, false
		case <-r.ctx.Done():
			return r.cancelled("cancelled"), true
		}
	}}
}
