package session

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// FaultHub answers the scripts' `xrdtest fault` calls: it sets faults on
// the hosts of the calling slave's cluster through the backend that runs
// it (hypervisor.FaultInjector), and heals each when its scope ends: the
// case it was set in after its finalize, a suite stage's at the session's
// end, which also heals everything left. Every change is a session event.
type FaultHub struct {
	mu       sync.Mutex
	sessions map[int64]*faultSession
}

// NewFaultHub returns a hub with no session.
func NewFaultHub() *FaultHub { return &FaultHub{sessions: map[int64]*faultSession{}} }

type faultSession struct {
	inj      hypervisor.FaultInjector // nil: why says why not
	why      string
	clusters map[string][]string // cluster -> its host names
	stage    string              // the running stage's case ("" for suite stages)
	on       []faultOn
	calls    map[string]*faultCall // by request id, for resends
	event    func(msg string)
}

// faultCall is a call being answered or answered: a resend after a
// reconnect waits for it and gets its answer; nothing is done twice.
type faultCall struct {
	done chan struct{}
	ans  string
	err  error
}

type faultOn struct {
	hypervisor.Fault
	cluster, cas, by string
}

// begin opens a session's scope: inj is the backend of its clusters (nil
// with why when it cannot inject faults), clusters their host names,
// event records a session event.
func (h *FaultHub) begin(session int64, inj hypervisor.FaultInjector, why string, clusters map[string][]string, event func(string)) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[session] = &faultSession{inj: inj, why: why, clusters: clusters, calls: map[string]*faultCall{}, event: event}
}

// beginStage says which case the session's stages now belong to.
func (h *FaultHub) beginStage(session int64, cas string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.sessions[session]; s != nil {
		s.stage = cas
	}
}

// endCase heals the faults set in case cas (its finalize has ended).
func (h *FaultHub) endCase(ctx context.Context, session int64, cas string) {
	h.heal(ctx, session, func(f faultOn) bool { return f.cas == cas }, "the end of case "+cas)
}

// endSession heals every fault the session left on and closes it.
func (h *FaultHub) endSession(ctx context.Context, session int64) {
	if h == nil {
		return
	}
	h.heal(ctx, session, func(faultOn) bool { return true }, "the end of the session")
	h.mu.Lock()
	delete(h.sessions, session)
	h.mu.Unlock()
}

// heal heals the session's faults that match, recording each.
func (h *FaultHub) heal(ctx context.Context, session int64, match func(faultOn) bool, why string) []string {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[session]
	if s == nil {
		return nil
	}
	var healed []string
	kept := s.on[:0]
	for _, f := range s.on {
		if !match(f) {
			kept = append(kept, f)
			continue
		}
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		err := s.inj.HealFaults(hctx, f.cluster, f.ID)
		cancel()
		if err != nil {
			s.event(fmt.Sprintf("fault %s (%s) not healed at %s: %v", f.ID, f.Spec, why, err))
			kept = append(kept, f) // the session's end tries again
			continue
		}
		s.event(fmt.Sprintf("fault %s healed at %s: %s, on since %s", f.ID, why, f.Spec, f.Since.Format(time.TimeOnly)))
		healed = append(healed, f.ID)
	}
	s.on = kept
	return healed
}

// Fault answers one `xrdtest fault` call from a script on slave: KIND
// ARGS... sets a fault and answers its id; heal [ID...|all] heals the
// session's faults (all when no id is given); resume HOST heals the pause
// of HOST; list answers the faults on, one a line. id identifies the call:
// a resend after a reconnect gets the first answer, nothing is done twice.
func (h *FaultHub) Fault(ctx context.Context, session int64, slave, id string, args []string) (string, error) {
	h.mu.Lock()
	s := h.sessions[session]
	if s == nil {
		h.mu.Unlock()
		return "", fmt.Errorf("no session is running for this stage")
	}
	if c := s.calls[id]; c != nil {
		h.mu.Unlock()
		select {
		case <-c.done:
			return c.ans, c.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	call := &faultCall{done: make(chan struct{})}
	s.calls[id] = call
	defer close(call.done)
	cluster := ""
	for c, hosts := range s.clusters {
		if slices.Contains(hosts, slave) {
			cluster = c
		}
	}
	h.mu.Unlock()
	switch {
	case cluster == "":
		call.err = fmt.Errorf("%s is no host of the session's clusters", slave)
	case len(args) > 0 && args[0] == "list":
		call.ans = h.list(session)
	case len(args) > 0 && (args[0] == "heal" || args[0] == "resume"):
		call.ans, call.err = h.healCall(ctx, session, args)
	default:
		call.ans, call.err = h.set(ctx, session, cluster, slave, args)
	}
	return call.ans, call.err
}

// set parses and sets a fault on the cluster of the calling slave.
func (h *FaultHub) set(ctx context.Context, session int64, cluster, slave string, args []string) (string, error) {
	spec, err := hypervisor.ParseFault(args)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	s := h.sessions[session]
	if s == nil {
		h.mu.Unlock()
		return "", fmt.Errorf("the session ended")
	}
	inj, why, hosts, cas := s.inj, s.why, s.clusters[cluster], s.stage
	h.mu.Unlock()
	if err := spec.ResolveHosts(cluster, hosts); err != nil {
		return "", err
	}
	if inj == nil {
		return "", fmt.Errorf("cannot set faults: %s", why)
	}
	f, err := inj.SetFault(ctx, cluster, spec)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if spec.Kind == hypervisor.FaultKill {
		s.event(fmt.Sprintf("fault %s done by %s: %s", f.ID, slave, spec))
		return f.ID, nil
	}
	s.on = append(s.on, faultOn{Fault: f, cluster: cluster, cas: cas, by: slave})
	scope := "the session's end"
	if cas != "" {
		scope = "the end of case " + cas
	}
	s.event(fmt.Sprintf("fault %s on, set by %s until %s: %s", f.ID, slave, scope, spec))
	return f.ID, nil
}

// healCall is `heal [ID...|all]` and `resume HOST`.
func (h *FaultHub) healCall(ctx context.Context, session int64, args []string) (string, error) {
	h.mu.Lock()
	s := h.sessions[session]
	var on []faultOn
	if s != nil {
		on = slices.Clone(s.on)
	}
	h.mu.Unlock()
	var match func(faultOn) bool
	switch {
	case args[0] == "resume":
		if len(args) != 2 {
			return "", fmt.Errorf("fault resume takes HOST")
		}
		match = func(f faultOn) bool {
			return f.Spec.Kind == hypervisor.FaultPause && (f.Spec.Hosts[0] == args[1] || strings.SplitN(f.Spec.Hosts[0], ".", 2)[0] == args[1])
		}
		if !slices.ContainsFunc(on, match) {
			return "", fmt.Errorf("%s is not paused", args[1])
		}
	case len(args) == 1 || (len(args) == 2 && args[1] == "all"):
		match = func(faultOn) bool { return true }
	default:
		ids := args[1:]
		for _, id := range ids {
			if !slices.ContainsFunc(on, func(f faultOn) bool { return f.ID == id }) {
				return "", fmt.Errorf("no fault %s is on in this session", id)
			}
		}
		match = func(f faultOn) bool { return slices.Contains(ids, f.ID) }
	}
	healed := h.heal(ctx, session, match, "a script's request")
	return strings.Join(healed, " "), nil
}

// list is the session's faults that are on, one a line.
func (h *FaultHub) list(session int64) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	s := h.sessions[session]
	if s == nil {
		return ""
	}
	for _, f := range s.on {
		fmt.Fprintf(&b, "%s\t%s\tsince %s\tby %s\n", f.ID, f.Spec, f.Since.Format(time.TimeOnly), f.by)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
