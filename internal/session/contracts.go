package session

import (
	"context"
	"io"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// Dispatcher runs one stage on one slave and reports how it ended. When
// ctx is cancelled the stage is cancelled on the slave and RunStage
// returns once the slave confirmed (or was lost).
type Dispatcher interface {
	RunStage(ctx context.Context, slave string, cmd StageCommand, out OutputSink) Outcome
}

// StageCommand is what a slave needs to run a stage.
type StageCommand struct {
	ID        string // unique per session, stage and slave
	Session   int64
	Stage     int
	StageName string
	Script    string // after tag substitution
	Env       []string
	Timeout   time.Duration
	Grace     time.Duration
}

// OutputSink receives a stage's output chunks, numbered from 1.
type OutputSink interface {
	Append(seq uint64, p []byte) error
}

// Outcome is how a stage ended on one slave. Start and End are on the
// master's clock.
type Outcome struct {
	Status   store.Status // passed, failed, timeout, lost or cancelled
	ExitCode *int
	Start    time.Time
	End      time.Time
	Message  string
}

// Slaves is what a session needs of the slaves: the stages dispatched to
// them, their connection, and the suite's log files fetched from them.
// The daemons package implements it over the slaves' gRPC streams; the
// sessiontest package has an in-memory twin.
type Slaves interface {
	Dispatcher
	// WaitForSlaves waits until every named slave is connected and idle,
	// calling connected for each as it comes, and returns those still
	// missing when ctx ends.
	WaitForSlaves(ctx context.Context, names []string, connected func(slave string)) []string
	// CollectLogs fetches paths from slave; open creates the file each is
	// stored in. At most maxBytes of each, from its end (0: all). id names
	// the request (unique per session and slave).
	CollectLogs(ctx context.Context, slave, id string, paths []string, maxBytes int64, open func(path string) (io.WriteCloser, error)) error
}

// TokenIssuer issues the one-time enrollment token of a machine the
// session's cluster starts (daemons.OneTimeTokens).
type TokenIssuer interface {
	Issue(host string) string
	// Revoke spends the unused tokens of hosts: their cluster stopped.
	Revoke(hosts ...string)
}
