package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

// Prune implements store.Store.
func (p *Store) Prune(ctx context.Context, olderThan time.Time, keepNewest int) (int, error) {
	n, err := sqlstore.Prune(ctx, prunable{p}, p.Files, olderThan, keepNewest)
	return n, p.wrap(err, 0)
}

// PruneOutputs implements store.Store.
func (p *Store) PruneOutputs(ctx context.Context, olderThan time.Time) (int, error) {
	n, err := sqlstore.PruneOutputs(ctx, prunable{p}, p.Files, olderThan)
	return n, p.wrap(err, 0)
}

// prunable is the sqlstore.DB of pruning.
type prunable struct{ p *Store }

func (q prunable) FinishedBefore(ctx context.Context, ids []int64, before int64) ([]int64, error) {
	rows, err := q.p.pool.Query(ctx, `SELECT id FROM sessions WHERE id = ANY($1) AND created_ns < $2 AND state NOT IN ($3, $4, $5) ORDER BY id`,
		pgx.QueryExecModeExec, ids, before, string(store.SessionQueued), string(store.SessionRunning), string(store.SessionHeld))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func (q prunable) NthNewest(ctx context.Context, n int) (k sqlstore.Key, ok bool, err error) {
	err = q.p.pool.QueryRow(ctx, `SELECT created_ns, id FROM sessions ORDER BY created_ns DESC, id DESC LIMIT 1 OFFSET $1`,
		int64(n-1)).Scan(&k.Created, &k.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, false, nil
	}
	return k, err == nil, err
}

func (q prunable) Prunable(ctx context.Context, after, before sqlstore.Key, limit int) ([]sqlstore.Key, error) {
	rows, err := q.p.pool.Query(ctx, `SELECT created_ns, id FROM sessions
		WHERE (created_ns, id) > ($1, $2) AND (created_ns, id) < ($3, $4) AND state NOT IN ($5, $6, $7)
		ORDER BY created_ns, id LIMIT $8`,
		after.Created, after.ID, before.Created, before.ID, string(store.SessionQueued), string(store.SessionRunning), string(store.SessionHeld), int64(limit))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (sqlstore.Key, error) {
		var k sqlstore.Key
		err := r.Scan(&k.Created, &k.ID)
		return k, err
	})
}

func (q prunable) DeleteRows(ctx context.Context, table string, ids []int64, limit int) (int64, error) {
	// Planned for these ids (QueryExecModeExec: no cached generic plan,
	// which cannot tell a hundred ids from the whole table and scans it).
	tag, err := q.p.pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id = ANY(ARRAY(SELECT id FROM %[1]s WHERE session_id = ANY($1) LIMIT $2))`,
		table), pgx.QueryExecModeExec, ids, int64(limit))
	return tag.RowsAffected(), err
}

func (q prunable) DeleteSessions(ctx context.Context, ids []int64) (int, error) {
	tag, err := q.p.pool.Exec(ctx, `DELETE FROM sessions WHERE id = ANY($1) AND state NOT IN ($2, $3, $4)`,
		pgx.QueryExecModeExec, ids, string(store.SessionQueued), string(store.SessionRunning), string(store.SessionHeld))
	return int(tag.RowsAffected()), err
}

func (q prunable) DeleteOrphanFingerprints(ctx context.Context) error {
	// "fingerprint <> ''" lets the partial index results_fingerprint serve.
	_, err := q.p.pool.Exec(ctx, `DELETE FROM fingerprints f
		WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.fingerprint = f.id AND r.fingerprint <> '')`)
	return err
}
