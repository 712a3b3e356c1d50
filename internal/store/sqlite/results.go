package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

var _ store.ResultReader = (*Store)(nil)

// ResultSummaries implements store.ResultReader: Results without reading the
// script column.
func (s *Store) ResultSummaries(ctx context.Context, session int64) ([]*store.Result, error) {
	return s.results(ctx, session, "''")
}

// results reads a session's results, script being the column (or empty
// value) read into Script.
func (s *Store) results(ctx context.Context, session int64, script string) ([]*store.Result, error) {
	out, err := queryAll(ctx, s.r, scanResult, `SELECT session_id, stage, slave, status, exit_code, start_ns, end_ns,
			message, `+script+`, output_bytes, fingerprint
		FROM results WHERE session_id = ? ORDER BY stage, id`, session)
	return out, wrap(err)
}

// Result implements store.ResultReader.
func (s *Store) Result(ctx context.Context, session int64, stage int, slave string) (*store.Result, error) {
	r, err := scanResult(s.r.QueryRowContext(ctx, `SELECT session_id, stage, slave, status, exit_code, start_ns, end_ns,
			message, script, output_bytes, fingerprint
		FROM results WHERE session_id = ? AND stage = ? AND slave = ?`, session, stage, slave))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: result of session %d stage %d slave %s", store.ErrNotFound, session, stage, slave)
	}
	return r, wrap(err)
}

func scanResult(row scanner) (*store.Result, error) {
	r := new(store.Result)
	var code sql.NullInt64
	if err := row.Scan(&r.SessionID, &r.Stage, &r.Slave, &r.Status, &code, sqlstore.ScanNS(&r.Start), sqlstore.ScanNS(&r.End),
		&r.Message, &r.Script, &r.OutputBytes, &r.Fingerprint); err != nil {
		return nil, err
	}
	if code.Valid {
		c := int(code.Int64)
		r.ExitCode = &c
	}
	return r, nil
}
