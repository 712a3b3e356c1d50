package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

// Prune implements store.Store.
func (s *Store) Prune(ctx context.Context, olderThan time.Time, keepNewest int) (int, error) {
	n, err := sqlstore.Prune(ctx, prunable{s}, s.Files, olderThan, keepNewest)
	if n > 0 {
		s.Optimize(ctx) // best effort: many rows went
	}
	return n, wrap(err)
}

// PruneOutputs implements store.Store.
func (s *Store) PruneOutputs(ctx context.Context, olderThan time.Time) (int, error) {
	n, err := sqlstore.PruneOutputs(ctx, prunable{s}, s.Files, olderThan)
	return n, wrap(err)
}

// prunable is the sqlstore.DB of pruning.
type prunable struct{ s *Store }

func (p prunable) FinishedBefore(ctx context.Context, ids []int64, before int64) ([]int64, error) {
	in, args := inList(ids)
	return queryAll(ctx, p.s.r, scanID, `SELECT id FROM sessions WHERE id IN `+in+` AND created_ns < ? AND state NOT IN (?, ?, ?) ORDER BY id`,
		append(args, before, string(store.SessionQueued), string(store.SessionRunning), string(store.SessionHeld))...)
}

func (p prunable) NthNewest(ctx context.Context, n int) (k sqlstore.Key, ok bool, err error) {
	err = p.s.r.QueryRowContext(ctx, `SELECT created_ns, id FROM sessions ORDER BY created_ns DESC, id DESC LIMIT 1 OFFSET ?`,
		n-1).Scan(&k.Created, &k.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return k, false, nil
	}
	return k, err == nil, err
}

func (p prunable) Prunable(ctx context.Context, after, before sqlstore.Key, limit int) ([]sqlstore.Key, error) {
	// The range on created_ns is what the index serves; the rest filters.
	return queryAll(ctx, p.s.r, func(row scanner) (k sqlstore.Key, err error) {
		err = row.Scan(&k.Created, &k.ID)
		return k, err
	}, `SELECT created_ns, id FROM sessions
		WHERE created_ns >= ? AND created_ns <= ? AND (created_ns > ? OR id > ?) AND (created_ns < ? OR id < ?)
			AND state NOT IN (?, ?, ?)
		ORDER BY created_ns, id LIMIT ?`,
		after.Created, before.Created, after.Created, after.ID, before.Created, before.ID,
		string(store.SessionQueued), string(store.SessionRunning), string(store.SessionHeld), limit)
}

// inList returns "(?, ?, ...)" and the ids as arguments.
func inList[T any](ids []T) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(?" + strings.Repeat(", ?", len(ids)-1) + ")", args
}

func (p prunable) DeleteRows(ctx context.Context, table string, ids []int64, limit int) (int64, error) {
	in, args := inList(ids)
	res, err := p.s.w.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id IN (SELECT id FROM %[1]s WHERE session_id IN %s LIMIT ?)`,
		table, in), append(args, limit)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (p prunable) DeleteSessions(ctx context.Context, ids []int64) (int, error) {
	in, args := inList(ids)
	res, err := p.s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id IN `+in+` AND state NOT IN (?, ?, ?)`,
		append(args, string(store.SessionQueued), string(store.SessionRunning), string(store.SessionHeld))...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// deleteOrphanFingerprints: "fingerprint != ”" lets the partial index
// results_fingerprint serve.
const deleteOrphanFingerprints = `DELETE FROM fingerprints
	WHERE NOT EXISTS (SELECT 1 FROM results WHERE fingerprint = fingerprints.id AND fingerprint != '')`

func (p prunable) DeleteOrphanFingerprints(ctx context.Context) error {
	_, err := p.s.w.ExecContext(ctx, deleteOrphanFingerprints)
	return err
}
