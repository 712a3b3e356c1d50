package sessiontest

import (
	"slices"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/session"
)

// Clock is a fake session.Clock: its time moves only by Advance, which
// runs the timers that came due. It starts at Epoch.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// Epoch is when a new Clock starts: a fixed, non-zero time, so recorded
// times compare equal from run to run.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var _ session.Clock = (*Clock)(nil)

// NewClock returns a clock at Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

type fakeTimer struct {
	c    *Clock
	at   time.Time
	f    func()
	done bool // fired or stopped
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc registers f to run once the clock has advanced by d.
func (c *Clock) AfterFunc(d time.Duration, f func()) session.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop implements session.Timer.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	t.c.timers = slices.DeleteFunc(t.c.timers, func(x *fakeTimer) bool { return x == t })
	return true
}

// Advance moves the clock by d and runs the timers due by then, in the
// order of their times, each in its own goroutine as time.AfterFunc
// does; it returns once they all returned, so what they did is done.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.at.After(c.now) {
			return false
		}
		t.done = true
		due = append(due, t)
		return true
	})
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		done := make(chan struct{})
		go func() { defer close(done); t.f() }()
		<-done
	}
}

// Pending counts the timers registered and not yet run or stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
