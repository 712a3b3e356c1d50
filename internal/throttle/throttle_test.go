package throttle

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New()
	for i := 1; i < DefaultFailures; i++ {
		if d := l.Failed("10.0.0.1", now); d != 0 {
			t.Fatalf("failure %d refused the address", i)
		}
	}
	if d := l.Failed("10.0.0.1", now); d != DefaultLockout {
		t.Fatalf("failure %d: refused for %v, want %v", DefaultFailures, d, DefaultLockout)
	}
	if d := l.Refused("10.0.0.1", now.Add(time.Minute)); d != DefaultLockout-time.Minute {
		t.Errorf("refused for %v a minute later", d)
	}
	if d := l.Refused("10.0.0.2", now); d != 0 {
		t.Errorf("another address refused for %v", d)
	}
	if d := l.Refused("10.0.0.1", now.Add(DefaultLockout)); d != 0 {
		t.Errorf("still refused after the lockout: %v", d)
	}
	// Failures spread wider than the window never add up.
	for i := range 3 * DefaultFailures {
		if d := l.Failed("10.0.0.3", now.Add(time.Duration(i)*(DefaultWindow+time.Second))); d != 0 {
			t.Fatalf("failure %d, each a window apart, refused the address", i+1)
		}
	}
	l.Succeeded("10.0.0.1")
	if d := l.Refused("10.0.0.1", now); d != 0 {
		t.Errorf("refused after a success: %v", d)
	}
}

// TestLimiterBounded: a flood of addresses does not grow memory past
// Tracked.
func TestLimiterBounded(t *testing.T) {
	l := New()
	l.Tracked = 100
	now := time.Unix(1_700_000_000, 0)
	for i := range 1000 {
		l.Failed("10.1."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256), now)
	}
	if n := l.Len(); n > 100 {
		t.Errorf("%d addresses remembered, want at most 100", n)
	}
}

func TestRefusedError(t *testing.T) {
	e := &RefusedError{What: "logins", Wait: 1500 * time.Millisecond}
	if e.Seconds() != 2 || e.Error() != "too many failed logins from your address: try again in 2 seconds" {
		t.Errorf("got %d, %q", e.Seconds(), e.Error())
	}
	if Host("[::1]:8080") != "::1" || Host("10.0.0.1:1") != "10.0.0.1" || Host("pipe") != "pipe" {
		t.Error("Host")
	}
}
