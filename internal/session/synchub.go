package session

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// SyncHub coordinates the scripts' `xrdtest sync` calls of every running
// session. Names are scoped to the session. Unlike a counting barrier it
// knows each stage's members, so a call that can never complete (a
// member finished its stage without reaching the barrier, or was lost)
// fails at once, naming who is missing:
//
//	barrier NAME   completes when every member of the stage has called it;
//	               then it resets, so the name can be used again
//	signal NAME    counts one signal; completes at once
//	wait NAME -n N completes when NAME has N signals or more
type SyncHub struct {
	mu       sync.Mutex
	sessions map[int64]*syncSession
}

type syncSession struct {
	members  []string          // the slaves running the current stage
	finished map[string]string // slave -> why it can no longer call: "finished its stage", "lost"
	barriers map[string]map[string]bool
	// broken holds, per barrier name, why it failed in this stage: a
	// member that arrives late gets the same answer, not a fresh barrier.
	broken  map[string]string
	signals map[string]int64
	calls   map[string]*syncCall // by request id, pending and completed
}

// syncCall is one pending or completed call.
type syncCall struct {
	id, slave, op, name string
	count               int64
	respond             func(errMsg string)
	done                bool
	result              string
	timer               *time.Timer
}

func NewSyncHub() *SyncHub { return &SyncHub{sessions: map[int64]*syncSession{}} }

func (h *SyncHub) session(id int64) *syncSession {
	s := h.sessions[id]
	if s == nil {
		s = &syncSession{finished: map[string]string{}, barriers: map[string]map[string]bool{}, broken: map[string]string{},
			signals: map[string]int64{}, calls: map[string]*syncCall{}}
		h.sessions[id] = s
	}
	return s
}

// beginStage records the members of a session's new stage.
func (h *SyncHub) beginStage(session int64, members []string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.session(session)
	s.members = slices.Clone(members)
	clear(s.finished)
	clear(s.broken)
}

// finished records that a member can no longer make calls in this stage;
// calls that needed it fail.
func (h *SyncHub) finished(session int64, slave, why string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[session]
	if s == nil {
		return
	}
	s.finished[slave] = why
	s.evaluate()
}

// endSession fails whatever is still pending and forgets the session.
func (h *SyncHub) endSession(session int64) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.sessions[session]; s != nil {
		for _, c := range s.calls {
			s.complete(c, "the session ended")
		}
		delete(h.sessions, session)
	}
}

// Request handles one call; respond is called once with "" (completed)
// or the reason it failed. A request id seen before is a resend after a
// reconnect: it is answered (again, through the new respond) and not
// counted twice.
func (h *SyncHub) Request(session int64, slave, id, op, name string, count int64, timeout time.Duration, respond func(string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[session]
	if s == nil {
		respond("no session is running for this stage")
		return
	}
	if c := s.calls[id]; c != nil {
		c.respond = respond
		if c.done {
			respond(c.result)
		}
		return
	}
	if name == "" {
		respond("a sync name is required")
		return
	}
	c := &syncCall{id: id, slave: slave, op: op, name: name, count: count, respond: respond}
	s.calls[id] = c
	switch op {
	case "barrier":
		if why := s.broken[name]; why != "" {
			s.complete(c, why)
			return
		}
		if s.barriers[name] == nil {
			s.barriers[name] = map[string]bool{}
		}
		s.barriers[name][slave] = true
	case "signal":
		s.signals[name]++
		s.complete(c, "")
	case "wait":
		if count < 1 {
			count, c.count = 1, 1
		}
	default:
		s.complete(c, fmt.Sprintf("unknown sync operation %q (barrier, signal or wait)", op))
		return
	}
	if !c.done && timeout > 0 {
		c.timer = time.AfterFunc(timeout, func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if !c.done {
				s.complete(c, fmt.Sprintf("timed out after %s: %s", timeout, s.waitingFor(c)))
				if c.op == "barrier" {
					delete(s.barriers[c.name], c.slave)
				}
			}
		})
	}
	s.evaluate()
}

func (s *syncSession) complete(c *syncCall, result string) {
	if c.done {
		return
	}
	c.done, c.result = true, result
	if c.timer != nil {
		c.timer.Stop()
	}
	c.respond(result)
}

// pending lists the pending calls, in a stable order.
func (s *syncSession) pending() []*syncCall {
	var out []*syncCall
	for _, c := range s.calls {
		if !c.done {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *syncCall) int { return strings.Compare(a.id, b.id) })
	return out
}

// evaluate completes or fails every pending call that can be decided. It
// runs each time a member ends its stage, so it returns at once when no
// call is pending (the common case: scripts that never sync).
func (s *syncSession) evaluate() {
	pending := s.pending()
	if len(pending) == 0 {
		return
	}
	for name, arrived := range s.barriers {
		var missing, blockers []string
		for _, m := range s.members {
			if !arrived[m] {
				missing = append(missing, m)
				if why := s.finished[m]; why != "" {
					blockers = append(blockers, m+" ("+why+")")
				}
			}
		}
		if len(arrived) == 0 {
			continue
		}
		result := ""
		switch {
		case len(missing) == 0:
		case len(blockers) > 0:
			result = fmt.Sprintf("barrier %s can never complete: %s did not reach it", name, strings.Join(blockers, ", "))
		default:
			continue
		}
		for _, c := range pending {
			if c.op == "barrier" && c.name == name {
				s.complete(c, result)
			}
		}
		// A completed barrier resets: the name can be used again. A failed
		// one stays failed for this stage.
		delete(s.barriers, name)
		if result != "" {
			s.broken[name] = result
		}
	}
	// A wait can complete when enough signals came; it can never
	// complete when no member is left that could still signal.
	blocked := map[string]bool{}
	waits := false
	for _, c := range pending {
		blocked[c.slave] = !c.done
		waits = waits || c.op == "wait" && !c.done
	}
	if !waits {
		return
	}
	var couldSignal, gone []string
	for _, m := range s.members {
		switch {
		case s.finished[m] != "":
			gone = append(gone, m+" ("+s.finished[m]+")")
		case !blocked[m]:
			couldSignal = append(couldSignal, m)
		}
	}
	for _, c := range s.pending() {
		if c.op != "wait" {
			continue
		}
		switch got := s.signals[c.name]; {
		case got >= c.count:
			s.complete(c, "")
		case len(couldSignal) == 0:
			s.complete(c, fmt.Sprintf("wait %s can never complete: %d of %d signals, and no member is left that could signal (%s)",
				c.name, got, c.count, describeGone(gone)))
		}
	}
}

func describeGone(gone []string) string {
	if len(gone) == 0 {
		return "every other member is waiting too"
	}
	return strings.Join(gone, ", ")
}

// waitingFor says what a pending call still waits for.
func (s *syncSession) waitingFor(c *syncCall) string {
	switch c.op {
	case "barrier":
		var missing []string
		for _, m := range s.members {
			if !s.barriers[c.name][m] {
				missing = append(missing, m)
			}
		}
		return fmt.Sprintf("barrier %s still misses %s", c.name, strings.Join(missing, ", "))
	case "wait":
		return fmt.Sprintf("wait %s got %d of %d signals", c.name, s.signals[c.name], c.count)
	}
	return c.op + " " + c.name
}
