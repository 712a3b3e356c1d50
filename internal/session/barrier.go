package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/faults"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/triage"
)

// barrierEngine executes one session in lock-step: the stages of its plan,
// each a barrier over all its machines (no slave starts a stage before every
// slave ended the one before), with the failure rules of DEFINITIONS.md d:
//
//	suite_init failed anywhere   -> every case skipped, suite_finalize runs
//	<case>:init failed anywhere  -> <case>:run skipped, <case>:finalize runs
//	run/finalize failed          -> recorded, the session goes on
//	slave lost / session cancel  -> the current case's finalize and
//	                                suite_finalize run (on the slaves left),
//	                                the remaining cases are skipped
type barrierEngine struct {
	store    store.Store
	disp     Dispatcher
	log      *slog.Logger
	session  *store.Session
	suite    *definition.Suite
	hosts    map[string]*definition.Host // by full name, for @diskmounts@
	stages   []plannedStage
	webPort  int
	webProto string
	timeout  time.Duration // per stage
	grace    time.Duration
	// cancelReq is closed when a user cancels the session.
	cancelReq <-chan struct{}
	// changed is called after every recorded change (live views).
	changed func(session int64)
	// sync coordinates the scripts' sync calls (nil: none).
	sync *SyncHub
	// faults heals the faults scripts set when their case or the session
	// ends (nil: no faults).
	faults *faults.Hub
	// caseEnded, if set, is called when a test case's finalize stage
	// ended, its results recorded (CASE alert mails).
	caseEnded func(caseName string)
	// results writes the current stage's results in batches.
	results *resultBatcher
	clock   Clock
	// observe is told of every stage that ran on a slave (nil: nobody).
	observe func(kind StageKind, r *store.Result)
	// hold, if set, holds the session at its first failed stage (named)
	// until it is released, and tells how the hold ended.
	hold func(ctx context.Context, failed string) holdEnd
}

// stageVerdict summarises one stage over all its slaves.
type stageVerdict struct {
	failed    []string // "a.xrd.test (exit 1)", ...
	lost      []string
	cancelled bool
}

func (v stageVerdict) ok() bool { return len(v.failed) == 0 && len(v.lost) == 0 && !v.cancelled }

// run executes the session's stages from stage next of p (0 for a new
// session, further for a held session resumed after the master's
// restart) and returns its final state and, when it did not pass, why.
// It returns SessionHeld when the master shut down while the session was
// held: nothing more ran, its cluster is left up for the next master.
func (r *barrierEngine) run(ctx context.Context, p *progress, next int) (store.SessionState, string) {
	shutdownAt := "" // "during <stage>" the master's shutdown interrupted
	for i := next; i < len(p.stages); i++ {
		ps := p.stages[i]
		skip := p.skip(ps)
		down := ctx.Err() != nil
		if down {
			skip = "the master is shutting down"
		}
		r.faults.BeginStage(r.session.ID, ps.cas, ps.kind.String())
		v := r.runStage(ctx, ps, p.lost, skip, p.cancelled)
		r.faults.EndStage(r.session.ID)
		if ctx.Err() != nil && shutdownAt == "" {
			shutdownAt = interruptedAt(ctx, "during "+ps.name)
			if down {
				shutdownAt = interruptedAt(ctx, "before "+ps.name)
			}
		}
		p.record(ps, v)
		if r.hold != nil && (len(v.failed) > 0 || len(v.lost) > 0) && ctx.Err() == nil {
			// The first failure holds the session, before any
			// finalize: the cluster stays as the failure left it.
			switch r.hold(ctx, ps.name) {
			case holdInterrupted:
				r.sync.endSession(r.session.ID)
				return store.SessionHeld, ""
			case holdCancelled:
				p.cancel()
			}
			r.hold = nil
		}
		if ps.kind != CaseFinalize {
			continue
		}
		// The case's faults go with its finalize, before any retry.
		r.faults.EndCase(ctx, r.session.ID, ps.cas)
		if ended, quarantined := p.endCase(i, ps, ctx.Err() == nil); ended && r.caseEnded != nil && !quarantined {
			r.caseEnded(ps.cas)
		}
	}
	r.sync.endSession(r.session.ID)
	r.faults.EndSession(ctx, r.session.ID)
	return p.outcome(shutdownAt)
}

func joinReasons(rs []string) string {
	const max = 5
	if len(rs) > max {
		rs = append(rs[:max:max], fmt.Sprintf("and %d more", len(rs)-max))
	}
	return strings.Join(rs, "; ")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// runStage runs one stage on every machine not lost, as a barrier: it
// returns when all of them reported. skip non-empty records the stage as
// skipped for that reason. afterCancel tells that the session was already
// cancelled: such a stage (a finalize) is not cancelled again.
func (r *barrierEngine) runStage(ctx context.Context, ps plannedStage, lost map[string]bool, skip string, afterCancel bool) stageVerdict {
	st := &store.Stage{SessionID: r.session.ID, Index: ps.index, Name: ps.name, Case: ps.cas, Started: r.clock.Now()}
	r.put(ctx, st)
	r.results = newResultBatcher(ctx, r.store, r.log, r.notify, r.clock)
	log := r.log.With("stage", ps.name)

	var v stageVerdict
	var mu sync.Mutex
	var wg sync.WaitGroup
	stageCtx, stop := context.WithCancel(ctx)
	defer stop()
	if !afterCancel && skip == "" {
		go func() {
			select {
			case <-r.cancelReq:
				stop()
			case <-stageCtx.Done():
			}
		}()
	}
	// The dispatch goroutines record losses in lost; this stage's loop
	// reads the losses of earlier stages only.
	lostBefore := maps.Clone(lost)
	var members []string
	if skip == "" && !ps.script.NoOp() {
		for _, slave := range r.session.Machines {
			if !lostBefore[slave] {
				members = append(members, slave)
			}
		}
	}
	r.sync.beginStage(r.session.ID, members)
	for _, slave := range r.session.Machines {
		res := &store.Result{SessionID: r.session.ID, Stage: ps.index, Slave: slave}
		switch {
		case skip != "":
			res.Status, res.Message = store.StatusSkipped, skip
		case lostBefore[slave]:
			res.Status, res.Message = store.StatusSkipped, "the slave was lost earlier in the session"
		case ps.script.NoOp():
			now := r.clock.Now()
			res.Status, res.Start, res.End, res.Message = store.StatusPassed, now, now, "no script: nothing to run"
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := r.dispatch(stageCtx, ps, slave, res)
				why := "finished its stage"
				if out.Status == store.StatusLost {
					why = "lost"
				}
				r.sync.finished(r.session.ID, slave, why)
				mu.Lock()
				defer mu.Unlock()
				switch out.Status {
				case store.StatusFailed, store.StatusTimeout:
					v.failed = append(v.failed, slave+" ("+out.describe()+")")
				case store.StatusLost:
					v.lost = append(v.lost, slave)
					lost[slave] = true
				case store.StatusCancelled:
					v.cancelled = true
				}
			}()
			continue
		}
		r.putResult(ctx, res)
	}
	wg.Wait()
	r.results.close()
	st.Ended = r.clock.Now()
	r.put(ctx, st)
	if !v.ok() {
		log.Info("stage did not pass", "failed", v.failed, "lost", v.lost, "cancelled", v.cancelled)
	}
	return v
}

func (o Outcome) describe() string {
	switch {
	case o.Status == store.StatusTimeout:
		return "timeout"
	case o.ExitCode != nil:
		return fmt.Sprintf("exit %d", *o.ExitCode)
	case o.Message != "":
		return o.Message
	}
	return string(o.Status)
}

// dispatch runs the stage on one slave and records its result.
func (r *barrierEngine) dispatch(ctx context.Context, ps plannedStage, slave string, res *store.Result) Outcome {
	var disks []definition.Disk
	if h := r.hosts[slave]; h != nil {
		disks = h.Disks
	}
	res.Script = substitute(ps.script.Text, tagValues{slaveName: slave, webPort: r.webPort, webProto: r.webProto, disks: disks})
	res.Status, res.Start = store.StatusRunning, r.clock.Now()
	r.results.putLater(res)

	w, err := r.store.OutputWriter(r.session.ID, ps.index, slave)
	if err != nil {
		out := Outcome{Status: store.StatusFailed, Start: res.Start, End: r.clock.Now(), Message: "cannot store output: " + err.Error()}
		r.record(ctx, ps, res, out)
		return out
	}
	cmd := StageCommand{
		ID:        fmt.Sprintf("%d/%d/%s", r.session.ID, ps.index, slave),
		Session:   r.session.ID,
		Stage:     ps.index,
		StageName: ps.name,
		Script:    res.Script,
		Env: []string{
			fmt.Sprintf("XRDTEST_SESSION=%d", r.session.ID),
			"XRDTEST_SUITE=" + r.suite.Name,
			"XRDTEST_STAGE=" + ps.name,
			"XRDTEST_CASE=" + ps.cas,
			"XRDTEST_SLAVE=" + slave,
		},
		Timeout: r.timeout,
		Grace:   r.grace,
	}
	out := r.disp.RunStage(ctx, slave, cmd, w)
	if out.Status == store.StatusCancelled && ctx.Err() != nil && errors.Is(context.Cause(ctx), errShutdown) {
		out.Message = strings.TrimSuffix(errShutdown.Error()+": "+out.Message, ": ")
	}
	if err := w.Close(); err != nil && out.Message == "" {
		out.Message = "output incomplete: " + err.Error()
	}
	res.OutputBytes = w.Bytes()
	r.record(ctx, ps, res, out)
	return out
}

func (r *barrierEngine) record(ctx context.Context, ps plannedStage, res *store.Result, out Outcome) {
	res.Status, res.ExitCode, res.Message = out.Status, out.ExitCode, out.Message
	if !out.Start.IsZero() {
		res.Start = out.Start
	}
	res.End = out.End
	if res.End.IsZero() {
		res.End = r.clock.Now()
	}
	if res.Status == store.StatusFailed || res.Status == store.StatusTimeout || res.Status == store.StatusLost {
		res.Fingerprint = r.fingerprint(ctx, ps, res)
	}
	r.putResult(ctx, res)
	if r.observe != nil {
		r.observe(ps.kind, res)
	}
}

// fingerprint groups a failed result with the failures that look the
// same (package triage), from the end of its output, and records the
// fingerprint's text. The output is closed by now: what it holds is
// final. A fingerprint that cannot be recorded is logged, and the result
// kept without it.
func (r *barrierEngine) fingerprint(ctx context.Context, ps plannedStage, res *store.Result) string {
	var tail []byte
	if out, err := r.store.OpenOutput(r.session.ID, ps.index, res.Slave); err == nil {
		if end, err := out.Seek(0, io.SeekEnd); err == nil {
			if _, err := out.Seek(max(end-triage.TailBytes, 0), io.SeekStart); err == nil {
				tail, _ = io.ReadAll(io.LimitReader(out, triage.TailBytes))
			}
		}
		out.Close()
	}
	id, text := triage.Fingerprint(triage.Failure{Stage: ps.name, Status: string(res.Status), Exit: res.ExitCode, Tail: tail, Hosts: r.session.Machines})
	if err := r.store.PutFingerprint(context.WithoutCancel(ctx), id, text); err != nil {
		r.log.Error("cannot record a failure's fingerprint", "stage", ps.name, "slave", res.Slave, "err", err)
		return ""
	}
	return id
}

// put and putResult write to the history. A failing write is logged, not
// fatal: the session goes on and its outputs are still on disk.
func (r *barrierEngine) put(ctx context.Context, st *store.Stage) {
	if err := r.store.PutStage(context.WithoutCancel(ctx), st); err != nil {
		r.log.Error("cannot record stage", "stage", st.Name, "err", err)
	}
	r.notify()
}

func (r *barrierEngine) putResult(_ context.Context, res *store.Result) {
	r.results.put(res)
}

func (r *barrierEngine) notify() {
	if r.changed != nil {
		r.changed(r.session.ID)
	}
}
