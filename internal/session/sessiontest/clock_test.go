package sessiontest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	c := NewClock()
	var mu sync.Mutex
	var fired []string
	add := func(s string) func() {
		return func() { mu.Lock(); fired = append(fired, s); mu.Unlock() }
	}
	c.AfterFunc(2*time.Second, add("2s"))
	c.AfterFunc(time.Second, add("1s"))
	stopped := c.AfterFunc(time.Second, add("stopped"))
	c.AfterFunc(time.Minute, add("1m"))
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop of a pending timer: want true, then false")
	}
	c.Advance(1500 * time.Millisecond)
	c.Advance(time.Second)
	if want := []string{"1s", "2s"}; !slices.Equal(fired, want) {
		t.Errorf("fired %q, want %q", fired, want)
	}
	if got, want := c.Now(), Epoch.Add(2500*time.Millisecond); !got.Equal(want) {
		t.Errorf("Now %s, want %s", got, want)
	}
	if n := c.Pending(); n != 1 {
		t.Errorf("%d timers pending, want 1", n)
	}
}
