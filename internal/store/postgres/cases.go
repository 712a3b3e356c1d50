package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

// caseWindow and caseResults are package sqlite's: the case stages'
// results of a window of a suite's finished sessions, those created since
// $2 (NULL: none) and the $3 newest, read narrow and unsorted.
const caseWindow = `WITH w AS (
	(SELECT id, created_ns, repo_revision FROM sessions
		WHERE suite = $1 AND state NOT IN ('queued', 'running', 'held') AND $2::bigint IS NOT NULL AND created_ns >= $2::bigint)
	UNION
	(SELECT id, created_ns, repo_revision FROM sessions
		WHERE suite = $1 AND state NOT IN ('queued', 'running', 'held') ORDER BY created_ns DESC, id DESC LIMIT $3)
)`

const caseResults = caseWindow + `
SELECT w.id, st.idx, st.case_name, r.slave, r.status, r.id,
	CASE WHEN r.status IN ('failed', 'timeout', 'lost') THEN st.name END,
	CASE WHEN r.status IN ('failed', 'timeout', 'lost') THEN r.exit_code END,
	r.fingerprint
FROM w JOIN stages st ON st.session_id = w.id AND st.case_name <> '' AND ($4 = '' OR st.case_name = $4)
	JOIN results r ON r.session_id = st.session_id AND r.stage = st.idx`

// CaseResults implements store.Store.
func (p *Store) CaseResults(ctx context.Context, suite, caseName string, from time.Time, newest int) ([]store.CaseResult, error) {
	fromNS, err := sqlstore.NS(from)
	if err != nil {
		return nil, err
	}
	var out []store.CaseResult
	err = p.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, caseWindow+` SELECT id, created_ns, repo_revision FROM w`, suite, fromNS, max(newest, 0))
		if err != nil {
			return err
		}
		sessions := map[int64]sqlstore.CaseSession{}
		for rows.Next() {
			var cs sqlstore.CaseSession
			if err := rows.Scan(&cs.ID, sqlstore.ScanNS(&cs.Created), &cs.Revision); err != nil {
				rows.Close()
				return err
			}
			sessions[cs.ID] = cs
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, caseResults, suite, fromNS, max(newest, 0), caseName)
		if err != nil {
			return err
		}
		read, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (c sqlstore.CaseRow, err error) {
			var name *string
			var code *int64
			if err := row.Scan(&c.Session, &c.StageIndex, &c.Case, &c.Slave, &c.Status, &c.Order, &name, &code, &c.Fingerprint); err != nil {
				return c, err
			}
			if name != nil {
				c.Stage = *name
			}
			if code != nil {
				v := int(*code)
				c.ExitCode = &v
			}
			return c, nil
		})
		if err != nil {
			return err
		}
		out = sqlstore.SortCaseResults(sessions, read)
		return nil
	})
	return out, p.wrap(err, 0)
}

// PutFingerprint implements store.Store.
func (p *Store) PutFingerprint(ctx context.Context, id, text string) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO fingerprints (id, text) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, []byte(text))
	return p.wrap(err, 0)
}

// Fingerprints implements store.Store, as SQLite's.
func (p *Store) Fingerprints(ctx context.Context, ids []string) ([]store.Fingerprint, error) {
	ids = sqlstore.NonEmpty(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	var out []store.Fingerprint
	err := p.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT f.fp, f.n, f.ns, f.first, sf.created_ns, f.last, sl.created_ns, COALESCE(t.text, ''::bytea)
			FROM (SELECT fingerprint AS fp, count(*) AS n, count(DISTINCT session_id) AS ns,
					min(session_id) AS first, max(session_id) AS last
				FROM results WHERE fingerprint <> '' AND fingerprint = ANY($1) GROUP BY fingerprint) f
			JOIN sessions sf ON sf.id = f.first JOIN sessions sl ON sl.id = f.last
			LEFT JOIN fingerprints t ON t.id = f.fp
			ORDER BY f.first, f.fp`, ids)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (f store.Fingerprint, err error) {
			var text []byte
			var n, ns int64
			err = row.Scan(&f.ID, &n, &ns, &f.First.ID, sqlstore.ScanNS(&f.First.Created),
				&f.Last.ID, sqlstore.ScanNS(&f.Last.Created), &text)
			f.Count, f.Sessions, f.Text = int(n), int(ns), string(text)
			return f, err
		})
		if err != nil {
			return err
		}
		hosts := map[string][]string{}
		rows, err = tx.Query(ctx, `SELECT DISTINCT fingerprint, slave FROM results
			WHERE fingerprint <> '' AND fingerprint = ANY($1) ORDER BY fingerprint, slave`, ids)
		if err != nil {
			return err
		}
		for rows.Next() {
			var fp, slave string
			if err := rows.Scan(&fp, &slave); err != nil {
				rows.Close()
				return err
			}
			hosts[fp] = append(hosts[fp], slave)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			f := &out[i]
			f.Hosts = hosts[f.ID]
			if err := tx.QueryRow(ctx, `SELECT session_id, stage, slave FROM results
				WHERE fingerprint <> '' AND fingerprint = $1 AND session_id = $2 ORDER BY id DESC LIMIT 1`, f.ID, f.Last.ID).
				Scan(&f.Sample.Session, &f.Sample.Stage, &f.Sample.Slave); err != nil {
				return err
			}
		}
		return nil
	})
	return out, p.wrap(err, 0)
}
