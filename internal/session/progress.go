package session

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/xrdtest/xrdtest/internal/store"
)

// progress is where a session stands in its plan: what the failure rules
// of DEFINITIONS.md d decided so far (see barrierEngine). The engine asks
// it why a stage is skipped, runs the stage and tells it the verdict. It
// does nothing itself, so a held session that a restarted master goes on
// with rebuilds it from the verdicts in the history (replay): the rules
// live here once.
type progress struct {
	plan   []plannedStage // as the session started
	stages []plannedStage // plan, with the retried cases' attempts inserted
	// lost are the machines lost so far; the stage's dispatch records
	// its losses here as they happen.
	lost       map[string]bool
	skipCases  string // why the remaining cases are skipped
	skipRun    string // why the current case's run is skipped
	caseActive string // the case whose init was dispatched
	cancelled  bool
	// A failed case runs again, as new stages ("<case>:run#2") after its
	// finalize, up to retries times: the attempts' failures wait in
	// caseFails until the case's last attempt.
	retries     int
	attempts    map[string]int
	quarantined map[string]store.Quarantine
	failures    []string // those that fail the session
	caseFails   []string // the current attempt's
	earlier     []string // the case's earlier attempts'
	flaky       []string // cases that passed on a retry, or quarantined
}

func newProgress(stages []plannedStage, retries int, quarantined map[string]store.Quarantine) *progress {
	return &progress{plan: stages, stages: slices.Clone(stages), lost: map[string]bool{}, retries: retries,
		attempts: map[string]int{}, quarantined: quarantined}
}

// skip says why ps does not run ("": it runs), and notes the case that
// begins.
func (p *progress) skip(ps plannedStage) string {
	switch ps.kind {
	case CaseInit:
		p.skipRun, p.caseActive = "", ""
		if p.skipCases == "" {
			p.caseActive = ps.cas
		}
		return p.skipCases
	case CaseRun:
		return firstNonEmpty(p.skipCases, p.skipRun)
	case CaseFinalize:
		if p.caseActive != ps.cas {
			return p.skipCases
		}
	}
	return ""
}

// record applies the verdict of stage ps.
func (p *progress) record(ps plannedStage, v stageVerdict) {
	for _, f := range v.failed {
		msg := fmt.Sprintf("%s failed on %s", ps.name, f)
		if ps.cas != "" {
			p.caseFails = append(p.caseFails, msg)
		} else {
			p.failures = append(p.failures, msg)
		}
	}
	if len(v.lost) > 0 {
		for _, s := range v.lost {
			p.lost[s] = true
		}
		p.failures = append(p.failures, fmt.Sprintf("%s: slave lost: %s", ps.name, strings.Join(v.lost, ", ")))
		p.skipCases = firstNonEmpty(p.skipCases, "slave lost: "+strings.Join(v.lost, ", "))
	}
	if v.cancelled {
		p.cancel()
	}
	if !v.ok() {
		switch ps.kind {
		case SuiteInit:
			p.skipCases = firstNonEmpty(p.skipCases, "suite_init failed")
		case CaseInit:
			p.skipRun = ps.name + " failed"
		}
	}
}

// cancel applies a user's cancel: the current case's finalize and
// suite_finalize run, the remaining cases are skipped.
func (p *progress) cancel() {
	if !p.cancelled {
		p.cancelled = true
		p.skipCases = firstNonEmpty(p.skipCases, "the session was cancelled")
	}
}

// endCase applies the end of the case whose finalize is stage i: a failed
// case gets another attempt (stages inserted after i) when mayRetry and
// the rules allow; otherwise its failures count, or make it flaky or
// quarantined. It reports whether the case ended for good (no attempt
// follows) and whether it was quarantined.
func (p *progress) endCase(i int, ps plannedStage, mayRetry bool) (ended, quarantined bool) {
	n := p.attempts[ps.cas] + 1
	if len(p.caseFails) > 0 && n <= p.retries && p.skipCases == "" && !p.cancelled && mayRetry {
		p.attempts[ps.cas] = n
		p.earlier = append(p.earlier, p.caseFails...)
		p.caseFails = nil
		p.stages = slices.Insert(p.stages, i+1, p.attempt(ps.cas, n+1)...)
		for j := i + 1; j < len(p.stages); j++ {
			p.stages[j].index = j
		}
		return false, false
	}
	q, quarantined := p.quarantined[ps.cas]
	switch {
	case len(p.caseFails) > 0 && quarantined:
		p.flaky = append(p.flaky, fmt.Sprintf("%s failed, quarantined until %s by %s: %s (%s)", ps.cas,
			q.Until.Format("2006-01-02 15:04 MST"), q.By, q.Reason, strings.Join(append(p.earlier, p.caseFails...), "; ")))
	case len(p.caseFails) > 0:
		p.failures = append(append(p.failures, p.earlier...), p.caseFails...)
	case len(p.earlier) > 0:
		p.flaky = append(p.flaky, fmt.Sprintf("%s passed on attempt %d, flaky (%s)", ps.cas, n, strings.Join(p.earlier, "; ")))
	}
	p.caseFails, p.earlier = nil, nil
	return true, quarantined
}

// attempt is attempt n of a case: its init, run and finalize, named
// "<case>:run#N" (indices set by the caller).
func (p *progress) attempt(cas string, n int) []plannedStage {
	var out []plannedStage
	for _, ps := range p.plan {
		if ps.cas == cas {
			ps.name = fmt.Sprintf("%s#%d", ps.name, n)
			out = append(out, ps)
		}
	}
	return out
}

// outcome is the session's final state and, when it did not pass, why.
// interrupted is the cause of the master's shutdown and where it came
// ("" when it did not).
func (p *progress) outcome(interrupted string) (store.SessionState, string) {
	switch {
	case interrupted != "":
		// The stage the shutdown cancelled shows as cancelled: the
		// session is interrupted, not cancelled by a user.
		return store.SessionInterrupted, joinReasons(append([]string{interrupted}, p.failures...))
	case p.cancelled:
		return store.SessionCancelled, joinReasons(append([]string{"cancelled"}, p.failures...))
	case len(p.failures) > 0:
		return store.SessionFailed, joinReasons(append(p.failures, p.flaky...))
	}
	return store.SessionPassed, joinReasons(p.flaky)
}

// replay applies the verdicts of a session's recorded stages, in order:
// the progress of a held session that a restarted master goes on with. It
// returns the index of the stage to run next. Stages whose names differ
// from the plan's mean the definitions changed since: the session cannot
// go on by them.
func (p *progress) replay(stages []store.StageDetail) (int, error) {
	for i, sd := range stages {
		if i >= len(p.stages) || p.stages[i].name != sd.Name {
			want := "none"
			if i < len(p.stages) {
				want = p.stages[i].name
			}
			return 0, fmt.Errorf("the suite's stages changed since the session was held: it ran %q as stage %d, the suite's plan has %s there", sd.Name, i, want)
		}
		ps := p.stages[i]
		p.skip(ps)
		p.record(ps, verdictOf(sd.Results))
		if ps.kind == CaseFinalize {
			p.endCase(i, ps, true)
		}
	}
	return len(stages), nil
}

// verdictOf is the verdict recorded results give, as runStage made it.
func verdictOf(results []*store.Result) stageVerdict {
	var v stageVerdict
	for _, r := range results {
		out := Outcome{Status: r.Status, ExitCode: r.ExitCode, Message: r.Message}
		switch r.Status {
		case store.StatusFailed, store.StatusTimeout:
			v.failed = append(v.failed, r.Slave+" ("+out.describe()+")")
		case store.StatusLost:
			v.lost = append(v.lost, r.Slave)
		case store.StatusCancelled:
			v.cancelled = true
		}
	}
	return v
}

// interruptedAt is the reason of a session the master's shutdown
// interrupted during or before a stage.
func interruptedAt(ctx context.Context, where string) string {
	return fmt.Sprintf("%v %s", context.Cause(ctx), where)
}
