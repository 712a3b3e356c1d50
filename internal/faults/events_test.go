package faults

import (
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// TestFaultEvents: what the hub writes, ParseEvent reads back; the
// other fault events are not taken for a fault's set or heal.
func TestFaultEvents(t *testing.T) {
	part := hypervisor.FaultSpec{Kind: "partition", Hosts: []string{"a.xrd.test", "b.xrd.test"}, Peers: []string{"c.xrd.test"}}
	kill := hypervisor.FaultSpec{Kind: "kill", Hosts: []string{"a.xrd.test"}, Process: "xrootd"}
	for _, tc := range []struct {
		msg  string
		want Event
	}{
		{setMsg("f01", "a.xrd.test", "the end of case cut", part), Event{Op: EventSet, ID: "f01", By: "a.xrd.test", Spec: part}},
		{setMsg("f02", "the fault schedule", "the session's end", part), Event{Op: EventSet, ID: "f02", By: "the fault schedule", Spec: part}},
		{healedMsg("f01", "the end of case cut", part, time.Now()), Event{Op: EventHealed, ID: "f01", Spec: part}},
		{doneMsg("f03", "c.xrd.test", kill), Event{Op: EventDone, ID: "f03", By: "c.xrd.test", Spec: kill}},
	} {
		got, ok := ParseEvent(tc.msg)
		if !ok || got.Op != tc.want.Op || got.ID != tc.want.ID || got.By != tc.want.By || got.Spec.String() != tc.want.Spec.String() {
			t.Errorf("ParseEvent(%q) = %+v, %v; want %+v", tc.msg, got, ok, tc.want)
		}
	}
	for _, msg := range []string{
		"fault schedule: seed 7, a fault every 2s on cluster c during run stages: isolate",
		"fault f01 (isolate a.xrd.test) not healed at the session's end: boom",
		"fault schedule: isolate a.xrd.test not set: no",
	} {
		if ev, ok := ParseEvent(msg); ok {
			t.Errorf("ParseEvent(%q) = %+v, want none", msg, ev)
		}
	}
}
