package api

import "time"

// The types below are the answers of the case statistics: how each test
// case of a suite fared over its history, and the fingerprints that group
// its failures.

// CasesView is GET /api/v1/suites/{suite}/cases: every case of a suite
// seen in the window (the last Days days and the last Last finished
// sessions, whichever reaches further back).
type CasesView struct {
	Suite string      `json:"suite"`
	Now   time.Time   `json:"now"`  // the end of the windows
	Days  int         `json:"days"` // Runs, Failures and PassRate cover these days
	Last  int         `json:"last"` // Recent covers the suite's last sessions
	Cases []CaseStats `json:"cases"`
}

// CaseStats is one case over its suite's history. A run is one session
// that ran the case to a verdict: it failed when one of the case's stages
// (init, run, finalize) failed, timed out or lost its slave on one host,
// and passed when it ran and none did; a case skipped or cancelled is no
// run.
type CaseStats struct {
	Name     string   `json:"name"`
	Runs     int      `json:"runs"`
	Failures int      `json:"failures"`
	PassRate *float64 `json:"pass_rate"` // nil: no run in the window
	// Recent is the same over the suite's last CasesView.Last sessions.
	Recent Rate `json:"recent"`
	// Hosts are the figures per host, by host name.
	Hosts []HostRate `json:"hosts"`
	// Flaky: the case both passed and failed on one definitions revision
	// (FlakyRevisions, newest first): the change is not in the tests; or
	// it passed only on a retry (PassedOnRetry).
	Flaky          bool     `json:"flaky"`
	FlakyRevisions []string `json:"flaky_revisions"`
	// PassedOnRetry counts the runs in the window that failed and then
	// passed on a retry (ts.retries): flaky, and counted as failures.
	PassedOnRetry int `json:"passed_on_retry"`
	// Quarantine is the case's quarantine in force (nil: none).
	Quarantine *Quarantine `json:"quarantine"`
	// Trend is the verdict of each of the last runs, newest first.
	Trend []CaseRun `json:"trend"`
	// Fingerprints group the case's failures in the window, the most
	// recent first, each counted over the whole history.
	Fingerprints []Fingerprint `json:"fingerprints"`
}

// Rate is a number of runs, how many failed and the pass rate.
type Rate struct {
	Runs     int      `json:"runs"`
	Failures int      `json:"failures"`
	PassRate *float64 `json:"pass_rate"` // nil: no run
}

// NewRate computes the pass rate of runs with failures.
func NewRate(runs, failures int) Rate {
	r := Rate{Runs: runs, Failures: failures}
	if runs > 0 {
		p := float64(runs-failures) / float64(runs)
		r.PassRate = &p
	}
	return r
}

// HostRate is a case's figures on one host: over the days of the window
// and over the last sessions.
type HostRate struct {
	Host   string `json:"host"`
	Days   Rate   `json:"days"`
	Recent Rate   `json:"recent"`
}

// CaseRun is one run of a case: a cell of its trend strip.
type CaseRun struct {
	Session  int64     `json:"session"`
	Created  time.Time `json:"created"`
	Revision string    `json:"revision,omitempty"`
	Status   Status    `json:"status"` // passed or failed
}

// Fingerprint is a group of failures that look the same: the same stage,
// exit status and last lines of output once the noise (numbers, hex ids,
// times, temporary paths, host names) is normalised. Its figures cover the
// whole history.
type Fingerprint struct {
	ID       string     `json:"id"`
	Text     string     `json:"text"`     // the normalised stage, exit status and last lines
	Count    int        `json:"count"`    // failed results (one per host and session)
	Sessions int        `json:"sessions"` // sessions it occurred in
	First    SessionRef `json:"first"`
	Last     SessionRef `json:"last"`
	Hosts    []string   `json:"hosts"`
	// Sample is its latest occurrence, whose output shows it in full.
	Sample FailureRef `json:"sample"`
}

// FailureRef names one slave's result of one stage.
type FailureRef struct {
	Session int64  `json:"session"`
	Stage   int    `json:"stage"`
	Slave   string `json:"slave"`
}

// CaseView is GET /api/v1/suites/{suite}/cases/{case}: one case's
// figures and its recent failures.
type CaseView struct {
	Suite string    `json:"suite"`
	Now   time.Time `json:"now"`
	Days  int       `json:"days"`
	Last  int       `json:"last"`
	CaseStats
	// Regression is set when the case's last run failed.
	Regression *Regression `json:"regression"`
	// RecentFailures are the failed results in the window, newest first
	// (at most 100).
	RecentFailures []CaseFailure `json:"recent_failures"`
}

// CaseFailure is one failed result of one of a case's stages.
type CaseFailure struct {
	FailureRef
	Created     time.Time `json:"created"`
	Revision    string    `json:"revision,omitempty"`
	StageName   string    `json:"stage_name"`
	Status      Status    `json:"status"`
	ExitCode    *int      `json:"exit_code"`
	Fingerprint string    `json:"fingerprint,omitempty"`
}

// SessionRef names a session and when it was created.
type SessionRef struct {
	ID      int64     `json:"id"`
	Created time.Time `json:"created"`
}

// Regression is where a case failing now started failing: its last run
// that passed and the first failed run after it, with what changed in
// between in the definitions.
type Regression struct {
	// LastGood is nil when no run in the window passed.
	LastGood *CaseRun `json:"last_good"`
	FirstBad CaseRun  `json:"first_bad"`
	// Changes lists, per repository whose revision differs between the
	// two, what changed in the suite's files: empty when the revisions
	// are the same (the change is not in the definitions).
	Changes []RepoChanges `json:"changes"`
	// ChangesError says why the changes could not be read.
	ChangesError string `json:"changes_error,omitempty"`
}

// RepoChanges is what changed in one repository between two revisions.
type RepoChanges struct {
	Repo string `json:"repo"`
	From string `json:"from"`
	To   string `json:"to"`
	// Git: the commits touching the suite's files, newest first, and
	// their diff (cut at 256 KiB: Truncated).
	Commits   []Commit `json:"commits"`
	Diff      string   `json:"diff,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
	// Localfs: the suite's files that changed (nil when that is not
	// known: Note says why).
	Files []FileChange `json:"files,omitempty"`
	// Note says why there is no diff nor file list.
	Note string `json:"note,omitempty"`
}

// FileChange is a file of a localfs repository that changed between two
// revisions: "added", "removed" or "modified".
type FileChange struct {
	Path   string `json:"path"`
	Change string `json:"change"`
}

// Commit is a commit of a RepoChanges.
type Commit struct {
	Hash    string    `json:"hash"`
	Author  string    `json:"author"`
	Date    time.Time `json:"date"`
	Subject string    `json:"subject"`
}

// Quarantine is a test case set aside until a date: it still runs and its
// results are shown, but its failures neither fail its sessions nor send
// alerts. An element of CaseStats.Quarantine, the answer of POST
// /api/v1/suites/{suite}/cases/{case}/quarantine.
type Quarantine struct {
	Suite  string    `json:"suite"`
	Case   string    `json:"case"`
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
	By     string    `json:"by"`
	Since  time.Time `json:"since"`
}

// QuarantineRequest is the body of POST
// /api/v1/suites/{suite}/cases/{case}/quarantine.
type QuarantineRequest struct {
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
	By     string    `json:"by"`
}

// Unquarantined is the answer of POST
// /api/v1/suites/{suite}/cases/{case}/unquarantine.
type Unquarantined struct {
	Suite string `json:"suite"`
	Case  string `json:"case"`
}
