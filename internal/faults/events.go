package faults

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// The fault hub's session events (kind "fault"), written by the functions
// below and read back by ParseEvent: the session page draws each
// fault's window from them.

// EventOp is what a fault event says happened.
type EventOp int

// The fault events ParseEvent reads.
const (
	EventSet    EventOp = iota + 1 // a fault is on
	EventHealed                    // a fault that was on is healed
	EventDone                      // a fault done once (kill): nothing to heal
)

// Event is a fault event, read back.
type Event struct {
	Op EventOp
	ID string
	// By is who set it: a slave, or "the fault schedule"; "" for a heal.
	By   string
	Spec hypervisor.FaultSpec
}

func setMsg(id, by, scope string, spec hypervisor.FaultSpec) string {
	return fmt.Sprintf("fault %s on, set by %s until %s: %s", id, by, scope, spec)
}

func healedMsg(id, why string, spec hypervisor.FaultSpec, since time.Time) string {
	return fmt.Sprintf("fault %s healed at %s: %s, on since %s", id, why, spec, since.Format(time.TimeOnly))
}

func doneMsg(id, by string, spec hypervisor.FaultSpec) string {
	return fmt.Sprintf("fault %s done by %s: %s", id, by, spec)
}

var (
	setRE    = regexp.MustCompile(`^fault (\S+) on, set by (.+?) until .+?: (.+)$`)
	healedRE = regexp.MustCompile(`^fault (\S+) healed at .+?: (.+), on since \S+$`)
	doneRE   = regexp.MustCompile(`^fault (\S+) done by (.+?): (.+)$`)
)

// ParseEvent reads a fault event's message; ok is false for the
// others (a schedule's seed, a fault not set or not healed).
func ParseEvent(msg string) (ev Event, ok bool) {
	var words string
	if m := setRE.FindStringSubmatch(msg); m != nil {
		ev, words = Event{Op: EventSet, ID: m[1], By: m[2]}, m[3]
	} else if m := healedRE.FindStringSubmatch(msg); m != nil {
		ev, words = Event{Op: EventHealed, ID: m[1]}, m[2]
	} else if m := doneRE.FindStringSubmatch(msg); m != nil {
		ev, words = Event{Op: EventDone, ID: m[1], By: m[2]}, m[3]
	} else {
		return Event{}, false
	}
	spec, err := hypervisor.ParseFault(strings.Fields(words))
	if err != nil {
		return Event{}, false
	}
	ev.Spec = spec
	return ev, true
}
