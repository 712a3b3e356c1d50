package session

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
	h := NewFaultHub()
	inj := &fakeInjector{}
	var events []string
	h.begin(1, inj, "", map[string][]string{"c1": {"a.xrd.test", "b.xrd.test"}, "c2": {"x.xrd.test"}}, func(m string) { events = append(events, m) })

	h.beginStage(1, "") // suite_init
	if id, err := h.Fault(ctx, 1, "a.xrd.test", "r1", []string{"isolate", "b"}); err != nil || id != "f1" {
		t.Fatalf("suite fault: %q, %v", id, err)
	}
	h.beginStage(1, "case1")
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
	h.endCase(ctx, 1, "case1")
	if !slices.Equal(inj.on, []string{"f1"}) {
		t.Errorf("after case1: on %v, want [f1]", inj.on)
	}
	h.endSession(ctx, 1)
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
	h := NewFaultHub()
	h.begin(2, nil, "this master starts no clusters", map[string][]string{"c": {"a.xrd.test"}}, func(string) {})
	if _, err := h.Fault(context.Background(), 2, "a.xrd.test", "r", []string{"pause", "a"}); err == nil || !strings.Contains(err.Error(), "this master starts no clusters") {
		t.Errorf("%v", err)
	}
	if _, err := h.Fault(context.Background(), 2, "a.xrd.test", "r2", []string{"pause"}); err == nil || !strings.Contains(err.Error(), "takes HOST") {
		t.Errorf("%v", err)
	}
	h.endSession(context.Background(), 2)
}
