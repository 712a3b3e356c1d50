package store

import (
	"cmp"
	"context"
	"log/slog"
	"time"
)

// Retention limits the history the master keeps; the zero value keeps
// everything. Pruning (Store.Prune) deletes finished sessions only,
// with their results, events, outputs and logs, in short batches that do
// not hold up running sessions.
type Retention struct {
	MaxAge      time.Duration // finished sessions created longer ago are deleted (0: no limit)
	MaxSessions int           // finished sessions beyond the newest MaxSessions are deleted (0: no limit)
	// OutputsMaxAge: the output and log files of finished sessions
	// created longer ago are deleted, their rows kept (0: no limit).
	OutputsMaxAge time.Duration
	Interval      time.Duration // between prunings, the first at start (0: hourly)
}

// Limited tells whether r deletes anything.
func (r Retention) Limited() bool { return r.MaxAge > 0 || r.MaxSessions > 0 || r.OutputsMaxAge > 0 }

// RunRetention prunes st at once and then every r.Interval, until ctx
// ends.
func RunRetention(ctx context.Context, st Store, r Retention, log *slog.Logger) {
	if !r.Limited() {
		return
	}
	tick := time.NewTicker(cmp.Or(r.Interval, time.Hour))
	defer tick.Stop()
	for {
		PruneHistory(ctx, st, r, log)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// PruneHistory deletes from st what r no longer keeps, now, and logs what
// it deleted; it returns how many sessions it deleted whole.
func PruneHistory(ctx context.Context, st Store, r Retention, log *slog.Logger) (int, error) {
	if !r.Limited() {
		return 0, nil
	}
	n, err := pruneSessions(ctx, st, r, log)
	if err == nil && r.OutputsMaxAge > 0 {
		err = pruneOldOutputs(ctx, st, r, log)
	}
	return n, err
}

func pruneSessions(ctx context.Context, st Store, r Retention, log *slog.Logger) (int, error) {
	if r.MaxAge <= 0 && r.MaxSessions <= 0 {
		return 0, nil
	}
	var before time.Time
	if r.MaxAge > 0 {
		before = time.Now().Add(-r.MaxAge)
	}
	start := time.Now()
	n, err := st.Prune(ctx, before, r.MaxSessions)
	logPruned(ctx, log, "finished sessions", n, err, start, "max_age", r.MaxAge.String(), "max_sessions", r.MaxSessions)
	return n, err
}

func pruneOldOutputs(ctx context.Context, st Store, r Retention, log *slog.Logger) error {
	start := time.Now()
	n, err := st.PruneOutputs(ctx, start.Add(-r.OutputsMaxAge))
	logPruned(ctx, log, "outputs and logs of finished sessions", n, err, start, "outputs_max_age", r.OutputsMaxAge.String())
	return err
}

// logPruned logs how deleting what (n sessions' worth) went.
func logPruned(ctx context.Context, log *slog.Logger, what string, n int, err error, start time.Time, limits ...any) {
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case err != nil && ctx.Err() != nil:
		log.Info("retention: stopped deleting "+what, "sessions", n, "took", took)
	case err != nil:
		log.Warn("retention: cannot delete "+what, "sessions", n, "err", err)
	case n > 0:
		log.Info("retention: deleted "+what, append(append([]any{"sessions", n}, limits...), "took", took)...)
	default:
		log.Debug("retention: no "+what+" to delete", "took", took)
	}
}
