package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

// caseWindow is the window of CaseResults: a suite's finished sessions
// created since ?2 (NULL: none) and its ?3 newest. It is small (a month, or
// 50 sessions) whatever the history's size; each half is read from
// sessions_suite_created.
const caseWindow = `WITH w AS (
	SELECT id, created_ns, repo_revision FROM sessions
		WHERE suite = ?1 AND state NOT IN ('queued', 'running', 'held') AND ?2 IS NOT NULL AND created_ns >= ?2
	UNION
	SELECT * FROM (SELECT id, created_ns, repo_revision FROM sessions
		WHERE suite = ?1 AND state NOT IN ('queued', 'running', 'held') ORDER BY created_ns DESC, id DESC LIMIT ?3)
)`

// caseResults reads the case stages' results of the window. Tens of
// thousands of rows: they are read narrow and unsorted (the window's
// sessions come apart, sqlstore.SortCaseResults orders them), the stage
// names and exit codes of the failures only; that is what keeps a
// suite's cases page fast.
const caseResults = caseWindow + `
SELECT w.id, st.idx, st.case_name, r.slave, r.status, r.id,
	CASE WHEN r.status IN ('failed', 'timeout', 'lost') THEN st.name END,
	CASE WHEN r.status IN ('failed', 'timeout', 'lost') THEN r.exit_code END,
	r.fingerprint
FROM w JOIN stages st ON st.session_id = w.id AND st.case_name != '' AND (?4 = '' OR st.case_name = ?4)
	JOIN results r ON r.session_id = st.session_id AND r.stage = st.idx`

// CaseResults implements store.Store.
func (s *Store) CaseResults(ctx context.Context, suite, caseName string, from time.Time, newest int) ([]store.CaseResult, error) {
	fromNS, err := sqlstore.NS(from)
	if err != nil {
		return nil, err
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, wrap(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, caseWindow+` SELECT id, created_ns, repo_revision FROM w`, suite, fromNS, max(newest, 0))
	if err != nil {
		return nil, wrap(err)
	}
	sessions := map[int64]sqlstore.CaseSession{}
	for rows.Next() {
		var cs sqlstore.CaseSession
		if err := rows.Scan(&cs.ID, sqlstore.ScanNS(&cs.Created), &cs.Revision); err != nil {
			rows.Close()
			return nil, wrap(err)
		}
		sessions[cs.ID] = cs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	out, err := queryAll(ctx, tx, func(row scanner) (c sqlstore.CaseRow, err error) {
		var name sql.NullString
		var code sql.NullInt64
		if err := row.Scan(&c.Session, &c.StageIndex, &c.Case, &c.Slave, &c.Status, &c.Order, &name, &code, &c.Fingerprint); err != nil {
			return c, err
		}
		c.Stage = name.String
		if code.Valid {
			v := int(code.Int64)
			c.ExitCode = &v
		}
		return c, nil
	}, caseResults, suite, fromNS, max(newest, 0), caseName)
	if err != nil {
		return nil, wrap(err)
	}
	return sqlstore.SortCaseResults(sessions, out), nil
}

// PutFingerprint implements store.Store.
func (s *Store) PutFingerprint(ctx context.Context, id, text string) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO fingerprints (id, text) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, text)
	return wrap(err)
}

// Fingerprints implements store.Store. Each query reads the partial index
// of the failed results only.
func (s *Store) Fingerprints(ctx context.Context, ids []string) ([]store.Fingerprint, error) {
	ids = sqlstore.NonEmpty(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := inList(ids)
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, wrap(err)
	}
	defer tx.Rollback()
	out, err := queryAll(ctx, tx, func(row scanner) (f store.Fingerprint, err error) {
		err = row.Scan(&f.ID, &f.Count, &f.Sessions, &f.First.ID, sqlstore.ScanNS(&f.First.Created),
			&f.Last.ID, sqlstore.ScanNS(&f.Last.Created), &f.Text)
		return f, err
	}, `SELECT f.fp, f.n, f.ns, f.first, sf.created_ns, f.last, sl.created_ns, COALESCE(t.text, '')
		FROM (SELECT fingerprint AS fp, count(*) AS n, count(DISTINCT session_id) AS ns,
				min(session_id) AS first, max(session_id) AS last
			FROM results WHERE fingerprint != '' AND fingerprint IN `+in+` GROUP BY fingerprint) f
		JOIN sessions sf ON sf.id = f.first JOIN sessions sl ON sl.id = f.last
		LEFT JOIN fingerprints t ON t.id = f.fp
		ORDER BY f.first, f.fp`, args...)
	if err != nil {
		return nil, wrap(err)
	}
	hosts := map[string][]string{}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT fingerprint, slave FROM results
		WHERE fingerprint != '' AND fingerprint IN `+in+` ORDER BY fingerprint, slave`, args...)
	if err != nil {
		return nil, wrap(err)
	}
	for rows.Next() {
		var fp, slave string
		if err := rows.Scan(&fp, &slave); err != nil {
			rows.Close()
			return nil, wrap(err)
		}
		hosts[fp] = append(hosts[fp], slave)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	for i := range out {
		f := &out[i]
		f.Hosts = hosts[f.ID]
		if err := tx.QueryRowContext(ctx, `SELECT session_id, stage, slave FROM results
			WHERE fingerprint != '' AND fingerprint = ? AND session_id = ? ORDER BY id DESC LIMIT 1`, f.ID, f.Last.ID).
			Scan(&f.Sample.Session, &f.Sample.Stage, &f.Sample.Slave); err != nil {
			return nil, wrap(err)
		}
	}
	return out, nil
}
