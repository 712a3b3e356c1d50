package api

// SessionState is the state of a whole session.
type SessionState string

// Session states. Queued, Running and Held are the unfinished states;
// the others are final.
const (
	SessionQueued  SessionState = "queued"
	SessionRunning SessionState = "running"
	// SessionHeld: a stage failed and the session waits, its cluster
	// kept as it was, until released or its HoldUntil (`xrdtest run
	// --hold`); then it goes on as it would have (finalizes, logs).
	SessionHeld        SessionState = "held"
	SessionPassed      SessionState = "passed"
	SessionFailed      SessionState = "failed"
	SessionCancelled   SessionState = "cancelled"
	SessionInterrupted SessionState = "interrupted"
)

// Finished reports whether s is a final state.
func (s SessionState) Finished() bool {
	return s != SessionQueued && s != SessionRunning && s != SessionHeld && s != ""
}

// Status is the status of one slave in one stage.
type Status string

// Per slave, per stage statuses.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusPassed    Status = "passed"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusTimeout   Status = "timeout"
	StatusLost      Status = "lost"
	StatusCancelled Status = "cancelled"
)

// DaemonState is the state of a connected daemon.
type DaemonState string

// Daemon states.
const (
	DaemonConnected DaemonState = "connected"
	// DaemonDisconnected: a slave whose connection dropped while it had
	// stages; it is lost unless it comes back within the grace period.
	DaemonDisconnected DaemonState = "disconnected"
)

// HostState is the state of a cluster's host: one of the constants, or
// the last start-up phase reported while its cluster starts (free text).
type HostState string

// Host states.
const (
	HostConnected    HostState = "connected"
	HostBusy         HostState = "busy" // running a stage
	HostDisconnected HostState = "disconnected"
	HostDown         HostState = "down"
)

// Role is the role of a daemon.
type Role string

// Daemon roles.
const (
	RoleSlave      Role = "slave"
	RoleHypervisor Role = "hypervisor"
)
