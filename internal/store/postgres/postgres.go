// Package postgres is the store.Store for big installations: the metadata
// in a PostgreSQL database, which one master at a time may use (an
// advisory lock, watched by [Store.WatchLock]), and the outputs/ and logs/
// file trees in a directory, as with package sqlite.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/files"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

// Store is the store.Store for big installations: the metadata in a
// PostgreSQL database, the outputs/ and logs/ file trees in a directory,
// as with package sqlite.
//
// One master at a time uses a database: Open takes a session-level
// advisory lock on a connection of its own, held until Close (a second
// master would interrupt the first one's sessions). Reads and writes share
// a pool of connections (pool_max_conns in the URL, default max(4, CPUs));
// PostgreSQL's MVCC lets them run concurrently.
type Store struct {
	files.Files
	pool *pgxpool.Pool
	// lock holds the advisory lock; lockMu serializes its use (the
	// watch of WatchLock, Close).
	lockMu      sync.Mutex
	lock        *pgx.Conn
	lockBackend backend // the server process of lock
	lockCfg     *pgx.ConnConfig
	now         func() time.Time
	// secret is the password, scrubbed from every error message.
	secret string
	where  string // the database, host and user, for messages

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// pgLockKey is the advisory lock of the master ("xrdtest1").
const pgLockKey = 0x7872647465737431

// Open connects to the database at url (a postgres:// URL or a
// libpq key=value string, as pgx takes them), brings its schema up to date,
// and keeps the outputs and logs under dir (created, mode 0700, if
// missing). Errors never contain the password.
func Open(ctx context.Context, url, dir string) (*Store, error) {
	fs, err := files.Open(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("store: database URL: %w", err)
	}
	p := &Store{Files: fs, now: time.Now, secret: cfg.ConnConfig.Password,
		where: fmt.Sprintf("PostgreSQL database %q on %s as %q", cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.User)}
	fail := func(err error) (*Store, error) {
		p.Close()
		return nil, p.redact(fmt.Errorf("store: %s: %w", p.where, err))
	}
	p.lockCfg = cfg.ConnConfig.Copy()
	if p.lock, p.lockBackend, err = takeLock(ctx, p.lockCfg, backend{}); err != nil {
		return fail(err)
	}
	if p.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fail(err)
	}
	if err := pgMigrate(ctx, p.pool); err != nil {
		return fail(err)
	}
	if top, err := files.MaxSession(fs); err != nil {
		return fail(err)
	} else if top > 0 {
		// The sessions of another database left files here: number new
		// ones above them.
		if _, err := p.pool.Exec(ctx, `SELECT setval(pg_get_serial_sequence('sessions', 'id'),
			greatest($1::bigint, (SELECT coalesce(max(id), 0) FROM sessions)))`, top); err != nil {
			return fail(err)
		}
	}
	return p, nil
}

// Where names the database, its host and user (never the password), for
// messages.
func (p *Store) Where() string { return p.redact(errors.New(p.where)).Error() }

// Close closes the connections and releases the database to another
// master. Open output and log writers stay usable until they are closed (a
// log writer's Close then fails to record the size).
func (p *Store) Close() error {
	p.closeOnce.Do(func() {
		if p.pool != nil {
			p.pool.Close()
		}
		p.lockMu.Lock()
		defer p.lockMu.Unlock()
		if p.lock != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Unlocked explicitly: the server releases the lock of a
			// closed connection only when its backend has exited,
			// which a master opening the database next could beat.
			p.lock.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(pgLockKey))
			if err := p.lock.Close(ctx); err != nil {
				p.closeErr = p.redact(fmt.Errorf("store: close: %w", err))
			}
			p.lock = nil
		}
		p.lockCfg = nil // WatchLock takes no lock again
	})
	return p.closeErr
}

// redactedError is an error whose message had the password removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact removes the password from err's message.
func (p *Store) redact(err error) error {
	if err == nil || p.secret == "" || !strings.Contains(err.Error(), p.secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), p.secret, "xxxxx"), err: err}
}

// pgCodes maps PostgreSQL errors caused by the arguments to ErrInvalid.
var pgCodes = map[string]string{
	"22021": "text with a NUL byte or invalid UTF-8", // character_not_in_repertoire
	"22P05": "text not representable in the database encoding",
	"22003": "number out of range",
}

// wrap is the counterpart of package sqlite's wrap: the foreign key
// violation of a missing session (when session > 0) is ErrNotFound, bad
// text ErrInvalid.
func (p *Store) wrap(err error, session int64) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "23503" && session > 0 { // foreign_key_violation
			return fmt.Errorf("%w: session %d", store.ErrNotFound, session)
		}
		if msg, ok := pgCodes[pe.Code]; ok {
			return fmt.Errorf("%w: %s (%s)", store.ErrInvalid, msg, pe.Message)
		}
	}
	return p.redact(fmt.Errorf("store: %w", err))
}

// tx runs fn in a read-write transaction.
func (p *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, p.pool, fn)
}

// ---- conversions ----

// pgList is a list column's value: text[] is NOT NULL, and pgx sends a nil
// slice as NULL.
func pgList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// nilIfEmpty reads back an empty list as nil, as the Store promises.
func nilIfEmpty(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// ---- sessions ----

const pgSessionColumns = `id, suite, state, reason, machines, cases, repo_revision, triggered_by, created_ns, started_ns, ended_ns, hold_until_ns`

func pgScanSession(row pgx.Row) (*store.Session, error) {
	s := new(store.Session)
	var reason []byte
	err := row.Scan(&s.ID, &s.Suite, &s.State, &reason, &s.Machines, &s.Cases,
		&s.RepoRevision, &s.TriggeredBy, sqlstore.ScanNS(&s.Created), sqlstore.ScanNS(&s.Started), sqlstore.ScanNS(&s.Ended), sqlstore.ScanNS(&s.HoldUntil))
	if err != nil {
		return nil, err
	}
	s.Reason = string(reason)
	s.Machines, s.Cases = nilIfEmpty(s.Machines), nilIfEmpty(s.Cases)
	return s, nil
}

// pgSessionArgs are the values of the columns suite ... hold_until_ns.
func pgSessionArgs(se *store.Session) ([]any, error) {
	ts, err := sqlstore.Times(se.Created, se.Started, se.Ended, se.HoldUntil)
	if err != nil {
		return nil, err
	}
	return append([]any{se.Suite, string(se.State), []byte(se.Reason), pgList(se.Machines), pgList(se.Cases),
		se.RepoRevision, se.TriggeredBy}, ts...), nil
}

// CreateSession implements store.Store.
func (p *Store) CreateSession(ctx context.Context, se *store.Session) error {
	return p.CreateSessions(ctx, []*store.Session{se})
}

// CreateSessions creates several sessions in one transaction and one
// round trip, and sets their IDs.
func (p *Store) CreateSessions(ctx context.Context, ss []*store.Session) error {
	b := &pgx.Batch{}
	for _, se := range ss {
		sqlstore.NewSession(se, p.now)
		args, err := pgSessionArgs(se)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO sessions (suite, state, reason, machines, cases, repo_revision, triggered_by,
			created_ns, started_ns, ended_ns, hold_until_ns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`, args...)
	}
	ids := make([]int64, len(ss))
	err := p.tx(ctx, func(tx pgx.Tx) error {
		br := tx.SendBatch(ctx, b)
		for i := range ss {
			if err := br.QueryRow().Scan(&ids[i]); err != nil {
				br.Close()
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		return p.wrap(err, 0)
	}
	for i, se := range ss {
		se.ID = ids[i]
	}
	if len(ss) >= 1000 {
		p.pool.Exec(ctx, `ANALYZE sessions`) // best effort, as SQLite's optimize
	}
	return nil
}

// Optimize vacuums and analyzes the tables now rather than when autovacuum
// gets to them (after a bulk import, a big Prune): the planner's statistics
// and the visibility map that lets counts read the indexes alone.
func (p *Store) Optimize(ctx context.Context) error {
	_, err := p.pool.Exec(ctx, `VACUUM (ANALYZE) sessions, stages, results, events, logs`)
	return p.wrap(err, 0)
}

// UpdateSession implements store.Store. A zero Created keeps the stored one.
func (p *Store) UpdateSession(ctx context.Context, se *store.Session) error {
	args, err := pgSessionArgs(se)
	if err != nil {
		return err
	}
	tag, err := p.pool.Exec(ctx, `UPDATE sessions SET suite = $1, state = $2, reason = $3, machines = $4, cases = $5,
		repo_revision = $6, triggered_by = $7, created_ns = coalesce($8::bigint, created_ns), started_ns = $9, ended_ns = $10, hold_until_ns = $11
		WHERE id = $12`, append(args, se.ID)...)
	if err != nil {
		return p.wrap(err, 0)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: session %d", store.ErrNotFound, se.ID)
	}
	return nil
}

// Session implements store.Store.
func (p *Store) Session(ctx context.Context, id int64) (*store.Session, error) {
	se, err := pgScanSession(p.pool.QueryRow(ctx, `SELECT `+pgSessionColumns+` FROM sessions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: session %d", store.ErrNotFound, id)
	}
	return se, p.wrap(err, 0)
}

// pgSessionsWhere returns the WHERE clause ("" or " WHERE ...") and its
// arguments ($1...) for f.
func pgSessionsWhere(f store.Filter) (string, []any, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Suite != "" {
		add("suite = $%d", f.Suite)
	}
	if len(f.States) == 1 {
		// = rather than = ANY: PostgreSQL 15 reads an index in order only
		// for equality.
		add("state = $%d", string(f.States[0]))
	} else if len(f.States) > 1 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		add("state = ANY($%d)", states)
	}
	bounds, err := sqlstore.CreatedBounds(f)
	if err != nil {
		return "", nil, err
	}
	for _, b := range bounds {
		add("created_ns "+b.Op+" $%d", b.Value)
	}
	if len(where) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(where, " AND "), args, nil
}

// Sessions implements store.Store. The page and the total are read in one
// repeatable-read transaction, so they agree.
func (p *Store) Sessions(ctx context.Context, f store.Filter) ([]*store.Session, int, error) {
	cond, args, err := pgSessionsWhere(f)
	if err != nil {
		return nil, 0, err
	}
	var limit any // NULL: no limit
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	offset := max(f.Offset, 0)
	var out []*store.Session
	total := 0
	err = pgx.BeginTxFunc(ctx, p.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		q := fmt.Sprintf(`SELECT %s FROM sessions%s ORDER BY created_ns DESC, id DESC LIMIT $%d OFFSET $%d`,
			pgSessionColumns, cond, len(args)+1, len(args)+2)
		rows, err := tx.Query(ctx, q, append(args[:len(args):len(args)], limit, int64(offset))...)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Session, error) { return pgScanSession(row) }); err != nil {
			return err
		}
		// The total is known without counting when the page is not cut.
		total = offset + len(out)
		if (f.Limit > 0 && len(out) == f.Limit) || (len(out) == 0 && offset > 0) {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM sessions`+cond, args...).Scan(&n); err != nil {
				return err
			}
			total = int(n)
		}
		return nil
	})
	if err != nil {
		return nil, 0, p.wrap(err, 0)
	}
	return out, total, nil
}

// InterruptUnfinished implements store.Store.
func (p *Store) InterruptUnfinished(ctx context.Context, reason string) ([]int64, error) {
	now := p.now().UnixNano()
	msg := sqlstore.InterruptedMessage(reason)
	var ids []int64
	err := p.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE sessions SET state = $1, reason = $2, ended_ns = coalesce(ended_ns, $3)
			WHERE state IN ($4, $5) RETURNING id`,
			string(store.SessionInterrupted), []byte(reason), now, string(store.SessionQueued), string(store.SessionRunning))
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		slices.Sort(ids)
		_, err = tx.Exec(ctx, `INSERT INTO events (session_id, time_ns, kind, message)
			SELECT id, $1, 'state', $2 FROM unnest($3::bigint[]) AS id ORDER BY id`, now, []byte(msg), ids)
		return err
	})
	if err != nil {
		return nil, p.wrap(err, 0)
	}
	return ids, nil
}

// ---- stages and results ----

// PutStage implements store.Store.
func (p *Store) PutStage(ctx context.Context, st *store.Stage) error {
	started, ended, err := sqlstore.StageTimes(st)
	if err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, `INSERT INTO stages (session_id, idx, name, case_name, started_ns, ended_ns)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (session_id, idx) DO UPDATE SET name = excluded.name, case_name = excluded.case_name,
			started_ns = excluded.started_ns, ended_ns = excluded.ended_ns`,
		st.SessionID, st.Index, st.Name, st.Case, started, ended)
	return p.wrap(err, st.SessionID)
}

// Stages implements store.Store.
func (p *Store) Stages(ctx context.Context, session int64) ([]*store.Stage, error) {
	rows, err := p.pool.Query(ctx, `SELECT session_id, idx, name, case_name, started_ns, ended_ns
		FROM stages WHERE session_id = $1 ORDER BY idx`, session)
	if err != nil {
		return nil, p.wrap(err, 0)
	}
	defer rows.Close()
	out, err := sqlstore.ScanStages(rows)
	return out, p.wrap(err, 0)
}

// PutResult implements store.Store.
func (p *Store) PutResult(ctx context.Context, r *store.Result) error {
	return p.PutResults(ctx, []*store.Result{r})
}

// PutResults implements store.Store: one transaction, one round trip.
func (p *Store) PutResults(ctx context.Context, rs []*store.Result) error {
	b := &pgx.Batch{}
	var sessionID int64
	for _, r := range rs {
		code, start, end, err := sqlstore.ResultValues(r)
		if err != nil {
			return err
		}
		sessionID = r.SessionID
		b.Queue(`INSERT INTO results (session_id, stage, slave, status, exit_code, start_ns, end_ns, message, script, output_bytes, fingerprint)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (session_id, stage, slave) DO UPDATE SET status = excluded.status, exit_code = excluded.exit_code,
				start_ns = excluded.start_ns, end_ns = excluded.end_ns, message = excluded.message,
				script = excluded.script, output_bytes = excluded.output_bytes, fingerprint = excluded.fingerprint`,
			r.SessionID, r.Stage, r.Slave, string(r.Status), code, start, end, []byte(r.Message), []byte(r.Script), r.OutputBytes, r.Fingerprint)
	}
	if b.Len() == 0 {
		return nil
	}
	err := p.tx(ctx, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	return p.wrap(err, sessionID)
}

// Results implements store.Store.
func (p *Store) Results(ctx context.Context, session int64) ([]*store.Result, error) {
	return p.results(ctx, session, "script")
}

var _ store.ResultReader = (*Store)(nil)

// ResultSummaries implements store.ResultReader: Results without reading the
// script column.
func (p *Store) ResultSummaries(ctx context.Context, session int64) ([]*store.Result, error) {
	return p.results(ctx, session, "''::bytea")
}

// results reads a session's results, script being the column (or empty
// value) read into Script.
func (p *Store) results(ctx context.Context, session int64, script string) ([]*store.Result, error) {
	rows, err := p.pool.Query(ctx, `SELECT session_id, stage, slave, status, exit_code, start_ns, end_ns,
			message, `+script+`, output_bytes, fingerprint
		FROM results WHERE session_id = $1 ORDER BY stage, id`, session)
	if err != nil {
		return nil, p.wrap(err, 0)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Result, error) { return scanPGResult(row) })
	return out, p.wrap(err, 0)
}

// Result implements store.ResultReader.
func (p *Store) Result(ctx context.Context, session int64, stage int, slave string) (*store.Result, error) {
	r, err := scanPGResult(p.pool.QueryRow(ctx, `SELECT session_id, stage, slave, status, exit_code, start_ns, end_ns,
			message, script, output_bytes, fingerprint
		FROM results WHERE session_id = $1 AND stage = $2 AND slave = $3`, session, stage, slave))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: result of session %d stage %d slave %s", store.ErrNotFound, session, stage, slave)
	}
	return r, p.wrap(err, 0)
}

func scanPGResult(row pgx.Row) (*store.Result, error) {
	r := new(store.Result)
	var code *int64
	var msg, script []byte
	if err := row.Scan(&r.SessionID, &r.Stage, &r.Slave, &r.Status, &code, sqlstore.ScanNS(&r.Start), sqlstore.ScanNS(&r.End),
		&msg, &script, &r.OutputBytes, &r.Fingerprint); err != nil {
		return nil, err
	}
	if code != nil {
		c := int(*code)
		r.ExitCode = &c
	}
	r.Message, r.Script = string(msg), string(script)
	return r, nil
}

// ---- logs ----

// LogWriter implements store.Store, as SQLite's.
func (p *Store) LogWriter(session int64, slave, path string) (io.WriteCloser, error) {
	ctx := context.Background()
	return files.CreateLog(p.Files, session, slave, path, func(file string) error {
		_, err := p.pool.Exec(ctx, `INSERT INTO logs (session_id, slave, path, file, size, complete)
			VALUES ($1, $2, $3, $4, 0, false)
			ON CONFLICT (session_id, slave, path) DO UPDATE SET file = excluded.file, size = 0, complete = false`,
			session, []byte(slave), []byte(path), file)
		return p.wrap(err, session)
	}, func(size int64) error {
		_, err := p.pool.Exec(ctx, `UPDATE logs SET size = $1, complete = true WHERE session_id = $2 AND slave = $3 AND path = $4`,
			size, session, []byte(slave), []byte(path))
		return p.wrap(err, 0)
	})
}

// Logs implements store.Store.
func (p *Store) Logs(ctx context.Context, session int64) ([]store.LogFile, error) {
	rows, err := p.pool.Query(ctx, `SELECT slave, path, size, complete FROM logs
		WHERE session_id = $1 ORDER BY slave, path`, session)
	if err != nil {
		return nil, p.wrap(err, 0)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (l store.LogFile, err error) {
		var slave, path []byte
		if err := row.Scan(&slave, &path, &l.Size, &l.Complete); err != nil {
			return l, err
		}
		l.Slave, l.Path = string(slave), string(path)
		if !l.Complete {
			l.Size = files.LogSize(p.Files, session, l, l.Size)
		}
		return l, nil
	})
	return out, p.wrap(err, 0)
}

// ---- suites and events ----

// SetSuiteEnabled implements store.Store.
func (p *Store) SetSuiteEnabled(ctx context.Context, suite string, enabled bool) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO suites (name, enabled, updated_ns) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_ns = excluded.updated_ns`,
		suite, enabled, p.now().UnixNano())
	return p.wrap(err, 0)
}

// SuiteEnabled implements store.Store.
func (p *Store) SuiteEnabled(ctx context.Context, suite string) (enabled, known bool, err error) {
	err = p.pool.QueryRow(ctx, `SELECT enabled FROM suites WHERE name = $1`, suite).Scan(&enabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, p.wrap(err, 0)
	}
	return enabled, true, nil
}

// AddEvent implements store.Store.
func (p *Store) AddEvent(ctx context.Context, e store.Event) error {
	t, err := sqlstore.EventTime(e, p.now)
	if err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, `INSERT INTO events (session_id, time_ns, kind, message) VALUES ($1, $2, $3, $4)`,
		e.Session, t, e.Kind, []byte(e.Message))
	return p.wrap(err, e.Session)
}

// Events implements store.Store.
func (p *Store) Events(ctx context.Context, session int64) ([]store.Event, error) {
	rows, err := p.pool.Query(ctx, `SELECT session_id, time_ns, kind, message FROM events
		WHERE session_id = $1 ORDER BY id`, session)
	if err != nil {
		return nil, p.wrap(err, 0)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (e store.Event, err error) {
		var msg []byte
		err = row.Scan(&e.Session, sqlstore.ScanNS(&e.Time), &e.Kind, &msg)
		e.Message = string(msg)
		return e, err
	})
	return out, p.wrap(err, 0)
}

// pgStatsQuery is package sqlite's statsQuery for PostgreSQL, from the
// sessions_created index alone.
const pgStatsQuery = `
SELECT created_ns / $1, state, count(*),
       sum(CASE WHEN started_ns IS NOT NULL AND ended_ns IS NOT NULL THEN ended_ns - started_ns END)::bigint,
       count(CASE WHEN started_ns IS NOT NULL AND ended_ns IS NOT NULL THEN 1 END)
FROM sessions WHERE created_ns >= $2 AND created_ns < $3
GROUP BY 1, 2 ORDER BY 1, 2`

// Stats implements store.Store.
func (p *Store) Stats(ctx context.Context, from, to time.Time) (*store.Stats, error) {
	fromNS, toNS, err := sqlstore.StatsWindow(from, to)
	if err != nil {
		return nil, err
	}
	rows, err := p.pool.Query(ctx, pgStatsQuery, sqlstore.DayNS, fromNS, toNS)
	if err != nil {
		return nil, p.wrap(err, 0)
	}
	defer rows.Close()
	acc := sqlstore.NewStatsAcc(from, to)
	for rows.Next() {
		var (
			day, n, timedN int64
			state          string
			sum            *int64
		)
		if err := rows.Scan(&day, &state, &n, &sum, &timedN); err != nil {
			return nil, p.wrap(err, 0)
		}
		var s int64
		if sum != nil {
			s = *sum
		}
		acc.Add(day, store.SessionState(state), n, s, timedN)
	}
	if err := rows.Err(); err != nil {
		return nil, p.wrap(err, 0)
	}
	return acc.Done(), nil
}
