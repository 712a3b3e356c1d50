package store

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
)

// The history's records are the API's wire types, one definition of each
// (internal/api): what the store keeps is what the API sends.
type (
	SessionState = api.SessionState
	Status       = api.Status
	Session      = api.Session
	Stage        = api.Stage
	Result       = api.Result
	Event        = api.Event
	LogFile      = api.LogFile
	Stats        = api.Stats
	DayStats     = api.DayStats
	Fingerprint  = api.Fingerprint
	SessionRef   = api.SessionRef
	Quarantine   = api.Quarantine
	FailureRef   = api.FailureRef
)

// Session states. Queued and Running are the unfinished states (see
// [Store.InterruptUnfinished]); Held is unfinished too but outlives a
// master's restart; the others are final.
const (
	SessionQueued      = api.SessionQueued
	SessionRunning     = api.SessionRunning
	SessionHeld        = api.SessionHeld
	SessionPassed      = api.SessionPassed
	SessionFailed      = api.SessionFailed
	SessionCancelled   = api.SessionCancelled
	SessionInterrupted = api.SessionInterrupted
)

// Per slave, per stage statuses.
const (
	StatusPending   = api.StatusPending
	StatusRunning   = api.StatusRunning
	StatusPassed    = api.StatusPassed
	StatusFailed    = api.StatusFailed
	StatusSkipped   = api.StatusSkipped
	StatusTimeout   = api.StatusTimeout
	StatusLost      = api.StatusLost
	StatusCancelled = api.StatusCancelled
)

// AllSessionStates lists every state a session can be in.
func AllSessionStates() []SessionState {
	return []SessionState{SessionQueued, SessionRunning, SessionHeld, SessionPassed, SessionFailed, SessionCancelled, SessionInterrupted}
}

// UnfinishedStates lists the states of the sessions in progress: those
// the dashboard and the status show as active.
func UnfinishedStates() []SessionState {
	return []SessionState{SessionQueued, SessionRunning, SessionHeld}
}

// JoinStates lists states for a message: "queued, running".
func JoinStates(ss []SessionState) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// Filter selects sessions. Zero fields do not filter. Results are newest
// first (by Created, then by ID).
type Filter struct {
	Suite  string         `json:"suite,omitempty"`
	States []SessionState `json:"states,omitempty"`
	From   time.Time      `json:"from,omitzero"`   // Created >= From
	To     time.Time      `json:"to,omitzero"`     // Created < To
	Limit  int            `json:"limit,omitempty"` // <= 0: no limit
	Offset int            `json:"offset,omitempty"`
}

// Errors. They are wrapped: test them with errors.Is.
var (
	// ErrNotFound: the session (or output, log file) does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrOutputGap: an output chunk arrived with a sequence number beyond
	// the next expected one; the chunks in between are missing.
	ErrOutputGap = errors.New("store: gap in output sequence")
	// ErrInvalid: an argument cannot be stored (negative stage index, empty
	// slave name, time out of range...).
	ErrInvalid = errors.New("store: invalid argument")
	// ErrClosed: the writer or store was closed.
	ErrClosed = errors.New("store: closed")
)

// ErrLockLost: the connection holding a database's one-master lock
// (package postgres) dropped and another master took the lock before this
// one could take it again. It is the contract's, so that callers test it
// without knowing the implementation.
var ErrLockLost = errors.New("lost the database to another master")

// OutputWriter appends the output of one slave's stage.
//
// The output arrives in chunks numbered 1, 2, 3... Append ignores a chunk
// whose sequence number was already written (an idempotent resend after a
// reconnect) and rejects one beyond the next expected number with
// ErrOutputGap, so that the output is always exactly the concatenation of
// chunks 1..NextSeq()-1. Every chunk is stored before Append returns: the
// output is watched live (OpenOutput readers), and the sequence number
// acknowledged to the slave must describe bytes that survive a crash of
// the master process. An error storing a chunk is sticky: every later
// Append returns it.
//
// Append must be called from one goroutine at a time; Bytes, NextSeq and
// Close may be called from any goroutine.
type OutputWriter interface {
	// Append stores chunk seq; resends are ignored, gaps refused.
	Append(seq uint64, p []byte) error
	// Bytes returns how many bytes were stored.
	Bytes() int64
	// NextSeq returns the sequence number expected next.
	NextSeq() uint64
	// Close ends the output; closing twice is harmless.
	Close() error
}

// Store is the history of the master. Implementations are safe for
// concurrent use.
type Store interface {
	// CreateSession inserts s and sets s.ID. A zero s.Created is set to
	// now and an empty s.State to queued.
	CreateSession(ctx context.Context, s *Session) error
	// UpdateSession overwrites every field of the session s.ID
	// (ErrNotFound when absent).
	UpdateSession(ctx context.Context, s *Session) error
	// Session returns the session id, ErrNotFound when absent.
	Session(ctx context.Context, id int64) (*Session, error)
	// Sessions returns one page of the sessions matching f, newest first,
	// and the total number of matching sessions.
	Sessions(ctx context.Context, f Filter) ([]*Session, int, error)

	// Stats summarizes the sessions created in [from, to). It reads
	// aggregates only, so it stays fast with a long history.
	Stats(ctx context.Context, from, to time.Time) (*Stats, error)

	// PutStage inserts or replaces the stage (SessionID, Index).
	PutStage(ctx context.Context, st *Stage) error
	// Stages returns the stages of a session by index.
	Stages(ctx context.Context, session int64) ([]*Stage, error)
	// PutResult inserts or replaces the result (SessionID, Stage, Slave).
	PutResult(ctx context.Context, r *Result) error
	// PutResults is PutResult for several results, atomically.
	PutResults(ctx context.Context, rs []*Result) error
	// Results returns the results of a session by stage, then in the order
	// their slaves were first inserted for that stage.
	Results(ctx context.Context, session int64) ([]*Result, error)

	// OutputWriter creates the output file of one slave's stage. Each
	// output is written once: an existing output is an error
	// (fs.ErrExist). Outputs are files only: the session is not looked up
	// (the caller records OutputBytes in the Result).
	OutputWriter(session int64, stage int, slave string) (OutputWriter, error)
	// OpenOutput opens an output for reading, also while it is still
	// being written. ErrNotFound when absent.
	OpenOutput(session int64, stage int, slave string) (io.ReadSeekCloser, error)

	// LogWriter creates (or replaces) a log file collected from a slave.
	LogWriter(session int64, slave, path string) (io.WriteCloser, error)
	// Logs lists the log files of a session by slave, then path.
	Logs(ctx context.Context, session int64) ([]LogFile, error)
	// OpenLog opens a log file for reading. ErrNotFound when absent.
	OpenLog(session int64, slave, path string) (io.ReadSeekCloser, error)

	// SetSuiteEnabled records whether a suite is enabled.
	SetSuiteEnabled(ctx context.Context, suite string, enabled bool) error
	// SuiteEnabled returns the recorded state; known is false when it was
	// never set.
	SuiteEnabled(ctx context.Context, suite string) (enabled, known bool, err error)

	// InterruptUnfinished marks the sessions left queued or running (by a
	// master that died) interrupted, with Reason = reason and Ended = now
	// (unless already set), appends to each an event of kind "state"
	// ("interrupted: <reason>"), and returns their IDs in increasing order.
	// Their stages and results are left as recorded.
	InterruptUnfinished(ctx context.Context, reason string) ([]int64, error)

	// Prune deletes finished sessions (never queued or running ones) with
	// their stages, results, events, logs and their output and log files:
	// those created before olderThan (zero: no age limit) and those not
	// among the keepNewest newest sessions, counted as Sessions orders
	// them and including unfinished ones (<= 0: no count limit). It goes
	// oldest first in small batches, each a short transaction, so that
	// the sessions running meanwhile are not held up, and returns how many
	// sessions it deleted (with ctx's error when ctx ends it early). New
	// sessions are never given the IDs of deleted ones.
	Prune(ctx context.Context, olderThan time.Time, keepNewest int) (deleted int, err error)
	// PruneOutputs deletes the output and log files of the finished
	// sessions created before olderThan, keeping everything else of them
	// (results with their output sizes, events, the list of logs): the
	// files are most of a history's size. It returns how many sessions
	// lost files (with ctx's error when ctx ends it early); an output
	// then opens with ErrNotFound.
	PruneOutputs(ctx context.Context, olderThan time.Time) (sessions int, err error)

	// AddEvent appends to a session's event log (ErrNotFound when the
	// session does not exist).
	AddEvent(ctx context.Context, e Event) error
	// Events returns a session's events in the order they were added.
	Events(ctx context.Context, session int64) ([]Event, error)

	// CaseResults returns the results of the case stages (those with a
	// Case; caseName non-empty: that case's only) of the suite's finished sessions (neither queued nor running)
	// created at or after from (zero: no time window) or among its newest
	// finished ones (<= 0: none), newest session first (by Created, then
	// ID), then by stage index, then in insertion order. Stage and
	// ExitCode are set for the failures (failed, timeout, lost) only: a
	// window holds tens of thousands of results.
	CaseResults(ctx context.Context, suite, caseName string, from time.Time, newest int) ([]CaseResult, error)
	// PutFingerprint records the text of a fingerprint of failures; the
	// first text recorded for an id stays.
	PutFingerprint(ctx context.Context, id, text string) error
	// Fingerprints summarises the failures (results whose Fingerprint is
	// one of ids) over the whole history, one per id that occurs, the one
	// first seen first: Count results in Sessions sessions, the First and
	// Last session, the Hosts (sorted) and the latest result as Sample.
	Fingerprints(ctx context.Context, ids []string) ([]Fingerprint, error)

	// SetQuarantine records (or replaces) the quarantine of q.Suite's
	// case q.Case.
	SetQuarantine(ctx context.Context, q Quarantine) error
	// EndQuarantine removes a case's quarantine (ErrNotFound when none).
	EndQuarantine(ctx context.Context, suite, caseName string) error
	// Quarantines lists the quarantines of a suite ("": of every suite),
	// expired ones too, by suite then case.
	Quarantines(ctx context.Context, suite string) ([]Quarantine, error)

	// Close releases the store; closing twice is harmless.
	Close() error
}

// CaseResult is one slave's result of one stage of a test case, with what
// the statistics of the case need of its session.
type CaseResult struct {
	Session     int64
	Created     time.Time // the session's
	Revision    string    // the session's definitions revision
	Case        string
	StageIndex  int
	Stage       string // the stage's name, of a failure
	Slave       string
	Status      Status
	ExitCode    *int // of a failure
	Fingerprint string
}
