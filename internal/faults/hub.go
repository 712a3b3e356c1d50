// Package faults carries out the faults of the sessions: the scripts'
// `xrdtest fault` calls and a suite's seeded fault schedule (ts.faults),
// set through the backend that runs the cluster
// (hypervisor.FaultInjector), and healed when their scope ends (their
// case, the session). Each change is a session event, which Event reads
// back (the session timeline). The session package opens and closes the
// scopes as its stages go; the daemons pass it the scripts' calls.
package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// Hub answers the scripts' `xrdtest fault` calls: it sets faults on
// the hosts of the calling slave's cluster through the backend that runs
// it (hypervisor.FaultInjector), and heals each when its scope ends: the
// case it was set in after its finalize, a suite stage's at the session's
// end, which also heals everything left. Every change is a session event.
type Hub struct {
	mu       sync.Mutex
	sessions map[int64]*scope
}

// NewHub returns a hub with no session.
func NewHub() *Hub { return &Hub{sessions: map[int64]*scope{}} }

type scope struct {
	inj      hypervisor.FaultInjector // nil: why says why not
	why      string
	clusters map[string][]string // cluster -> its host names
	stage    string              // the running stage's case ("" for suite stages)
	// sched is the suite's fault schedule (nil: none), drawn by plan on
	// the hosts of schedCluster; stopSched ends the running stage's.
	sched        *definition.FaultSchedule
	plan         *schedulePlan
	schedCluster string
	stopSched    func()
	on           []active
	calls        map[string]*call // by request id, for resends
	event        func(msg string)
}

// call is a call being answered or answered: a resend after a
// reconnect waits for it and gets its answer; nothing is done twice.
type call struct {
	done chan struct{}
	ans  string
	err  error
}

type active struct {
	hypervisor.Fault
	cluster, cas, by string
}

// Begin opens a session's scope: inj is the backend of its clusters (nil
// with why when it cannot inject faults), clusters their host names in
// the suite's order (the first is the schedule's), sched the suite's
// fault schedule (nil: none), event records a session event.
func (h *Hub) Begin(session int64, inj hypervisor.FaultInjector, why string, clusters []*definition.Cluster,
	sched *definition.FaultSchedule, event func(string)) {
	if h == nil {
		return
	}
	s := &scope{inj: inj, why: why, clusters: map[string][]string{}, calls: map[string]*call{}, event: event}
	for _, c := range clusters {
		for _, host := range c.Hosts {
			s.clusters[c.Name] = append(s.clusters[c.Name], host.Name)
		}
	}
	if sched != nil && len(clusters) > 0 {
		seed := sched.Seed
		if seed == 0 {
			seed = rand.Int64N(1<<31) + 1
		}
		s.sched, s.schedCluster = sched, clusters[0].Name
		s.plan = newSchedulePlan(seed, sched.Kinds, s.clusters[s.schedCluster])
		event(fmt.Sprintf("fault schedule: seed %d, a fault every %v on cluster %s during %s stages: %s", seed,
			time.Duration(sched.Interval*float64(time.Second)), s.schedCluster, strings.Join(sched.During, ", "), strings.Join(sched.Kinds, ", ")))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[session] = s
}

// BeginStage says which case the session's stages now belong to, and
// starts the schedule's faults for a stage of a kind it names.
func (h *Hub) BeginStage(session int64, cas, kind string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[session]
	if s == nil {
		return
	}
	s.stage = cas
	if s.sched == nil || !slices.Contains(s.sched.During, kind) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopSched = func() { cancel(); <-done }
	go func() {
		defer close(done)
		h.runSchedule(ctx, session, s)
	}()
}

// EndStage stops the schedule's faults of the stage that ended, healing
// the one on.
func (h *Hub) EndStage(session int64) {
	if h == nil {
		return
	}
	h.mu.Lock()
	s := h.sessions[session]
	var stop func()
	if s != nil {
		stop, s.stopSched = s.stopSched, nil
	}
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// runSchedule sets the plan's next fault, keeps it on for the interval
// (or until ctx ends), heals it, and goes on until ctx ends.
func (h *Hub) runSchedule(ctx context.Context, session int64, s *scope) {
	every := time.Duration(s.sched.Interval * float64(time.Second))
	for ctx.Err() == nil {
		h.mu.Lock()
		words := s.plan.next()
		h.mu.Unlock()
		id, err := h.set(ctx, session, s.schedCluster, "the fault schedule", words)
		if err != nil && ctx.Err() == nil {
			s.event(fmt.Sprintf("fault schedule: %s not set: %v", strings.Join(words, " "), err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
		if id != "" {
			h.heal(context.Background(), session, func(f active) bool { return f.ID == id }, "the end of its interval")
		}
	}
}

// EndCase heals the faults set in case cas (its finalize has ended).
func (h *Hub) EndCase(ctx context.Context, session int64, cas string) {
	h.heal(ctx, session, func(f active) bool { return f.cas == cas }, "the end of case "+cas)
}

// EndSession heals every fault the session left on and closes it.
func (h *Hub) EndSession(ctx context.Context, session int64) {
	if h == nil {
		return
	}
	h.EndStage(session)
	h.heal(ctx, session, func(active) bool { return true }, "the end of the session")
	h.mu.Lock()
	delete(h.sessions, session)
	h.mu.Unlock()
}

// heal heals the session's faults that match, recording each.
func (h *Hub) heal(ctx context.Context, session int64, match func(active) bool, why string) []string {
	if h == nil {
		return nil
	}
	// The faults are taken out under the lock and healed without it: a
	// heal through a hypervisor daemon takes a while, and other sessions'
	// calls go on meanwhile.
	h.mu.Lock()
	s := h.sessions[session]
	if s == nil {
		h.mu.Unlock()
		return nil
	}
	var todo []active
	kept := s.on[:0]
	for _, f := range s.on {
		if match(f) {
			todo = append(todo, f)
		} else {
			kept = append(kept, f)
		}
	}
	s.on = kept
	h.mu.Unlock()
	var healed []string
	for _, f := range todo {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		err := s.inj.HealFaults(hctx, f.cluster, f.ID)
		cancel()
		if err != nil {
			s.event(fmt.Sprintf("fault %s (%s) not healed at %s: %v", f.ID, f.Spec, why, err))
			h.mu.Lock()
			s.on = append(s.on, f) // the session's end tries again
			h.mu.Unlock()
			continue
		}
		s.event(healedMsg(f.ID, why, f.Spec, f.Since))
		healed = append(healed, f.ID)
	}
	return healed
}

// Fault answers one `xrdtest fault` call from a script on slave: KIND
// ARGS... sets a fault and answers its id; heal [ID...|all] heals the
// session's faults (all when no id is given); resume HOST heals the pause
// of HOST; list answers the faults on, one a line. id identifies the call:
// a resend after a reconnect gets the first answer, nothing is done twice.
func (h *Hub) Fault(ctx context.Context, session int64, slave, id string, args []string) (string, error) {
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
	call := &call{done: make(chan struct{})}
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
		call.ans, call.err = h.healCall(ctx, session, cluster, args)
	default:
		call.ans, call.err = h.set(ctx, session, cluster, slave, args)
	}
	return call.ans, call.err
}

// set parses and sets a fault on the cluster of the calling slave.
func (h *Hub) set(ctx context.Context, session int64, cluster, slave string, args []string) (string, error) {
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
	if spec.Kind == hypervisor.FaultKill {
		s.event(doneMsg(f.ID, slave, spec))
		return f.ID, nil
	}
	h.mu.Lock()
	s.on = append(s.on, active{Fault: f, cluster: cluster, cas: cas, by: slave})
	h.mu.Unlock()
	scope := "the session's end"
	if cas != "" {
		scope = "the end of case " + cas
	}
	s.event(setMsg(f.ID, slave, scope, spec))
	return f.ID, nil
}

// healCall is `heal [ID...|all]` and `resume HOST`.
func (h *Hub) healCall(ctx context.Context, session int64, cluster string, args []string) (string, error) {
	h.mu.Lock()
	s := h.sessions[session]
	var on []active
	var hosts []string
	if s != nil {
		on, hosts = slices.Clone(s.on), s.clusters[cluster]
	}
	h.mu.Unlock()
	var match func(active) bool
	switch {
	case args[0] == "resume":
		if len(args) != 2 {
			return "", fmt.Errorf("fault resume takes HOST")
		}
		// The host as a fault names it: short name or FQDN resolved.
		host := hypervisor.FaultSpec{Kind: "resume", Hosts: []string{args[1]}}
		if err := host.ResolveHosts(cluster, hosts); err != nil {
			return "", err
		}
		match = func(f active) bool {
			return f.Spec.Kind == hypervisor.FaultPause && f.Spec.Hosts[0] == host.Hosts[0]
		}
		if !slices.ContainsFunc(on, match) {
			return "", fmt.Errorf("%s is not paused", args[1])
		}
	case len(args) == 1 || (len(args) == 2 && args[1] == "all"):
		match = func(active) bool { return true }
	default:
		ids := args[1:]
		for _, id := range ids {
			if !slices.ContainsFunc(on, func(f active) bool { return f.ID == id }) {
				return "", fmt.Errorf("no fault %s is on in this session", id)
			}
		}
		match = func(f active) bool { return slices.Contains(ids, f.ID) }
	}
	healed := h.heal(ctx, session, match, "a script's request")
	return strings.Join(healed, " "), nil
}

// list is the session's faults that are on, one a line.
func (h *Hub) list(session int64) string {
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

// schedulePlan draws a fault schedule's faults: a kind, then its hosts (a
// partition: a random part of the hosts against the rest), from a seeded
// generator, so that the same seed and hosts give the same sequence.
type schedulePlan struct {
	rng   *rand.Rand
	kinds []string
	hosts []string
}

func newSchedulePlan(seed int64, kinds, hosts []string) *schedulePlan {
	return &schedulePlan{rng: rand.New(rand.NewPCG(uint64(seed), 0x78726474657374)), kinds: kinds, hosts: hosts}
}

// next is the words of the next fault, as `xrdtest fault` takes them.
func (p *schedulePlan) next() []string {
	name, arg, _ := strings.Cut(p.kinds[p.rng.IntN(len(p.kinds))], ":")
	if name == hypervisor.FaultPartition && len(p.hosts) > 1 {
		perm := p.rng.Perm(len(p.hosts))
		n := 1 + p.rng.IntN(len(p.hosts)-1)
		var a, b []string
		for i, j := range perm {
			if i < n {
				a = append(a, p.hosts[j])
			} else {
				b = append(b, p.hosts[j])
			}
		}
		return []string{name, strings.Join(a, ","), strings.Join(b, ",")}
	}
	host := p.hosts[p.rng.IntN(len(p.hosts))]
	if arg == "" {
		return []string{name, host}
	}
	return []string{name, host, arg}
}
