package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] brings the schema from version i to version i+1. They are
// applied in order, in one transaction, when the database is opened; append
// new ones, never edit released ones.
//
// Conventions: times are INTEGER unix nanoseconds UTC, NULL for the zero
// time; lists are JSON arrays in TEXT columns; tables are STRICT.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE sessions (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	suite         TEXT    NOT NULL,
	state         TEXT    NOT NULL,
	reason        TEXT    NOT NULL DEFAULT '',
	machines      TEXT    NOT NULL DEFAULT '[]',
	cases         TEXT    NOT NULL DEFAULT '[]',
	repo_revision TEXT    NOT NULL DEFAULT '',
	triggered_by  TEXT    NOT NULL DEFAULT '',
	created_ns    INTEGER NOT NULL,
	started_ns    INTEGER,
	ended_ns      INTEGER
) STRICT;
-- Sessions(store.Filter) is ordered by created_ns DESC, id DESC: every index ends
-- with the rowid (id), so each of these serves the order without a sort.
CREATE INDEX sessions_suite_created ON sessions (suite, created_ns);
CREATE INDEX sessions_state_created ON sessions (state, created_ns);
CREATE INDEX sessions_created       ON sessions (created_ns);
-- Suite and state together: the count of the total is read from the index
-- alone (a sessions row, with its JSON lists, is wide).
CREATE INDEX sessions_suite_state_created ON sessions (suite, state, created_ns);

CREATE TABLE stages (
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	idx        INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	case_name  TEXT    NOT NULL DEFAULT '',
	started_ns INTEGER,
	ended_ns   INTEGER,
	PRIMARY KEY (session_id, idx)
) STRICT, WITHOUT ROWID;

-- id keeps the order of first insertion (upserts keep the row).
CREATE TABLE results (
	id           INTEGER PRIMARY KEY,
	session_id   INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	stage        INTEGER NOT NULL,
	slave        TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	exit_code    INTEGER,
	start_ns     INTEGER,
	end_ns       INTEGER,
	message      TEXT    NOT NULL DEFAULT '',
	script       TEXT    NOT NULL DEFAULT '',
	output_bytes INTEGER NOT NULL DEFAULT 0,
	UNIQUE (session_id, stage, slave)
) STRICT;

CREATE TABLE events (
	id         INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	time_ns    INTEGER NOT NULL,
	kind       TEXT    NOT NULL,
	message    TEXT    NOT NULL
) STRICT;
CREATE INDEX events_session ON events (session_id);

-- file is the escaped file name under logs/<session>/<escaped slave>/.
CREATE TABLE logs (
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	slave      TEXT    NOT NULL,
	path       TEXT    NOT NULL,
	file       TEXT    NOT NULL,
	size       INTEGER NOT NULL DEFAULT 0,
	complete   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (session_id, slave, path)
) STRICT, WITHOUT ROWID;

CREATE TABLE suites (
	name       TEXT    PRIMARY KEY,
	enabled    INTEGER NOT NULL,
	updated_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`,
	// 2: Stats reads a window of sessions from this index alone.
	`
CREATE INDEX sessions_created_stats ON sessions (created_ns, state, started_ns, ended_ns);
`,
	// 3: failure fingerprints. Only failed results have one: the partial
	// index stays as small as the failures.
	`
ALTER TABLE results ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
CREATE INDEX results_fingerprint ON results (fingerprint, session_id) WHERE fingerprint != '';
CREATE TABLE fingerprints (
	id   TEXT PRIMARY KEY,
	text TEXT NOT NULL
) STRICT, WITHOUT ROWID;
`,
	// 4: quarantined test cases.
	`
CREATE TABLE quarantines (
	suite     TEXT    NOT NULL,
	case_name TEXT    NOT NULL,
	reason    TEXT    NOT NULL,
	until_ns  INTEGER NOT NULL,
	by_user   TEXT    NOT NULL,
	since_ns  INTEGER NOT NULL,
	PRIMARY KEY (suite, case_name)
) STRICT, WITHOUT ROWID;
`,
	// 5: when a held session goes on by itself.
	`
ALTER TABLE sessions ADD COLUMN hold_until_ns INTEGER;
`,
}

// migrate brings the database to the latest schema version in one transaction. A database
// written by a newer version is refused.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see _txlock)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
		return err
	}
	var v int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err {
	case nil, sql.ErrNoRows:
	default:
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("store: database schema version %d is newer than this program's (%d)", v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("store: migration to schema version %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, len(migrations)); err != nil {
		return err
	}
	return tx.Commit()
}
