package sqlite

import (
	"context"
	"fmt"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

// SetQuarantine implements store.Store.
func (s *Store) SetQuarantine(ctx context.Context, q store.Quarantine) error {
	t, err := sqlstore.Times(q.Until, q.Since)
	if err != nil {
		return err
	}
	if q.Suite == "" || q.Case == "" || t[0] == nil || t[1] == nil {
		return fmt.Errorf("%w: a quarantine needs a suite, a case, an end and a start", store.ErrInvalid)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO quarantines (suite, case_name, reason, until_ns, by_user, since_ns) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (suite, case_name) DO UPDATE SET reason = excluded.reason, until_ns = excluded.until_ns,
			by_user = excluded.by_user, since_ns = excluded.since_ns`, q.Suite, q.Case, q.Reason, t[0], q.By, t[1])
	return wrap(err)
}

// EndQuarantine implements store.Store.
func (s *Store) EndQuarantine(ctx context.Context, suite, caseName string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM quarantines WHERE suite = ? AND case_name = ?`, suite, caseName)
	if err != nil {
		return wrap(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: no quarantine of case %s of suite %s", store.ErrNotFound, caseName, suite)
	}
	return nil
}

// Quarantines implements store.Store.
func (s *Store) Quarantines(ctx context.Context, suite string) ([]store.Quarantine, error) {
	out, err := queryAll(ctx, s.r, func(row scanner) (q store.Quarantine, err error) {
		err = row.Scan(&q.Suite, &q.Case, &q.Reason, sqlstore.ScanNS(&q.Until), &q.By, sqlstore.ScanNS(&q.Since))
		return q, err
	}, `SELECT suite, case_name, reason, until_ns, by_user, since_ns FROM quarantines
		WHERE ? = '' OR suite = ? ORDER BY suite, case_name`, suite, suite)
	return out, wrap(err)
}
