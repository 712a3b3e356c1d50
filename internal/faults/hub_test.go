package faults

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// fakeInjector records the faults set and healed.
type fakeInjector struct {
	mu     sync.Mutex
	n      int
	on     []string
	setLog []string
}

func (f *fakeInjector) SetFault(_ context.Context, cluster string, spec hypervisor.FaultSpec) (hypervisor.Fault, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := fmt.Sprintf("f%d", f.n)
	f.setLog = append(f.setLog, cluster+" "+spec.String())
	if spec.Kind != hypervisor.FaultKill {
		f.on = append(f.on, id)
	}
	return hypervisor.Fault{ID: id, Spec: spec, Since: time.Now()}, nil
}

func (f *fakeInjector) HealFaults(_ context.Context, _ string, ids ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = slices.DeleteFunc(f.on, func(id string) bool { return slices.Contains(ids, id) })
	return nil
}

func (f *fakeInjector) Faults(string) []hypervisor.Fault { return nil }

// TestFaultHubScopes: a fault set in a case is healed after its
// finalize, one set in a suite stage at the session's end; a resent call
// is answered once; hosts are checked against the caller's cluster.
func TestFaultHubScopes(t *testing.T) {
	ctx := context.Background()
	h := NewHub()
	inj := &fakeInjector{}
	var events []string
	h.Begin(1, inj, "", clustersOf(map[string][]string{"c1": {"a.xrd.test", "b.xrd.test"}, "c2": {"x.xrd.test"}}), nil,
		func(m string) { events = append(events, m) })

	h.BeginStage(1, "", "suite_init")
	if id, err := h.Fault(ctx, 1, "a.xrd.test", "r1", []string{"isolate", "b"}); err != nil || id != "f1" {
		t.Fatalf("suite fault: %q, %v", id, err)
	}
	h.BeginStage(1, "case1", "run")
	if id, err := h.Fault(ctx, 1, "b.xrd.test", "r2", []string{"partition", "a", "b"}); err != nil || id != "f2" {
		t.Fatalf("case fault: %q, %v", id, err)
	}
	if id, err := h.Fault(ctx, 1, "b.xrd.test", "r2", []string{"partition", "a", "b"}); err != nil || id != "f2" || inj.n != 2 {
		t.Errorf("resend: %q, %v, %d faults set", id, err, inj.n)
	}
	if _, err := h.Fault(ctx, 1, "a.xrd.test", "r3", []string{"isolate", "x"}); err == nil || !strings.Contains(err.Error(), "cluster c1 has no host x") {
		t.Errorf("a host of another cluster: %v", err)
	}
	if _, err := h.Fault(ctx, 1, "a.xrd.test", "r4", []string{"kill", "b", "xrootd"}); err != nil {
		t.Error(err)
	}
	if list, _ := h.Fault(ctx, 1, "a.xrd.test", "r5", []string{"list"}); strings.Count(list, "\n") != 1 || !strings.Contains(list, "f2\tpartition a.xrd.test b.xrd.test") {
		t.Errorf("list:\n%s", list)
	}
	h.EndCase(ctx, 1, "case1")
	if !slices.Equal(inj.on, []string{"f1"}) {
		t.Errorf("after case1: on %v, want [f1]", inj.on)
	}
	h.EndSession(ctx, 1)
	if len(inj.on) != 0 {
		t.Errorf("after the session: on %v", inj.on)
	}
	joined := strings.Join(events, "\n")
	for _, want := range []string{"fault f2 on, set by b.xrd.test until the end of case case1: partition", "fault f2 healed at the end of case case1",
		"fault f1 healed at the end of the session", "fault f3 done by a.xrd.test: kill b.xrd.test xrootd"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no event %q in:\n%s", want, joined)
		}
	}
	if _, err := h.Fault(ctx, 1, "a.xrd.test", "r6", []string{"list"}); err == nil {
		t.Error("a call after the session ended: no error")
	}
}

// TestFaultHubNoInjector: without a backend that sets faults, a call
// says why, after checking its words.
func TestFaultHubNoInjector(t *testing.T) {
	h := NewHub()
	h.Begin(2, nil, "this master starts no clusters", clustersOf(map[string][]string{"c": {"a.xrd.test"}}), nil, func(string) {})
	if _, err := h.Fault(context.Background(), 2, "a.xrd.test", "r", []string{"pause", "a"}); err == nil || !strings.Contains(err.Error(), "this master starts no clusters") {
		t.Errorf("%v", err)
	}
	if _, err := h.Fault(context.Background(), 2, "a.xrd.test", "r2", []string{"pause"}); err == nil || !strings.Contains(err.Error(), "takes HOST") {
		t.Errorf("%v", err)
	}
	h.EndSession(context.Background(), 2)
}

// clustersOf makes clusters of the given host names, in name order.
func clustersOf(hosts map[string][]string) []*definition.Cluster {
	var out []*definition.Cluster
	for _, name := range slices.Sorted(maps.Keys(hosts)) {
		c := &definition.Cluster{Name: name}
		for _, h := range hosts[name] {
			c.Hosts = append(c.Hosts, &definition.Host{Name: h})
		}
		out = append(out, c)
	}
	return out
}

// TestFaultPlan: the same seed draws the same faults, another seed others;
// every draw is a fault `xrdtest fault` takes.
func TestFaultPlan(t *testing.T) {
	hosts := []string{"a.xrd.test", "b.xrd.test", "c.xrd.test", "d.xrd.test"}
	kinds := []string{"partition", "pause", "kill:xrootd", "loss:30"}
	draw := func(seed int64) []string {
		p := newSchedulePlan(seed, kinds, hosts)
		var out []string
		for range 30 {
			words := p.next()
			spec, err := hypervisor.ParseFault(words)
			if err != nil {
				t.Fatalf("seed %d drew %q: %v", seed, words, err)
			}
			out = append(out, spec.String())
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !slices.Equal(a, b) {
		t.Errorf("seed 7 twice:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Error("seeds 7 and 8 drew the same faults")
	}
	seen := map[string]bool{}
	for _, f := range a {
		seen[strings.Fields(f)[0]] = true
	}
	if len(seen) != len(kinds) {
		t.Errorf("30 draws of 4 kinds drew %v", seen)
	}
}

// TestFaultSchedule: during a stage of a kind the schedule names, faults
// are set one at a time, each healed after its interval, the last when
// the stage ends; none in other stages; the seed is in the events.
func TestFaultSchedule(t *testing.T) {
	h := NewHub()
	inj := &fakeInjector{}
	var mu sync.Mutex
	var events []string
	sched := &definition.FaultSchedule{Seed: 3, Interval: 0.02, During: []string{"run"}, Kinds: []string{"isolate", "pause"}}
	h.Begin(1, inj, "", clustersOf(map[string][]string{"c": {"a.xrd.test", "b.xrd.test"}}), sched, func(m string) {
		mu.Lock()
		events = append(events, m)
		mu.Unlock()
	})
	h.BeginStage(1, "x", "init")
	time.Sleep(60 * time.Millisecond)
	h.EndStage(1)
	if inj.n != 0 {
		t.Fatalf("%d faults set during an init stage", inj.n)
	}
	h.BeginStage(1, "x", "run")
	time.Sleep(150 * time.Millisecond)
	h.EndStage(1)
	inj.mu.Lock()
	n, on := inj.n, len(inj.on)
	inj.mu.Unlock()
	if n < 3 || on != 0 {
		t.Errorf("%d faults set during the run, %d still on after it", n, on)
	}
	h.EndSession(context.Background(), 1)
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(events, "\n")
	if !strings.Contains(joined, "fault schedule: seed 3") || strings.Count(joined, "healed at the end of its interval") < n-1 {
		t.Errorf("events:\n%s", joined)
	}
}
