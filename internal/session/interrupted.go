package session

import (
	"context"
	"log/slog"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// closeUnrecorded gives the machines of an interrupted session that have
// no result in a stage left open (started, never ended) a cancelled one:
// the engine records a slave's running stage only after runningDelay
// (batch.go), so a master killed sooner left nothing for them.
func closeUnrecorded(ctx context.Context, st store.Store, id int64, results []*store.Result) error {
	s, err := st.Session(ctx, id)
	if err != nil {
		return err
	}
	stages, err := st.Stages(ctx, id)
	if err != nil {
		return err
	}
	have := map[int]map[string]bool{}
	for _, r := range results {
		if have[r.Stage] == nil {
			have[r.Stage] = map[string]bool{}
		}
		have[r.Stage][r.Slave] = true
	}
	var add []*store.Result
	for _, stg := range stages {
		if stg.Started.IsZero() || !stg.Ended.IsZero() {
			continue
		}
		for _, m := range s.Machines {
			if !have[stg.Index][m] {
				add = append(add, &store.Result{SessionID: id, Stage: stg.Index, Slave: m, Status: store.StatusCancelled,
					Start: stg.Started, End: time.Now(), Message: "interrupted: the master stopped during the stage"})
			}
		}
	}
	if len(add) == 0 {
		return nil
	}
	return st.PutResults(ctx, add)
}

// CloseInterrupted ends the results an interrupted session left running:
// their scripts are cancelled when the slaves reconnect (Registry.resume),
// and nothing of them runs again.
func CloseInterrupted(ctx context.Context, st store.Store, ids []int64, log *slog.Logger) {
	for _, id := range ids {
		results, err := st.Results(ctx, id)
		if err != nil {
			log.Error("cannot read an interrupted session", "session", id, "err", err)
			continue
		}
		for _, r := range results {
			if r.Status == store.StatusRunning || r.Status == store.StatusPending {
				r.Status, r.Message, r.End = store.StatusCancelled, "interrupted: the master stopped during the stage", time.Now()
				if err := st.PutResult(ctx, r); err != nil {
					log.Error("cannot close an interrupted result", "session", id, "err", err)
				}
			}
		}
		if err := closeUnrecorded(ctx, st, id, results); err != nil {
			log.Error("cannot close an interrupted stage", "session", id, "err", err)
		}
	}
}
