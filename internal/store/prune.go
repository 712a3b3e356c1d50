package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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

// pruneKey orders sessions as Sessions does (by Created, then ID).
type pruneKey struct{ created, id int64 }

func (k pruneKey) less(o pruneKey) bool {
	return k.created < o.created || (k.created == o.created && k.id < o.id)
}

// pruneDB is what prune needs from a database.
type pruneDB interface {
	// nthNewest returns the key of the n-th newest session (n >= 1), ok
	// false when there are fewer than n.
	nthNewest(ctx context.Context, n int) (k pruneKey, ok bool, err error)
	// prunable returns up to limit finished sessions with after < key <
	// before, oldest first.
	prunable(ctx context.Context, after, before pruneKey, limit int) ([]pruneKey, error)
	// deleteRows deletes up to limit rows of table (results, events) of
	// the sessions ids and returns how many it deleted.
	deleteRows(ctx context.Context, table string, ids []int64, limit int) (int64, error)
	// deleteSessions deletes those of the sessions ids that are finished
	// (their stages and logs by cascade) and returns how many.
	deleteSessions(ctx context.Context, ids []int64) (int, error)
	// finishedBefore returns those of the sessions ids that are finished
	// and were created before the time before (ns).
	finishedBefore(ctx context.Context, ids []int64, before int64) ([]int64, error)
}

// prune implements Store.Prune. Files go before rows: a crash in between
// leaves rows of sessions without files, which the next Prune deletes,
// never files nothing refers to.
func prune(ctx context.Context, db pruneDB, fs files, olderThan time.Time, keepNewest int) (int, error) {
	var before pruneKey
	limited := false
	if !olderThan.IsZero() {
		v, err := ns(olderThan)
		if err != nil {
			return 0, err
		}
		before, limited = pruneKey{v.(int64), math.MinInt64}, true
	}
	if keepNewest > 0 {
		k, ok, err := db.nthNewest(ctx, keepNewest)
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
	after := pruneKey{math.MinInt64, math.MinInt64}
	deleted := 0
	for {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		keys, err := db.prunable(ctx, after, before, pruneBatch)
		if err != nil || len(keys) == 0 {
			return deleted, err
		}
		after = keys[len(keys)-1]
		ids := make([]int64, len(keys))
		for i, k := range keys {
			ids[i] = k.id
			if err := fs.removeSession(k.id); err != nil {
				return deleted, err
			}
		}
		for _, table := range []string{"results", "events"} {
			for {
				n, err := db.deleteRows(ctx, table, ids, pruneRows)
				if err != nil {
					return deleted, err
				}
				if n < pruneRows {
					break
				}
			}
		}
		n, err := db.deleteSessions(ctx, ids)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
}

// pruneOutputs implements Store.PruneOutputs. The sessions that still
// have files are listed from the file trees, so sessions whose files are
// gone cost nothing at the next run; the database says which of them are
// finished and old enough, pruneBatch at a time.
func pruneOutputs(ctx context.Context, db pruneDB, fs files, olderThan time.Time) (int, error) {
	v, err := ns(olderThan)
	if err != nil {
		return 0, err
	}
	ids, err := fs.sessions()
	if err != nil {
		return 0, err
	}
	pruned := 0
	for chunk := range slices.Chunk(ids, pruneBatch) {
		if err := ctx.Err(); err != nil {
			return pruned, err
		}
		old, err := db.finishedBefore(ctx, chunk, v.(int64))
		if err != nil {
			return pruned, err
		}
		for _, id := range old {
			if err := fs.removeSession(id); err != nil {
				return pruned, err
			}
			pruned++
		}
	}
	return pruned, nil
}

// ---- SQLite ----

// Prune implements Store.
func (s *SQLite) Prune(ctx context.Context, olderThan time.Time, keepNewest int) (int, error) {
	n, err := prune(ctx, sqlitePrune{s}, s.files, olderThan, keepNewest)
	if n > 0 {
		s.Optimize(ctx) // best effort: many rows went
	}
	return n, wrap(err)
}

// PruneOutputs implements Store.
func (s *SQLite) PruneOutputs(ctx context.Context, olderThan time.Time) (int, error) {
	n, err := pruneOutputs(ctx, sqlitePrune{s}, s.files, olderThan)
	return n, wrap(err)
}

type sqlitePrune struct{ s *SQLite }

func (p sqlitePrune) finishedBefore(ctx context.Context, ids []int64, before int64) ([]int64, error) {
	in, args := inList(ids)
	rows, err := p.s.r.QueryContext(ctx, `SELECT id FROM sessions WHERE id IN `+in+` AND created_ns < ? AND state NOT IN (?, ?) ORDER BY id`,
		append(args, before, string(SessionQueued), string(SessionRunning))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (p sqlitePrune) nthNewest(ctx context.Context, n int) (k pruneKey, ok bool, err error) {
	err = p.s.r.QueryRowContext(ctx, `SELECT created_ns, id FROM sessions ORDER BY created_ns DESC, id DESC LIMIT 1 OFFSET ?`,
		n-1).Scan(&k.created, &k.id)
	if errors.Is(err, sql.ErrNoRows) {
		return k, false, nil
	}
	return k, err == nil, err
}

func (p sqlitePrune) prunable(ctx context.Context, after, before pruneKey, limit int) ([]pruneKey, error) {
	// The range on created_ns is what the index serves; the rest filters.
	rows, err := p.s.r.QueryContext(ctx, `SELECT created_ns, id FROM sessions
		WHERE created_ns >= ? AND created_ns <= ? AND (created_ns > ? OR id > ?) AND (created_ns < ? OR id < ?)
			AND state NOT IN (?, ?)
		ORDER BY created_ns, id LIMIT ?`,
		after.created, before.created, after.created, after.id, before.created, before.id,
		string(SessionQueued), string(SessionRunning), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pruneKey
	for rows.Next() {
		var k pruneKey
		if err := rows.Scan(&k.created, &k.id); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// inList returns "(?, ?, ...)" and the ids as arguments.
func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(?" + strings.Repeat(", ?", len(ids)-1) + ")", args
}

func (p sqlitePrune) deleteRows(ctx context.Context, table string, ids []int64, limit int) (int64, error) {
	in, args := inList(ids)
	res, err := p.s.w.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id IN (SELECT id FROM %[1]s WHERE session_id IN %s LIMIT ?)`,
		table, in), append(args, limit)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (p sqlitePrune) deleteSessions(ctx context.Context, ids []int64) (int, error) {
	in, args := inList(ids)
	res, err := p.s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id IN `+in+` AND state NOT IN (?, ?)`,
		append(args, string(SessionQueued), string(SessionRunning))...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ---- PostgreSQL ----

// Prune implements Store.
func (p *Postgres) Prune(ctx context.Context, olderThan time.Time, keepNewest int) (int, error) {
	n, err := prune(ctx, pgPrune{p}, p.files, olderThan, keepNewest)
	return n, p.wrap(err, 0)
}

// PruneOutputs implements Store.
func (p *Postgres) PruneOutputs(ctx context.Context, olderThan time.Time) (int, error) {
	n, err := pruneOutputs(ctx, pgPrune{p}, p.files, olderThan)
	return n, p.wrap(err, 0)
}

type pgPrune struct{ p *Postgres }

func (q pgPrune) finishedBefore(ctx context.Context, ids []int64, before int64) ([]int64, error) {
	rows, err := q.p.pool.Query(ctx, `SELECT id FROM sessions WHERE id = ANY($1) AND created_ns < $2 AND state NOT IN ($3, $4) ORDER BY id`,
		pgx.QueryExecModeExec, ids, before, string(SessionQueued), string(SessionRunning))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func (q pgPrune) nthNewest(ctx context.Context, n int) (k pruneKey, ok bool, err error) {
	err = q.p.pool.QueryRow(ctx, `SELECT created_ns, id FROM sessions ORDER BY created_ns DESC, id DESC LIMIT 1 OFFSET $1`,
		int64(n-1)).Scan(&k.created, &k.id)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, false, nil
	}
	return k, err == nil, err
}

func (q pgPrune) prunable(ctx context.Context, after, before pruneKey, limit int) ([]pruneKey, error) {
	rows, err := q.p.pool.Query(ctx, `SELECT created_ns, id FROM sessions
		WHERE (created_ns, id) > ($1, $2) AND (created_ns, id) < ($3, $4) AND state NOT IN ($5, $6)
		ORDER BY created_ns, id LIMIT $7`,
		after.created, after.id, before.created, before.id, string(SessionQueued), string(SessionRunning), int64(limit))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (pruneKey, error) {
		var k pruneKey
		err := r.Scan(&k.created, &k.id)
		return k, err
	})
}

func (q pgPrune) deleteRows(ctx context.Context, table string, ids []int64, limit int) (int64, error) {
	// Planned for these ids (QueryExecModeExec: no cached generic plan,
	// which cannot tell a hundred ids from the whole table and scans it).
	tag, err := q.p.pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id = ANY(ARRAY(SELECT id FROM %[1]s WHERE session_id = ANY($1) LIMIT $2))`,
		table), pgx.QueryExecModeExec, ids, int64(limit))
	return tag.RowsAffected(), err
}

func (q pgPrune) deleteSessions(ctx context.Context, ids []int64) (int, error) {
	tag, err := q.p.pool.Exec(ctx, `DELETE FROM sessions WHERE id = ANY($1) AND state NOT IN ($2, $3)`,
		pgx.QueryExecModeExec, ids, string(SessionQueued), string(SessionRunning))
	return int(tag.RowsAffected()), err
}
