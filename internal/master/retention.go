package master

import (
	"cmp"
	"context"
	"time"
)

// Retention limits the history the master keeps; the zero value keeps
// everything. Pruning (store.Store.Prune) deletes finished sessions only,
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

func (r Retention) limited() bool { return r.MaxAge > 0 || r.MaxSessions > 0 || r.OutputsMaxAge > 0 }

// runRetention prunes the history at start and then every interval,
// until ctx ends.
func (m *Master) runRetention(ctx context.Context) {
	r := m.opts.Retention
	if !r.limited() {
		return
	}
	tick := time.NewTicker(cmp.Or(r.Interval, time.Hour))
	defer tick.Stop()
	for {
		m.PruneHistory(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// PruneHistory deletes what the retention limits no longer keep, now, and
// logs what it deleted; it returns how many sessions it deleted whole.
func (m *Master) PruneHistory(ctx context.Context) (int, error) {
	r := m.opts.Retention
	if !r.limited() {
		return 0, nil
	}
	n, err := m.pruneSessions(ctx, r)
	if err == nil && r.OutputsMaxAge > 0 {
		err = m.pruneOutputs(ctx, r)
	}
	return n, err
}

func (m *Master) pruneSessions(ctx context.Context, r Retention) (int, error) {
	if r.MaxAge <= 0 && r.MaxSessions <= 0 {
		return 0, nil
	}
	var before time.Time
	if r.MaxAge > 0 {
		before = time.Now().Add(-r.MaxAge)
	}
	start := time.Now()
	n, err := m.Store.Prune(ctx, before, r.MaxSessions)
	m.logPruned(ctx, "finished sessions", n, err, start, "max_age", r.MaxAge.String(), "max_sessions", r.MaxSessions)
	return n, err
}

func (m *Master) pruneOutputs(ctx context.Context, r Retention) error {
	start := time.Now()
	n, err := m.Store.PruneOutputs(ctx, start.Add(-r.OutputsMaxAge))
	m.logPruned(ctx, "outputs and logs of finished sessions", n, err, start, "outputs_max_age", r.OutputsMaxAge.String())
	return err
}

// logPruned logs how deleting what (n sessions' worth) went.
func (m *Master) logPruned(ctx context.Context, what string, n int, err error, start time.Time, limits ...any) {
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case err != nil && ctx.Err() != nil:
		m.opts.Log.Info("retention: stopped deleting "+what, "sessions", n, "took", took)
	case err != nil:
		m.opts.Log.Warn("retention: cannot delete "+what, "sessions", n, "err", err)
	case n > 0:
		m.opts.Log.Info("retention: deleted "+what, append(append([]any{"sessions", n}, limits...), "took", took)...)
	default:
		m.opts.Log.Debug("retention: no "+what+" to delete", "took", took)
	}
}
