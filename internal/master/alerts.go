package master

import (
	"context"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/notify"
	"github.com/xrdtest/xrdtest/internal/store"
)

// caseEnded sends the CASE alert mail of a test case that just ended,
// while the session goes on: the case's stages with their results and
// the output tails of the slaves where they failed.
func (m *Master) caseEnded(s *store.Session, suite *definition.Suite, caseName string) {
	if m.opts.Notifier == nil || len(suite.AlertEmails) == 0 ||
		(suite.AlertSuccess != definition.AlertCase && suite.AlertFailure != definition.AlertCase && suite.AlertFailure != "") {
		return // no CASE policy (an unset alert_failure means CASE)
	}
	ctx := context.Background()
	d, err := Detail(ctx, m.Store, s.ID)
	if err != nil {
		m.opts.Log.Error("alert mail: cannot read the session", "session", s.ID, "case", caseName, "err", err)
		return
	}
	rep := notify.SessionReport{Session: d.Session}
	for _, st := range d.Stages {
		if st.Case != caseName {
			continue
		}
		sr := notify.StageReport{Stage: st.Stage, Results: st.Results, OutputTail: map[string]string{}}
		for _, r := range st.Results {
			if r.Status == store.StatusFailed || r.Status == store.StatusTimeout || r.Status == store.StatusLost || r.Status == store.StatusCancelled {
				sr.OutputTail[r.Slave] = outputTail(m.Store, s.ID, st.Index, r.Slave, 8<<10)
			}
		}
		rep.Stages = append(rep.Stages, sr)
	}
	notify.NotifyAll(ctx, m.opts.Notifier, notify.CaseMails(suite, rep, caseName, m.opts.BaseURL))
}
