package sqlstore

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/xrdtest/xrdtest/internal/store/internal/files"
)

// Prune works in steps that each hold the database's writer briefly: at
// most pruneBatch sessions at a time, and their results and events (the
// tables that grow with the slaves and stages of a session) deleted at
// most pruneRows rows per statement before the sessions' own rows, whose
// deletion cascades to their few stages and logs.
const (
	pruneBatch = 100
	pruneRows  = 5000
)

// Key orders sessions as Sessions does (by Created, then ID).
type Key struct{ Created, ID int64 }

func (k Key) less(o Key) bool {
	return k.Created < o.Created || (k.Created == o.Created && k.ID < o.ID)
}

// DB is what pruning needs from a database.
type DB interface {
	// NthNewest returns the key of the n-th newest session (n >= 1), ok
	// false when there are fewer than n.
	NthNewest(ctx context.Context, n int) (k Key, ok bool, err error)
	// Prunable returns up to limit finished sessions with after < key <
	// before, oldest first.
	Prunable(ctx context.Context, after, before Key, limit int) ([]Key, error)
	// DeleteRows deletes up to limit rows of table (results, events) of
	// the sessions ids and returns how many it deleted.
	DeleteRows(ctx context.Context, table string, ids []int64, limit int) (int64, error)
	// DeleteSessions deletes those of the sessions ids that are finished
	// (their stages and logs by cascade) and returns how many.
	DeleteSessions(ctx context.Context, ids []int64) (int, error)
	// FinishedBefore returns those of the sessions ids that are finished
	// and were created before the time before (ns).
	FinishedBefore(ctx context.Context, ids []int64, before int64) ([]int64, error)
	// DeleteOrphanFingerprints deletes the texts of the fingerprints no
	// result has any more.
	DeleteOrphanFingerprints(ctx context.Context) error
}

// Prune implements Store.Prune. Files go before rows: a crash in between
// leaves rows of sessions without files, which the next Prune deletes,
// never files nothing refers to.
func Prune(ctx context.Context, db DB, fs files.Files, olderThan time.Time, keepNewest int) (int, error) {
	n, err := prune(ctx, db, fs, olderThan, keepNewest)
	return pruneFingerprints(ctx, db, n, err)
}

func prune(ctx context.Context, db DB, fs files.Files, olderThan time.Time, keepNewest int) (int, error) {
	var before Key
	limited := false
	if !olderThan.IsZero() {
		v, err := NS(olderThan)
		if err != nil {
			return 0, err
		}
		before, limited = Key{v.(int64), math.MinInt64}, true
	}
	if keepNewest > 0 {
		k, ok, err := db.NthNewest(ctx, keepNewest)
		if err != nil {
			return 0, err
		}
		if ok && (!limited || before.less(k)) {
			before, limited = k, true
		}
	}
	if !limited {
		return 0, nil
	}
	after := Key{math.MinInt64, math.MinInt64}
	deleted := 0
	for {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		keys, err := db.Prunable(ctx, after, before, pruneBatch)
		if err != nil || len(keys) == 0 {
			return deleted, err
		}
		after = keys[len(keys)-1]
		ids := make([]int64, len(keys))
		for i, k := range keys {
			ids[i] = k.ID
			if err := files.RemoveSession(fs, k.ID); err != nil {
				return deleted, err
			}
		}
		for _, table := range []string{"results", "events"} {
			for {
				n, err := db.DeleteRows(ctx, table, ids, pruneRows)
				if err != nil {
					return deleted, err
				}
				if n < pruneRows {
					break
				}
			}
		}
		n, err := db.DeleteSessions(ctx, ids)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
}

// pruneFingerprints forgets the fingerprints whose failures were all
// pruned: a later failure that looks the same is new again.
func pruneFingerprints(ctx context.Context, db DB, deleted int, err error) (int, error) {
	if err != nil || deleted == 0 {
		return deleted, err
	}
	return deleted, db.DeleteOrphanFingerprints(ctx)
}

// PruneOutputs implements Store.PruneOutputs. The sessions that still
// have files are listed from the file trees, so sessions whose files are
// gone cost nothing at the next run; the database says which of them are
// finished and old enough, pruneBatch at a time.
func PruneOutputs(ctx context.Context, db DB, fs files.Files, olderThan time.Time) (int, error) {
	v, err := NS(olderThan)
	if err != nil {
		return 0, err
	}
	ids, err := files.Sessions(fs)
	if err != nil {
		return 0, err
	}
	pruned := 0
	for chunk := range slices.Chunk(ids, pruneBatch) {
		if err := ctx.Err(); err != nil {
			return pruned, err
		}
		old, err := db.FinishedBefore(ctx, chunk, v.(int64))
		if err != nil {
			return pruned, err
		}
		for _, id := range old {
			if err := files.RemoveSession(fs, id); err != nil {
				return pruned, err
			}
			pruned++
		}
	}
	return pruned, nil
}
