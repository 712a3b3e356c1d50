package sqlstore

import (
	"fmt"
	"slices"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// NewSession fills the defaults of a session about to be created: Created
// now when zero, State queued when empty.
func NewSession(se *store.Session, now func() time.Time) {
	if se.Created.IsZero() {
		se.Created = now()
	}
	if se.State == "" {
		se.State = store.SessionQueued
	}
}

// StageTimes checks st and returns the column values of its Started and
// Ended.
func StageTimes(st *store.Stage) (started, ended any, err error) {
	if st.Index < 0 {
		return nil, nil, fmt.Errorf("%w: stage index %d", store.ErrInvalid, st.Index)
	}
	ts, err := Times(st.Started, st.Ended)
	if err != nil {
		return nil, nil, err
	}
	return ts[0], ts[1], nil
}

// ResultValues checks r and returns the column values of its exit code
// (NULL for none), Start and End.
func ResultValues(r *store.Result) (code, start, end any, err error) {
	if r.Stage < 0 {
		return nil, nil, nil, fmt.Errorf("%w: stage index %d", store.ErrInvalid, r.Stage)
	}
	ts, err := Times(r.Start, r.End)
	if err != nil {
		return nil, nil, nil, err
	}
	if r.ExitCode != nil {
		code = int64(*r.ExitCode)
	}
	return code, ts[0], ts[1], nil
}

// EventTime returns the column value of e's Time, now when it is zero.
func EventTime(e store.Event, now func() time.Time) (any, error) {
	if e.Time.IsZero() {
		e.Time = now()
	}
	return NS(e.Time)
}

// InterruptedMessage is the message of the "state" event that
// Store.InterruptUnfinished adds to a session.
func InterruptedMessage(reason string) string {
	if reason == "" {
		return string(store.SessionInterrupted)
	}
	return string(store.SessionInterrupted) + ": " + reason
}

// NonEmpty returns the distinct non-empty strings of ids, sorted.
func NonEmpty(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Rows is what ScanStages needs of a query's rows: *sql.Rows and
// pgx.Rows both are.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanStages reads the rows of a query of stages' session_id, idx, name,
// case_name, started_ns and ended_ns; the caller closes rows.
func ScanStages(rows Rows) ([]*store.Stage, error) {
	var out []*store.Stage
	for rows.Next() {
		st := new(store.Stage)
		if err := rows.Scan(&st.SessionID, &st.Index, &st.Name, &st.Case, ScanNS(&st.Started), ScanNS(&st.Ended)); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}
