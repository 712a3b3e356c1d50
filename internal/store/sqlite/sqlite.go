// Package sqlite is the store.Store kept in a directory: history.db, a
// SQLite database (WAL mode), and the outputs/ and logs/ file trees. It is
// the default history of the master and needs nothing else.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/files"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

// Store is the store.Store kept in a directory: history.db (SQLite, WAL
// mode) and the outputs/ and logs/ file trees.
//
// Connections: one sql.DB with a single connection does every write
// (SQLite has one writer at a time anyway; a single connection makes
// SQLITE_BUSY between writers of this process impossible and transactions
// begin IMMEDIATE), and a second sql.DB, a pool of query_only connections,
// serves the reads, which WAL lets run concurrently with the writer. Every
// connection has busy_timeout 10s; the writer has foreign_keys on and
// synchronous NORMAL, which in WAL mode never corrupts the database and loses
// no committed transaction when the master process dies (only a power loss
// can drop the last few).
type Store struct {
	files.Files         // outputs/ and logs/
	w           *sql.DB // the writer: one connection
	r           *sql.DB // readers
	now         func() time.Time
	// upsert is upsertResult prepared once on the writer: PutResults
	// runs for every batch of a stage's results, and preparing the
	// statement cost as much as executing a small batch.
	upsert *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

const busyTimeout = 10 * time.Second

// Open opens (creating it, mode 0700, if missing) the store in dir and
// brings its schema up to date.
func Open(ctx context.Context, dir string) (*Store, error) {
	fs, err := files.Open(dir)
	if err != nil {
		return nil, err
	}
	dir = fs.Dir()
	// A file: URI, so that any byte of the path is escaped.
	uri := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, "history.db"))}).String()
	bt := fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds())

	wq := url.Values{"_pragma": {bt, "foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)", "analysis_limit(1000)"},
		"_txlock": {"immediate"}}
	w, err := sql.Open("sqlite", uri+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if _, err := w.ExecContext(ctx, optimize); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if top, err := files.MaxSession(fs); err != nil {
		w.Close()
		return nil, err
	} else if top > 0 {
		// AUTOINCREMENT numbers above sqlite_sequence: the sessions of
		// another database left files here.
		if _, err := w.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'sessions';
			INSERT INTO sqlite_sequence (name, seq) SELECT 'sessions', ? WHERE NOT EXISTS
				(SELECT 1 FROM sqlite_sequence WHERE name = 'sessions')`, top, top); err != nil {
			w.Close()
			return nil, fmt.Errorf("store: open %s: %w", dir, err)
		}
	}

	upsert, err := w.PrepareContext(ctx, upsertResult)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}

	rq := url.Values{"_pragma": {bt}, "_query_only": {"1"}}
	r, err := sql.Open("sqlite", uri+"?"+rq.Encode())
	if err != nil {
		upsert.Close()
		w.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		upsert.Close()
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	return &Store{Files: fs, w: w, r: r, now: time.Now, upsert: upsert}, nil
}

// Close closes the database. Open output and log writers stay usable until
// they are closed (a log writer's Close then fails to record the size).
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		err := s.r.Close()
		s.upsert.Close()
		s.w.Exec(optimize)
		if werr := s.w.Close(); err == nil {
			err = werr
		}
		if err != nil {
			s.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return s.closeErr
}

// optimize refreshes the planner statistics of the tables that need it
// (all tables are checked, not only those this connection queried: reads
// use the other pool). analysis_limit bounds its cost; see
// https://sqlite.org/pragma.html#pragma_optimize. Without statistics the
// planner may pick a less selective index for Sessions, so this runs at
// open and close, after bulk inserts, and whenever Optimize is called.
const optimize = `PRAGMA optimize=0x10002`

// Optimize refreshes the query planner statistics when they are stale. It
// is cheap when they are not; a long-running master may call it, say,
// daily.
func (s *Store) Optimize(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, optimize)
	return wrap(err)
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ---- conversions ----

func listJSON(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // cannot fail for []string
	return string(b)
}

// jsonList scans a JSON list column; an empty list is read as nil.
type jsonList struct{ l *[]string }

func (j jsonList) Scan(v any) error {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: list column holds %T", v)
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("store: list column: %w", err)
	}
	if len(l) == 0 {
		l = nil
	}
	*j.l = l
	return nil
}

// missingSession turns a foreign key violation into ErrNotFound.
func missingSession(err error, session int64) error {
	var e *msqlite.Error
	if errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return fmt.Errorf("%w: session %d", store.ErrNotFound, session)
	}
	return err
}

func wrap(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return err
	}
	return fmt.Errorf("store: %w", err)
}

// ---- sessions ----

const sessionColumns = `id, suite, state, reason, machines, cases, repo_revision, triggered_by, created_ns, started_ns, ended_ns, hold_until_ns`

type scanner interface{ Scan(dest ...any) error }

// querier is a database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs a query and reads every row with scan, as pgx.CollectRows
// does for the postgres store; the rows are closed when it returns.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanID reads a row of one id.
func scanID(row scanner) (id int64, err error) {
	err = row.Scan(&id)
	return id, err
}

func scanSession(row scanner) (*store.Session, error) {
	s := new(store.Session)
	err := row.Scan(&s.ID, &s.Suite, &s.State, &s.Reason, jsonList{&s.Machines}, jsonList{&s.Cases},
		&s.RepoRevision, &s.TriggeredBy, sqlstore.ScanNS(&s.Created), sqlstore.ScanNS(&s.Started), sqlstore.ScanNS(&s.Ended), sqlstore.ScanNS(&s.HoldUntil))
	if err != nil {
		return nil, err
	}
	return s, nil
}

const insertSession = `INSERT INTO sessions (suite, state, reason, machines, cases, repo_revision, triggered_by, created_ns, started_ns, ended_ns, hold_until_ns)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func sessionArgs(se *store.Session) ([]any, error) {
	ts, err := sqlstore.Times(se.Created, se.Started, se.Ended, se.HoldUntil)
	if err != nil {
		return nil, err
	}
	return append([]any{se.Suite, string(se.State), se.Reason, listJSON(se.Machines), listJSON(se.Cases),
		se.RepoRevision, se.TriggeredBy}, ts...), nil
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, se *store.Session) error {
	return s.CreateSessions(ctx, []*store.Session{se})
}

// CreateSessions creates several sessions in one transaction (much faster
// than one CreateSession each: an import of old history, a benchmark) and
// sets their IDs.
func (s *Store) CreateSessions(ctx context.Context, ss []*store.Session) error {
	for _, se := range ss {
		sqlstore.NewSession(se, s.now)
	}
	ids := make([]int64, len(ss))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, insertSession)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, se := range ss {
			args, err := sessionArgs(se)
			if err != nil {
				return err
			}
			res, err := st.ExecContext(ctx, args...)
			if err != nil {
				return err
			}
			if ids[i], err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	for i, se := range ss {
		se.ID = ids[i]
	}
	if len(ss) >= 1000 {
		s.Optimize(ctx) // best effort: the sessions are stored
	}
	return nil
}

// UpdateSession implements store.Store. A zero Created keeps the stored one.
func (s *Store) UpdateSession(ctx context.Context, se *store.Session) error {
	args, err := sessionArgs(se)
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET suite = ?, state = ?, reason = ?, machines = ?, cases = ?,
		repo_revision = ?, triggered_by = ?, created_ns = coalesce(?, created_ns), started_ns = ?, ended_ns = ?, hold_until_ns = ?
		WHERE id = ?`, append(args, se.ID)...)
	if err != nil {
		return wrap(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(err)
	} else if n == 0 {
		return fmt.Errorf("%w: session %d", store.ErrNotFound, se.ID)
	}
	return nil
}

// Session implements store.Store.
func (s *Store) Session(ctx context.Context, id int64) (*store.Session, error) {
	se, err := scanSession(s.r.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: session %d", store.ErrNotFound, id)
	}
	return se, wrap(err)
}

// sessionsWhere returns the WHERE clause ("" or " WHERE ...") and its
// arguments for f.
func sessionsWhere(f store.Filter) (string, []any, error) {
	var where []string
	var args []any
	if f.Suite != "" {
		where = append(where, "suite = ?")
		args = append(args, f.Suite)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	bounds, err := sqlstore.CreatedBounds(f)
	if err != nil {
		return "", nil, err
	}
	for _, b := range bounds {
		where = append(where, "created_ns "+b.Op+" ?")
		args = append(args, b.Value)
	}
	if len(where) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(where, " AND "), args, nil
}

const (
	sessionsPage  = `SELECT ` + sessionColumns + ` FROM sessions%s ORDER BY created_ns DESC, id DESC LIMIT ? OFFSET ?`
	sessionsCount = `SELECT count(*) FROM sessions%s`
)

// Sessions implements store.Store. The page and the total are read in one
// transaction, so they agree.
func (s *Store) Sessions(ctx context.Context, f store.Filter) ([]*store.Session, int, error) {
	cond, args, err := sessionsWhere(f)
	if err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	offset := max(f.Offset, 0)

	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, wrap(err)
	}
	defer tx.Rollback()
	out, err := queryAll(ctx, tx, scanSession, fmt.Sprintf(sessionsPage, cond), append(args[:len(args):len(args)], limit, offset)...)
	if err != nil {
		return nil, 0, wrap(err)
	}
	// The total is known without counting when the page is not cut.
	total := offset + len(out)
	if (limit > 0 && len(out) == limit) || (len(out) == 0 && offset > 0) {
		if err := tx.QueryRowContext(ctx, fmt.Sprintf(sessionsCount, cond), args...).Scan(&total); err != nil {
			return nil, 0, wrap(err)
		}
	}
	return out, total, nil
}

// InterruptUnfinished implements store.Store.
func (s *Store) InterruptUnfinished(ctx context.Context, reason string) ([]int64, error) {
	now := s.now().UnixNano()
	var ids []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		ids, err = queryAll(ctx, tx, scanID, `SELECT id FROM sessions WHERE state IN (?, ?) ORDER BY id`,
			string(store.SessionQueued), string(store.SessionRunning))
		if err != nil {
			return err
		}
		msg := sqlstore.InterruptedMessage(reason)
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET state = ?, reason = ?, ended_ns = coalesce(ended_ns, ?)
				WHERE id = ?`, string(store.SessionInterrupted), reason, now, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO events (session_id, time_ns, kind, message) VALUES (?, ?, 'state', ?)`,
				id, now, msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap(err)
	}
	return ids, nil
}

// ---- stages and results ----

// PutStage implements store.Store.
func (s *Store) PutStage(ctx context.Context, st *store.Stage) error {
	started, ended, err := sqlstore.StageTimes(st)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO stages (session_id, idx, name, case_name, started_ns, ended_ns)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (session_id, idx) DO UPDATE SET name = excluded.name, case_name = excluded.case_name,
			started_ns = excluded.started_ns, ended_ns = excluded.ended_ns`,
		st.SessionID, st.Index, st.Name, st.Case, started, ended)
	return wrap(missingSession(err, st.SessionID))
}

// Stages implements store.Store.
func (s *Store) Stages(ctx context.Context, session int64) ([]*store.Stage, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT session_id, idx, name, case_name, started_ns, ended_ns
		FROM stages WHERE session_id = ? ORDER BY idx`, session)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	out, err := sqlstore.ScanStages(rows)
	return out, wrap(err)
}

// PutResult implements store.Store.
func (s *Store) PutResult(ctx context.Context, r *store.Result) error {
	return s.PutResults(ctx, []*store.Result{r})
}

const upsertResult = `INSERT INTO results (session_id, stage, slave, status, exit_code, start_ns, end_ns,
		message, script, output_bytes, fingerprint)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (session_id, stage, slave) DO UPDATE SET status = excluded.status, exit_code = excluded.exit_code,
		start_ns = excluded.start_ns, end_ns = excluded.end_ns, message = excluded.message,
		script = excluded.script, output_bytes = excluded.output_bytes, fingerprint = excluded.fingerprint`

// PutResults implements store.Store: one transaction and one prepared
// statement for the whole batch, which is what keeps a stage of 1000
// slaves from queueing 1000 commits behind the single writer.
func (s *Store) PutResults(ctx context.Context, rs []*store.Result) error {
	type row struct {
		r                *store.Result
		code, start, end any
	}
	rows := make([]row, 0, len(rs))
	for _, r := range rs {
		code, start, end, err := sqlstore.ResultValues(r)
		if err != nil {
			return err
		}
		rows = append(rows, row{r, code, start, end})
	}
	var sessionID int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st := tx.StmtContext(ctx, s.upsert)
		defer st.Close()
		for _, w := range rows {
			sessionID = w.r.SessionID
			if _, err := st.ExecContext(ctx, w.r.SessionID, w.r.Stage, w.r.Slave, string(w.r.Status), w.code, w.start, w.end,
				w.r.Message, w.r.Script, w.r.OutputBytes, w.r.Fingerprint); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(missingSession(err, sessionID))
}

// Results implements store.Store.
func (s *Store) Results(ctx context.Context, session int64) ([]*store.Result, error) {
	return s.results(ctx, session, "script")
}

// ---- outputs and logs ----

// LogWriter implements store.Store. The log is listed by Logs as soon as it is
// created, as incomplete until the writer is closed. A log written again
// replaces the previous copy (a retried collection).
func (s *Store) LogWriter(session int64, slave, path string) (io.WriteCloser, error) {
	ctx := context.Background()
	return files.CreateLog(s.Files, session, slave, path, func(file string) error {
		_, err := s.w.ExecContext(ctx, `INSERT INTO logs (session_id, slave, path, file, size, complete)
			VALUES (?, ?, ?, ?, 0, 0)
			ON CONFLICT (session_id, slave, path) DO UPDATE SET file = excluded.file, size = 0, complete = 0`,
			session, slave, path, file)
		return wrap(missingSession(err, session))
	}, func(size int64) error {
		_, err := s.w.ExecContext(ctx, `UPDATE logs SET size = ?, complete = 1 WHERE session_id = ? AND slave = ? AND path = ?`,
			size, session, slave, path)
		return err
	})
}

// Logs implements store.Store. The size of an incomplete log is the size of its
// file now.
func (s *Store) Logs(ctx context.Context, session int64) ([]store.LogFile, error) {
	out, err := queryAll(ctx, s.r, func(row scanner) (l store.LogFile, err error) {
		if err := row.Scan(&l.Slave, &l.Path, &l.Size, &l.Complete); err != nil {
			return l, err
		}
		if !l.Complete {
			l.Size = files.LogSize(s.Files, session, l, l.Size)
		}
		return l, nil
	}, `SELECT slave, path, size, complete FROM logs
		WHERE session_id = ? ORDER BY slave, path`, session)
	return out, wrap(err)
}

// ---- suites and events ----

// SetSuiteEnabled implements store.Store.
func (s *Store) SetSuiteEnabled(ctx context.Context, suite string, enabled bool) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO suites (name, enabled, updated_ns) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_ns = excluded.updated_ns`,
		suite, enabled, s.now().UnixNano())
	return wrap(err)
}

// SuiteEnabled implements store.Store.
func (s *Store) SuiteEnabled(ctx context.Context, suite string) (enabled, known bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT enabled FROM suites WHERE name = ?`, suite).Scan(&enabled)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, wrap(err)
	}
	return enabled, true, nil
}

// AddEvent implements store.Store.
func (s *Store) AddEvent(ctx context.Context, e store.Event) error {
	t, err := sqlstore.EventTime(e, s.now)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO events (session_id, time_ns, kind, message) VALUES (?, ?, ?, ?)`,
		e.Session, t, e.Kind, e.Message)
	return wrap(missingSession(err, e.Session))
}

// Events implements store.Store.
func (s *Store) Events(ctx context.Context, session int64) ([]store.Event, error) {
	out, err := queryAll(ctx, s.r, func(row scanner) (e store.Event, err error) {
		err = row.Scan(&e.Session, sqlstore.ScanNS(&e.Time), &e.Kind, &e.Message)
		return e, err
	}, `SELECT session_id, time_ns, kind, message FROM events
		WHERE session_id = ? ORDER BY id`, session)
	return out, wrap(err)
}

const statsQuery = `
SELECT created_ns / ?, state, count(*),
       sum(CASE WHEN started_ns IS NOT NULL AND ended_ns IS NOT NULL THEN ended_ns - started_ns END),
       count(CASE WHEN started_ns IS NOT NULL AND ended_ns IS NOT NULL THEN 1 END)
FROM sessions WHERE created_ns >= ? AND created_ns < ?
GROUP BY 1, 2 ORDER BY 1, 2`

// Stats implements Store, from the sessions_created_stats index alone.
func (s *Store) Stats(ctx context.Context, from, to time.Time) (*store.Stats, error) {
	fromNS, toNS, err := sqlstore.StatsWindow(from, to)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, statsQuery, sqlstore.DayNS, fromNS, toNS)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	acc := sqlstore.NewStatsAcc(from, to)
	for rows.Next() {
		var (
			day, n, timedN int64
			state          string
			sum            sql.NullInt64
		)
		if err := rows.Scan(&day, &state, &n, &sum, &timedN); err != nil {
			return nil, wrap(err)
		}
		acc.Add(day, store.SessionState(state), n, sum.Int64, timedN)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return acc.Done(), nil
}
