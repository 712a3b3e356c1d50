package api

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// The types below are the answers of the endpoints the web pages are
// built from (dashboard, statistics, clusters, hypervisors, suites
// overview, history, session view).

// Duration is a duration as the views send it: Go's notation, rounded to
// milliseconds ("1h2m3.5s").
type Duration time.Duration

// MarshalText renders the duration as Go does, rounded to milliseconds.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).Round(time.Millisecond).String()), nil
}

// UnmarshalText parses Go's notation.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// Dashboard is GET /api/v1/dashboard: the front page.
type Dashboard struct {
	Version     string           `json:"version"`
	Started     time.Time        `json:"started"`
	Uptime      Duration         `json:"uptime"`
	Slaves      []DaemonInfo     `json:"slaves"`
	Hypervisors []HypervisorView `json:"hypervisors"`
	Clusters    []ClusterView    `json:"clusters"`
	// Active lists the queued and running sessions, oldest first, with
	// their progress.
	Active   []SessionProgress `json:"active"`
	NextRuns []NextRun         `json:"next_runs"`
	Stats    *StatsView        `json:"stats"`
	// DefinitionErrors counts the errors of the definitions loaded last.
	DefinitionErrors int `json:"definition_errors"`
}

// SessionProgress is an active session and the state of each of its
// stages, planned ones included.
type SessionProgress struct {
	*Session
	Stages []StageProgress `json:"stages"`
	// Current is the index of the running stage (-1: none).
	Current int `json:"current"`
}

// StageProgress is one stage of a session summarised over its slaves.
type StageProgress struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	Done   int    `json:"done"`  // slaves finished
	Total  int    `json:"total"` // slaves
}

// Stats summarises the sessions created in a time window.
type Stats struct {
	From     time.Time            `json:"from"`
	To       time.Time            `json:"to"`
	Sessions int                  `json:"sessions"`
	ByState  map[SessionState]int `json:"by_state"` // only states that occur
	// PerDay lists the UTC days of the window that have sessions, oldest
	// first.
	PerDay []DayStats `json:"per_day"`
	// MeanDurationNs is the mean run time of the finished sessions, in
	// nanoseconds (0: none).
	MeanDurationNs time.Duration `json:"mean_duration_ns"`
}

// PassRate is passed / (passed + failed), the share of sessions that ran to
// a verdict and passed; ok is false when none did.
func (s *Stats) PassRate() (rate float64, ok bool) {
	p, f := s.ByState[SessionPassed], s.ByState[SessionFailed]
	if p+f == 0 {
		return 0, false
	}
	return float64(p) / float64(p+f), true
}

// DayStats counts the sessions created on one UTC day.
type DayStats struct {
	Day      time.Time            `json:"day"` // midnight UTC
	Sessions int                  `json:"sessions"`
	ByState  map[SessionState]int `json:"by_state"`
}

// StatsView is GET /api/v1/stats?days=N: the statistics of the last days,
// with the figures the pages show.
type StatsView struct {
	*Stats
	Days         int      `json:"days"`
	PassRate     *float64 `json:"pass_rate"` // nil: no session ran to a verdict
	MeanDuration Duration `json:"mean_duration"`
}

// HypervisorView is an element of GET /api/v1/hypervisors.
type HypervisorView struct {
	DaemonInfo
	Backend       string   `json:"backend"`
	MemoryKiB     int64    `json:"memory_kib"`
	FreeMemoryKiB int64    `json:"free_memory_kib"` // as reported when it connected
	CPUs          int      `json:"cpus"`
	Clusters      []string `json:"clusters"` // placed on it by this master
}

// Network is a cluster's network as defined.
type Network struct {
	Name       string    `json:"name"`
	IP         string    `json:"ip"`
	Netmask    string    `json:"netmask"`
	DHCPRange  [2]string `json:"dhcp_range"`
	BridgeName string    `json:"bridge_name"`
}

// ClusterView is an element of GET /api/v1/clusters: a defined cluster
// and the state of its hosts.
type ClusterView struct {
	Name    string  `json:"name"`
	File    string  `json:"file"`
	Network Network `json:"network"`
	// Hypervisor runs the cluster ("" when not started on a hypervisor).
	Hypervisor string `json:"hypervisor,omitempty"`
	// Sessions are the active sessions that use the cluster.
	Sessions []int64    `json:"sessions"`
	Hosts    []HostView `json:"hosts"`
}

// HostView is one host of a cluster.
type HostView struct {
	Name  string    `json:"name"`
	IP    string    `json:"ip"`
	State HostState `json:"state"`
	// Stage is the stage it runs, stage StageIndex of session Session.
	Stage      string `json:"stage,omitempty"`
	Session    int64  `json:"session,omitempty"`
	StageIndex int    `json:"stage_index,omitempty"`
	// Since: when the slave connected.
	Since time.Time `json:"since,omitzero"`
}

// SuitesView is GET /api/v1/suites/overview: the suites and the
// definition problems.
type SuitesView struct {
	Suites []SuiteView `json:"suites"`
	// Broken lists the suites that did not load, with their errors.
	Broken   []BrokenView     `json:"broken"`
	Errors   []DiagnosticView `json:"errors"`
	Warnings []DiagnosticView `json:"warnings"`
	// SchedulerOff: the scheduler is disabled, no suite runs on its
	// schedule.
	SchedulerOff bool         `json:"scheduler_off"`
	Repos        []RepoStatus `json:"repos"`
	Loaded       time.Time    `json:"loaded,omitzero"`
}

// SuiteView is one suite's definition summary and recent results.
type SuiteView struct {
	Name         string         `json:"name"`
	File         string         `json:"file"`
	Clusters     []string       `json:"clusters"`
	Machines     []string       `json:"machines"`
	Cases        []string       `json:"cases"`
	Schedule     string         `json:"schedule"` // the cron dict, as written
	Next         time.Time      `json:"next,omitzero"`
	Enabled      bool           `json:"enabled"`
	Pending      bool           `json:"pending"` // a scheduled run waits for the running one
	AlertEmails  []string       `json:"alert_emails"`
	AlertSuccess string         `json:"alert_success"`
	AlertFailure string         `json:"alert_failure"`
	Running      bool           `json:"running"`
	Recent       []SessionBrief `json:"recent"` // newest first
	// Errors and warnings of the suite's files.
	Diagnostics []DiagnosticView `json:"diagnostics"`
}

// SessionBrief is one cell of a pass/fail strip.
type SessionBrief struct {
	ID      int64        `json:"id"`
	State   SessionState `json:"state"`
	Created time.Time    `json:"created"`
}

// BrokenView is a definition that did not load.
type BrokenView struct {
	Kind   string           `json:"kind"` // suite or cluster
	Name   string           `json:"name"`
	File   string           `json:"file"`
	Errors []DiagnosticView `json:"errors"`
}

// DiagnosticView is a definition problem at file:line.
type DiagnosticView struct {
	Severity string `json:"severity"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Message  string `json:"message"`
}

// HistoryQuery is the query of a history page, as the master understood
// it.
type HistoryQuery struct {
	Suite   string         `json:"suite,omitempty"`
	States  []SessionState `json:"states,omitempty"`
	From    string         `json:"from,omitempty"` // YYYY-MM-DD, UTC, inclusive
	To      string         `json:"to,omitempty"`   // YYYY-MM-DD, UTC, inclusive
	Page    int            `json:"page"`           // from 1
	PerPage int            `json:"per_page"`
}

// HistoryView is GET /api/v1/history: one page of the history.
type HistoryView struct {
	Query    HistoryQuery `json:"query"`
	Sessions []*Session   `json:"sessions"`
	Total    int          `json:"total"`
	Pages    int          `json:"pages"`
	// Suites are the loaded suites' names, for the filter.
	Suites []string `json:"suites"`
}

// SessionView is GET /api/v1/sessions/{id}/view: a session's matrix of
// stages and slaves, without the scripts, with its events and collected
// logs.
type SessionView struct {
	*Session
	Duration Duration `json:"duration"` // so far, while running
	// Slaves are the matrix's columns: the session's machines in order.
	Slaves []string `json:"slaves"`
	// Stages are its rows, in execution order, planned ones included.
	Stages []StageRow `json:"stages"`
	Events []Event    `json:"events"`
	// Faults are those set on its hosts (`xrdtest fault`, ts.faults), in
	// the order they were set, from its events.
	Faults []Fault   `json:"faults"`
	Logs   []LogFile `json:"logs"`
	// Fingerprints are those of the session's failures, over the whole
	// history: First is this session for a new failure.
	Fingerprints []Fingerprint `json:"fingerprints"`
}

// StageRow is one stage with a cell per slave.
type StageRow struct {
	Index   int       `json:"index"`
	Name    string    `json:"name"`
	Case    string    `json:"case,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	Planned bool      `json:"planned,omitempty"`
	Status  Status    `json:"status"` // summarised over the cells
	Cells   []Cell    `json:"cells"`  // aligned with SessionView.Slaves
}

// Cell is one slave's result of a stage (Status pending when none yet).
type Cell struct {
	Slave       string    `json:"slave"`
	Status      Status    `json:"status"`
	ExitCode    *int      `json:"exit_code"`
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	Duration    Duration  `json:"duration"` // so far, while running
	Message     string    `json:"message,omitempty"`
	OutputBytes int64     `json:"output_bytes"`
	// Fingerprint groups a failure with those that look the same;
	// NewFailure: this session is the first it occurred in.
	Fingerprint string `json:"fingerprint,omitempty"`
	NewFailure  bool   `json:"new_failure,omitempty"`
}

// Event is something that happened to a session.
type Event struct {
	Session int64     `json:"session"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}

// Fault is a fault a session set on its hosts, and its window.
type Fault struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Spec is the fault as `xrdtest fault` takes it (kind and words).
	Spec string `json:"spec"`
	// Hosts are the hosts it was set on: both groups of a partition.
	Hosts []string `json:"hosts"`
	// By is who set it: the slave whose script did, or "the fault schedule".
	By    string    `json:"by"`
	Start time.Time `json:"start"`
	// End is when it was healed; zero while it is on, and for one the
	// session ended without healing (a master that crashed: the backend
	// heals it when it takes the cluster over). A kill has End = Start.
	End time.Time `json:"end,omitzero"`
}

// LogFile is a log file collected from a slave.
type LogFile struct {
	Slave    string `json:"slave"`
	Path     string `json:"path"` // the path on the slave
	Size     int64  `json:"size"` // bytes stored
	Complete bool   `json:"complete"`
}

// Where is file:line, or file when the line is unknown.
func (d DiagnosticView) Where() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d", d.File, d.Line)
	}
	return d.File
}

// DefaultPerPage is how many sessions a page of the history shows unless
// asked otherwise.
const DefaultPerPage = 50

// Values renders the query as URL parameters (page left out when 1).
func (h HistoryQuery) Values() url.Values {
	q := url.Values{}
	if h.Suite != "" {
		q.Set("suite", h.Suite)
	}
	for _, s := range h.States {
		q.Add("state", string(s))
	}
	if h.From != "" {
		q.Set("from", h.From)
	}
	if h.To != "" {
		q.Set("to", h.To)
	}
	if h.PerPage != 0 && h.PerPage != DefaultPerPage {
		q.Set("per_page", strconv.Itoa(h.PerPage))
	}
	if h.Page > 1 {
		q.Set("page", strconv.Itoa(h.Page))
	}
	return q
}
