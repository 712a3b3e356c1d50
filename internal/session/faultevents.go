package session

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// The fault hub's session events (kind "fault"), written by the functions
// below and read back by ParseFaultEvent: the session page draws each
// fault's window from them.

// FaultEventOp is what a fault event says happened.
type FaultEventOp int

// The fault events ParseFaultEvent reads.
const (
	FaultSet    FaultEventOp = iota + 1 // a fault is on
	FaultHealed                         // a fault that was on is healed
	FaultDone                           // a fault done once (kill): nothing to heal
)

// FaultEvent is a fault event, read back.
type FaultEvent struct {
	Op FaultEventOp
	ID string
	// By is who set it: a slave, or "the fault schedule"; "" for a heal.
	By   string
	Spec hypervisor.FaultSpec
}

func faultSetMsg(id, by, scope string, spec hypervisor.FaultSpec) string {
	return fmt.Sprintf("fault %s on, set by %s until %s: %s", id, by, scope, spec)
}

func faultHealedMsg(id, why string, spec hypervisor.FaultSpec, since time.Time) string {
	return fmt.Sprintf("fault %s healed at %s: %s, on since %s", id, why, spec, since.Format(time.TimeOnly))
}

func faultDoneMsg(id, by string, spec hypervisor.FaultSpec) string {
	return fmt.Sprintf("fault %s done by %s: %s", id, by, spec)
}

var (
	faultSetRE    = regexp.MustCompile(`^fault (\S+) on, set by (.+?) until .+?: (.+)$`)
	faultHealedRE = regexp.MustCompile(`^fault (\S+) healed at .+?: (.+), on since \S+$`)
	faultDoneRE   = regexp.MustCompile(`^fault (\S+) done by (.+?): (.+)$`)
)

// ParseFaultEvent reads a fault event's message; ok is false for the
// others (a schedule's seed, a fault not set or not healed).
func ParseFaultEvent(msg string) (ev FaultEvent, ok bool) {
	var words string
	if m := faultSetRE.FindStringSubmatch(msg); m != nil {
		ev, words = FaultEvent{Op: FaultSet, ID: m[1], By: m[2]}, m[3]
	} else if m := faultHealedRE.FindStringSubmatch(msg); m != nil {
		ev, words = FaultEvent{Op: FaultHealed, ID: m[1]}, m[2]
	} else if m := faultDoneRE.FindStringSubmatch(msg); m != nil {
		ev, words = FaultEvent{Op: FaultDone, ID: m[1], By: m[2]}, m[3]
	} else {
		return FaultEvent{}, false
	}
	spec, err := hypervisor.ParseFault(strings.Fields(words))
	if err != nil {
		return FaultEvent{}, false
	}
	ev.Spec = spec
	return ev, true
}
