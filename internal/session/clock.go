package session

import "time"

// Clock is the time of the session code that waits on a timer of its own
// and stamps what it records: the result batcher holds a running result
// back for runningDelay (batch.go), and the engine and Manager date the
// stages, results and sessions. A nil Manager.Clock is the real time;
// sessiontest.Clock is a fake one that tests move by hand.
//
// The other waits of a session are bounded by settings or by the callers
// (Settings.SlaveWait, a sync call's timeout) and stay on the real time:
// tests keep them short (see package sessiontest).
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not run yet, and reports whether
	// it did so.
	Stop() bool
}

// realClock is the time package's clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

func (m *Manager) clock() Clock {
	if m.Clock == nil {
		return realClock{}
	}
	return m.Clock
}
