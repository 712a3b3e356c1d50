package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

// SetQuarantine implements store.Store.
func (p *Store) SetQuarantine(ctx context.Context, q store.Quarantine) error {
	t, err := sqlstore.Times(q.Until, q.Since)
	if err != nil {
		return err
	}
	if q.Suite == "" || q.Case == "" || t[0] == nil || t[1] == nil {
		return fmt.Errorf("%w: a quarantine needs a suite, a case, an end and a start", store.ErrInvalid)
	}
	_, err = p.pool.Exec(ctx, `INSERT INTO quarantines (suite, case_name, reason, until_ns, by_user, since_ns) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (suite, case_name) DO UPDATE SET reason = excluded.reason, until_ns = excluded.until_ns,
			by_user = excluded.by_user, since_ns = excluded.since_ns`, q.Suite, q.Case, []byte(q.Reason), t[0], q.By, t[1])
	return p.wrap(err, 0)
}

// EndQuarantine implements store.Store.
func (p *Store) EndQuarantine(ctx context.Context, suite, caseName string) error {
	tag, err := p.pool.Exec(ctx, `DELETE FROM quarantines WHERE suite = $1 AND case_name = $2`, suite, caseName)
	if err != nil {
		return p.wrap(err, 0)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: no quarantine of case %s of suite %s", store.ErrNotFound, caseName, suite)
	}
	return nil
}

// Quarantines implements store.Store.
func (p *Store) Quarantines(ctx context.Context, suite string) ([]store.Quarantine, error) {
	rows, err := p.pool.Query(ctx, `SELECT suite, case_name, reason, until_ns, by_user, since_ns FROM quarantines
		WHERE $1 = '' OR suite = $1 ORDER BY suite, case_name`, suite)
	if err != nil {
		return nil, p.wrap(err, 0)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (q store.Quarantine, err error) {
		var reason []byte
		err = row.Scan(&q.Suite, &q.Case, &reason, sqlstore.ScanNS(&q.Until), &q.By, sqlstore.ScanNS(&q.Since))
		q.Reason = string(reason)
		return q, err
	})
	return out, p.wrap(err, 0)
}
