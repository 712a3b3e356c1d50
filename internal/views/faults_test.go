package views

import (
	"fmt"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// TestFaultWindows: each fault's window runs from the event that set it
// to the one that healed it; one never healed has no end, a kill ends
// where it starts, and other events are left out.
func TestFaultWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ev := func(s int, kind, msg string) store.Event { return store.Event{Time: at(s), Kind: kind, Message: msg} }
	got := FaultWindows([]store.Event{
		ev(0, "fault", "fault schedule: seed 7, a fault every 2s on cluster c during run stages: isolate"),
		ev(1, "fault", "fault f01 on, set by a.xrd.test until the end of case cut: partition a.xrd.test b.xrd.test"),
		ev(2, "stage", "fault f09 on, set by a.xrd.test until the end of case cut: isolate a.xrd.test"),
		ev(3, "fault", "fault f02 on, set by the fault schedule until the session's end: pause b.xrd.test"),
		ev(4, "fault", "fault f03 done by b.xrd.test: kill a.xrd.test xrootd"),
		ev(5, "fault", "fault f01 healed at the end of case cut: partition a.xrd.test b.xrd.test, on since 03:04:06"),
	})
	if len(got) != 3 {
		t.Fatalf("faults %+v, want 3", got)
	}
	for i, want := range []struct {
		id, kind, spec, by, hosts string
		start, end                time.Time
	}{
		{"f01", "partition", "partition a.xrd.test b.xrd.test", "a.xrd.test", "[a.xrd.test b.xrd.test]", at(1), at(5)},
		{"f02", "pause", "pause b.xrd.test", "the fault schedule", "[b.xrd.test]", at(3), time.Time{}},
		{"f03", "kill", "kill a.xrd.test xrootd", "b.xrd.test", "[a.xrd.test]", at(4), at(4)},
	} {
		f := got[i]
		if f.ID != want.id || f.Kind != want.kind || f.Spec != want.spec || f.By != want.by || fmt.Sprint(f.Hosts) != want.hosts ||
			!f.Start.Equal(want.start) || !f.End.Equal(want.end) {
			t.Errorf("fault %d: %+v, want %+v", i, f, want)
		}
	}
}
