package api

import "time"

// The types below are the answers of the endpoints, field for field as
// the master encodes them: a nil list is null on the wire and an empty
// one [], so decoding and encoding again gives the same document.

// Session is one run of a test suite on several slave machines: an
// element of GET /api/v1/sessions, and the answer of POST
// /api/v1/sessions and POST /api/v1/sessions/{id}/rerun.
type Session struct {
	ID           int64        `json:"id"`
	Suite        string       `json:"suite"`
	State        SessionState `json:"state"`
	Reason       string       `json:"reason,omitempty"` // why it failed or was cancelled/interrupted
	Machines     []string     `json:"machines"`         // full host names, in order
	Cases        []string     `json:"cases"`            // the test cases it runs
	RepoRevision string       `json:"repo_revision,omitempty"`
	TriggeredBy  string       `json:"triggered_by,omitempty"` // "schedule", "user alice", "quickstart"...
	Created      time.Time    `json:"created,omitzero"`
	Started      time.Time    `json:"started,omitzero"`
	Ended        time.Time    `json:"ended,omitzero"`
	// HoldUntil is when a held session goes on by itself (zero unless
	// held).
	HoldUntil time.Time `json:"hold_until,omitzero"`
}

// Stage is one stage of a session.
type Stage struct {
	SessionID int64     `json:"session_id"`
	Index     int       `json:"index"` // execution order, 0-based
	Name      string    `json:"name"`  // "suite_init", "<case>:init", "<case>:run", "<case>:finalize", "suite_finalize"
	Case      string    `json:"case,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	Ended     time.Time `json:"ended,omitzero"`
}

// Result is one slave's result of one stage.
type Result struct {
	SessionID   int64     `json:"session_id"`
	Stage       int       `json:"stage"` // Stage.Index
	Slave       string    `json:"slave"`
	Status      Status    `json:"status"`
	ExitCode    *int      `json:"exit_code"`      // nil when the script did not run or finish
	Start       time.Time `json:"start,omitzero"` // master's clock
	End         time.Time `json:"end,omitzero"`
	Message     string    `json:"message,omitempty"` // "killed after stage timeout 1m0s", "slave lost"...
	Script      string    `json:"script,omitempty"`  // the script that ran; left out with scripts=0
	OutputBytes int64     `json:"output_bytes"`
	// Fingerprint groups a failed result with the failures that look the
	// same (Fingerprint); empty for the others.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// SessionDetail is GET /api/v1/sessions/{id}: a session with its stages
// and their per-slave results.
type SessionDetail struct {
	*Session
	Stages []StageDetail `json:"stages"`
}

// StageDetail is a stage with its results, in the order of the
// session's machines.
type StageDetail struct {
	*Stage
	Results []*Result `json:"results"`
}

// SessionList is GET /api/v1/sessions: a page of sessions, newest first,
// and how many match in all.
type SessionList struct {
	Sessions []*Session `json:"sessions"`
	Total    int        `json:"total"`
}

// DaemonInfo is a connected daemon: an element of GET /api/v1/daemons.
type DaemonInfo struct {
	Role     Role      `json:"role"`
	Name     string    `json:"name"`
	Address  string    `json:"address"`
	Version  string    `json:"version"`
	Hostname string    `json:"hostname,omitempty"`
	Since    time.Time `json:"connected_since"`
	// Stage names the stage the slave is running ("" when idle), stage
	// StageIndex of session Session (both omitted when idle, the index
	// also when 0: suite_init).
	Stage      string      `json:"stage,omitempty"`
	Session    int64       `json:"session,omitempty"`
	StageIndex int         `json:"stage_index,omitempty"`
	State      DaemonState `json:"state"`
}

// MasterStatus is GET /api/v1/status: the master's version, the
// connected daemons and the queued and running sessions.
type MasterStatus struct {
	Version  string       `json:"version"`
	Started  time.Time    `json:"started"`
	Daemons  []DaemonInfo `json:"daemons"`
	Sessions []*Session   `json:"sessions"`
}

// Suite is an element of GET /api/v1/suites: a loaded suite's clusters,
// machines and test cases.
type Suite struct {
	Name     string   `json:"name"`
	Clusters []string `json:"clusters"`
	Machines []string `json:"machines"`
	Cases    []string `json:"cases"`
}

// NextRun is an element of GET /api/v1/schedule: a suite's next
// scheduled run.
type NextRun struct {
	Suite string `json:"suite"`
	// Next is the next fire time; zero: never.
	Next time.Time `json:"next"`
	// Enabled is false when the suite or the whole scheduler is disabled.
	Enabled bool `json:"enabled"`
	// SuiteEnabled is the suite's own state, whatever the scheduler's.
	SuiteEnabled bool `json:"suite_enabled"`
	// Pending is true when a run is queued behind a running session.
	Pending bool `json:"pending"`
}

// RepoStatus is a definition repository as last loaded.
type RepoStatus struct {
	Name string `json:"name"`
	Type string `json:"type"` // localfs or git
	Path string `json:"path"`
	// Revision of the definitions loaded: the git commit, or for localfs a
	// digest of the files read.
	Revision string `json:"revision"`
	// Git only: the remote (credentials redacted) and branch followed,
	// when the last sync succeeded, and why the last one failed.
	Remote   string    `json:"remote,omitempty"`
	Branch   string    `json:"branch,omitempty"`
	Synced   time.Time `json:"synced,omitzero"`
	Error    string    `json:"error,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Problem is a definition error or warning, with its repository's name.
type Problem struct {
	Repo    string `json:"repo"`
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// ReloadReport is GET /api/v1/repos and POST /api/v1/reload: the
// repositories with their revisions and sync errors, and the
// definitions' errors and warnings.
type ReloadReport struct {
	Loaded   time.Time    `json:"loaded"`
	Repos    []RepoStatus `json:"repos"`
	Clusters int          `json:"clusters"`
	Suites   int          `json:"suites"`
	Errors   []Problem    `json:"errors"`
	Warnings []Problem    `json:"warnings"`
}

// SuiteEnabled is the answer of POST /api/v1/suites/{name}/enabled.
type SuiteEnabled struct {
	Suite   string `json:"suite"`
	Enabled bool   `json:"enabled"`
}

// Cancelling is the answer of POST /api/v1/sessions/{id}/cancel.
type Cancelling struct {
	Cancelling int64 `json:"cancelling"`
}

// ClusterStopped is the answer of POST /api/v1/clusters/{name}/stop.
type ClusterStopped struct {
	Cluster string `json:"cluster"`
	Stopped bool   `json:"stopped"`
}

// ErrorBody is the answer of a refused request.
type ErrorBody struct {
	Error string `json:"error"`
}

// StartRequest is the body of POST /api/v1/sessions.
type StartRequest struct {
	Suite string   `json:"suite"`
	Cases []string `json:"cases"`
	By    string   `json:"by"` // the user asking, a hint for the logs
	// Retries is how many times a failed case runs again (nil: the
	// suite's ts.retries).
	Retries *int `json:"retries,omitempty"`
	// Seed seeds the suite's fault schedule (0: its ts.faults seed).
	Seed int64 `json:"seed,omitempty"`
	// Hold holds the session at its first failed stage, its cluster up,
	// for that long, a duration such as "30m" ("": the suite's
	// ts.hold_on_failure).
	Hold string `json:"hold,omitempty"`
}

// ExtendRequest is the body of POST /api/v1/sessions/{id}/hold/extend.
type ExtendRequest struct {
	By string `json:"by"`
	// Duration moves the deadline by that much, e.g. "30m".
	Duration string `json:"duration"`
}

// HoldReply is the answer of POST /api/v1/sessions/{id}/hold/release and
// .../hold/extend.
type HoldReply struct {
	Session  int64     `json:"session"`
	Released bool      `json:"released,omitempty"`
	Until    time.Time `json:"hold_until,omitzero"` // the new deadline of an extension
}

// ActionRequest is the body of the actions on a session or a cluster
// and of a reload: who asks.
type ActionRequest struct {
	By string `json:"by"`
}

// EnableRequest is the body of POST /api/v1/suites/{name}/enabled.
type EnableRequest struct {
	Enabled bool   `json:"enabled"`
	By      string `json:"by"`
}
