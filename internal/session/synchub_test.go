package session

import (
	"strings"
	"testing"
	"time"
)

// answers records the responses of sync calls.
type answers map[string]chan string

func (a answers) respond(id string) func(string) {
	ch := make(chan string, 4)
	a[id] = ch
	return func(s string) { ch <- s }
}

// wait is get, waiting up to d for the answer.
func (a answers) wait(t *testing.T, id string, d time.Duration) (string, bool) {
	t.Helper()
	select {
	case s := <-a[id]:
		return s, true
	case <-time.After(d):
		return "", false
	}
}

func (a answers) get(t *testing.T, id string) (string, bool) {
	t.Helper()
	select {
	case s := <-a[id]:
		return s, true
	default:
		return "", false
	}
}

func TestSyncHub(t *testing.T) {
	h := NewSyncHub()
	a := answers{}
	h.beginStage(1, []string{"a", "b", "c"})

	// A barrier completes when all members arrived.
	h.Request(1, "a", "1", "barrier", "x", 0, time.Minute, a.respond("1"))
	h.Request(1, "b", "2", "barrier", "x", 0, time.Minute, a.respond("2"))
	if _, ok := a.get(t, "1"); ok {
		t.Fatal("barrier completed with a member missing")
	}
	// A resend of a pending call is not counted twice.
	h.Request(1, "b", "2", "barrier", "x", 0, time.Minute, a.respond("2"))
	h.Request(1, "c", "3", "barrier", "x", 0, time.Minute, a.respond("3"))
	for _, id := range []string{"1", "2", "3"} {
		if r, ok := a.get(t, id); !ok || r != "" {
			t.Errorf("call %s: %q %v", id, r, ok)
		}
	}
	// A resend of a completed call gets the same answer again.
	h.Request(1, "c", "3", "barrier", "x", 0, time.Minute, a.respond("3"))
	if r, ok := a.get(t, "3"); !ok || r != "" {
		t.Errorf("resent completed call: %q %v", r, ok)
	}

	// signal / wait counting.
	h.Request(1, "a", "4", "wait", "go", 2, time.Minute, a.respond("4"))
	h.Request(1, "b", "5", "signal", "go", 0, time.Minute, a.respond("5"))
	if _, ok := a.get(t, "4"); ok {
		t.Fatal("wait completed after 1 of 2 signals")
	}
	h.Request(1, "b", "6", "signal", "go", 0, time.Minute, a.respond("6"))
	if r, ok := a.get(t, "4"); !ok || r != "" {
		t.Errorf("wait: %q %v", r, ok)
	}

	// A wait that nobody can satisfy any more fails naming who left.
	h.Request(1, "a", "7", "wait", "never", 1, time.Minute, a.respond("7"))
	h.finished(1, "b", "finished its stage")
	if _, ok := a.get(t, "7"); ok {
		t.Fatal("failed while c could still signal")
	}
	h.finished(1, "c", "lost")
	if r, ok := a.get(t, "7"); !ok || !strings.Contains(r, "b (finished its stage), c (lost)") {
		t.Errorf("wait never: %q %v", r, ok)
	}

	// A barrier that failed stays failed for members that arrive late.
	h.beginStage(1, []string{"a", "b", "c"})
	h.Request(1, "a", "11", "barrier", "late", 0, time.Minute, a.respond("11"))
	h.finished(1, "c", "finished its stage")
	first, _ := a.get(t, "11")
	h.Request(1, "b", "12", "barrier", "late", 0, time.Minute, a.respond("12"))
	if r, ok := a.get(t, "12"); !ok || r != first || !strings.Contains(r, "c (finished its stage) did not reach it") || strings.Contains(r, "b (") {
		t.Errorf("late arrival: %q (first %q) %v", r, first, ok)
	}

	// Timeouts name what is missing.
	h.beginStage(1, []string{"a", "b"})
	h.Request(1, "a", "8", "barrier", "slow", 0, 50*time.Millisecond, a.respond("8"))
	// Waited for, not slept on: a loaded machine (-race) fires the timer late.
	if r, ok := a.wait(t, "8", 10*time.Second); !ok || r != "timed out after 50ms: barrier slow still misses b" {
		t.Errorf("timeout: %q %v", r, ok)
	}

	// The end of the session fails what is pending.
	h.Request(1, "a", "9", "barrier", "end", 0, time.Minute, a.respond("9"))
	h.endSession(1)
	if r, ok := a.get(t, "9"); !ok || r != "the session ended" {
		t.Errorf("end: %q %v", r, ok)
	}
	h.Request(1, "a", "10", "signal", "x", 0, time.Minute, a.respond("10"))
	if r, _ := a.get(t, "10"); r != "no session is running for this stage" {
		t.Errorf("after the end: %q", r)
	}
}
