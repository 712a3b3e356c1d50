package session

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestAwaitSlaves: the missing are named (busy ones with their stage),
// connected is told once per slave, a change wakes the wait.
func TestAwaitSlaves(t *testing.T) {
	var mu sync.Mutex
	states := map[string]SlaveState{"a": {Connected: true}, "b": {Connected: true, Busy: "x:run of session 1"}}
	changed := make(chan struct{})
	snapshot := func(names []string) ([]SlaveState, <-chan struct{}) {
		mu.Lock()
		defer mu.Unlock()
		out := make([]SlaveState, len(names))
		for i, n := range names {
			out[i] = states[n]
		}
		return out, changed
	}
	var came []string
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	missing := AwaitSlaves(ctx, []string{"a", "b", "c"}, func(s string) { came = append(came, s) }, snapshot, 0)
	if want := []string{"b (busy with x:run of session 1)", "c"}; !slices.Equal(missing, want) {
		t.Errorf("missing %q, want %q", missing, want)
	}
	if !slices.Equal(came, []string{"a", "b"}) {
		t.Errorf("connected %q", came)
	}

	go func() {
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		states["b"], states["c"] = SlaveState{Connected: true}, SlaveState{Connected: true}
		old := changed
		changed = make(chan struct{})
		mu.Unlock()
		close(old)
	}()
	came = nil
	if missing := AwaitSlaves(context.Background(), []string{"a", "b", "c"}, func(s string) { came = append(came, s) }, snapshot, 0); missing != nil {
		t.Errorf("missing %q after the change", missing)
	}
	if !slices.Equal(came, []string{"a", "b", "c"}) {
		t.Errorf("connected %q, want each once", came)
	}
}
