package notify

import (
	"context"
	"io"
	"log/slog"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Alerts sends the suites' alert mails: a case's as it ends (CASE), a
// session's when it ends, each with the output tails of the slaves where
// stages failed.
type Alerts struct {
	Store    store.Store
	Notifier Notifier // nil: no mails
	BaseURL  string   // of the links in the mails
	Log      *slog.Logger
}

// CaseEnded sends the CASE alert mail of a test case that just ended,
// while the session goes on: the case's stages with their results and
// the output tails of the slaves where they failed.
func (a *Alerts) CaseEnded(s *store.Session, suite *definition.Suite, caseName string) {
	if a.Notifier == nil || len(suite.AlertEmails) == 0 ||
		(suite.AlertSuccess != definition.AlertCase && suite.AlertFailure != definition.AlertCase && suite.AlertFailure != "") {
		return // no CASE policy (an unset alert_failure means CASE)
	}
	ctx := context.Background()
	d, err := store.Detail(ctx, a.Store, s.ID)
	if err != nil {
		a.Log.Error("alert mail: cannot read the session", "session", s.ID, "case", caseName, "err", err)
		return
	}
	rep := SessionReport{Session: d.Session}
	for _, st := range d.Stages {
		if st.Case != caseName {
			continue
		}
		sr := StageReport{Stage: st.Stage, Results: st.Results, OutputTail: map[string]string{}}
		for _, r := range st.Results {
			if r.Status == store.StatusFailed || r.Status == store.StatusTimeout || r.Status == store.StatusLost || r.Status == store.StatusCancelled {
				sr.OutputTail[r.Slave] = outputTail(a.Store, s.ID, st.Index, r.Slave, 8<<10)
			}
		}
		rep.Stages = append(rep.Stages, sr)
	}
	a.fingerprints(ctx, &rep)
	NotifyAll(ctx, a.Notifier, CaseMails(suite, rep, caseName, a.BaseURL))
}

// SessionEnded sends the session's alert mail if the suite asks for one.
func (a *Alerts) SessionEnded(s *store.Session, suite *definition.Suite) {
	if a.Notifier == nil || len(suite.AlertEmails) == 0 {
		return
	}
	ctx := context.Background()
	d, err := store.Detail(ctx, a.Store, s.ID)
	if err != nil {
		a.Log.Error("alert mails: cannot read the session", "session", s.ID, "err", err)
		return
	}
	rep := SessionReport{Session: d.Session}
	for _, st := range d.Stages {
		sr := StageReport{Stage: st.Stage, Results: st.Results, OutputTail: map[string]string{}}
		for _, r := range st.Results {
			if r.Status == store.StatusFailed || r.Status == store.StatusTimeout || r.Status == store.StatusLost {
				sr.OutputTail[r.Slave] = outputTail(a.Store, s.ID, st.Index, r.Slave, 8<<10)
			}
		}
		rep.Stages = append(rep.Stages, sr)
	}
	a.fingerprints(ctx, &rep)
	// The CASE mails went out as each case ended (CaseEnded).
	NotifyAll(ctx, a.Notifier, SessionMails(suite, rep, a.BaseURL))
}

// fingerprints reads the summaries of the report's failures'
// fingerprints. Without them the mail still goes, only without "new
// failure" or "seen N times".
func (a *Alerts) fingerprints(ctx context.Context, rep *SessionReport) {
	var ids []string
	for _, sr := range rep.Stages {
		for _, r := range sr.Results {
			ids = append(ids, r.Fingerprint)
		}
	}
	fps, err := a.Store.Fingerprints(ctx, ids)
	if err != nil {
		a.Log.Error("alert mail: cannot read the failures' fingerprints", "session", rep.Session.ID, "err", err)
		return
	}
	rep.Fingerprints = map[string]store.Fingerprint{}
	for _, f := range fps {
		rep.Fingerprints[f.ID] = f
	}
}

// outputTail returns at most max bytes from the end of a stage's output.
func outputTail(st store.Store, session int64, stage int, slave string, max int64) string {
	f, err := st.OpenOutput(session, stage, slave)
	if err != nil {
		return ""
	}
	defer f.Close()
	if end, err := f.Seek(0, io.SeekEnd); err == nil && end > max {
		f.Seek(-max, io.SeekEnd)
	} else {
		f.Seek(0, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, max))
	return string(b)
}
