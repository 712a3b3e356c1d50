package sessiontest

import (
	"context"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
)

type discard struct{}

func (discard) Append(uint64, []byte) error { return nil }

// TestRules: the last matching rule decides; OnFunc's nil leaves the
// stage to the rules before it; no rule: the stage passes.
func TestRules(t *testing.T) {
	s := NewSlaves("a1", "a2", "b1")
	s.On("*", "*:run", Exit(1))
	s.On("a*", "x:run", Exit(2))
	s.OnFunc(func(slave string, cmd session.StageCommand) []Step {
		if slave == "a2" {
			return []Step{Exit(3)}
		}
		return nil
	})
	tests := []struct {
		slave, stage string
		want         store.Status
		code         int
	}{
		{"b1", "x:run", store.StatusFailed, 1},
		{"a1", "x:run", store.StatusFailed, 2},
		{"a2", "x:run", store.StatusFailed, 3},
		{"b1", "x:init", store.StatusPassed, 0},
	}
	for _, tt := range tests {
		o := s.RunStage(context.Background(), tt.slave, session.StageCommand{ID: tt.slave + tt.stage, StageName: tt.stage}, discard{})
		if o.Status != tt.want || o.ExitCode == nil || *o.ExitCode != tt.code {
			t.Errorf("%s on %s: %s %v, want %s exit %d", tt.stage, tt.slave, o.Status, o.ExitCode, tt.want, tt.code)
		}
	}
}

// TestConnections: a slave not connected loses its stages at once and is
// missing for WaitForSlaves; one busy with a stage is not idle.
func TestConnections(t *testing.T) {
	s := NewSlaves("a", "b")
	s.Disconnect("b")
	if o := s.RunStage(context.Background(), "b", session.StageCommand{ID: "1", StageName: "x"}, discard{}); o.Status != store.StatusLost {
		t.Errorf("stage on a disconnected slave: %s", o.Status)
	}
	release := make(chan struct{})
	s.On("a", "x", BlockUntil(release))
	go s.RunStage(context.Background(), "a", session.StageCommand{ID: "2", Session: 7, StageName: "x"}, discard{})
	s.Await(t, Event{Kind: Started, Slave: "a"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	var connected []string
	missing := s.WaitForSlaves(ctx, []string{"a", "b"}, func(n string) { connected = append(connected, n) })
	if len(missing) != 2 || missing[0] != "a (busy with x of session 7)" || missing[1] != "b" || len(connected) != 1 {
		t.Errorf("missing %q, connected %q", missing, connected)
	}
	close(release)
	s.Await(t, Event{Kind: Ended, Slave: "a"})
	s.Connect("b")
	if missing := s.WaitForSlaves(context.Background(), []string{"a", "b"}, nil); missing != nil {
		t.Errorf("missing %q", missing)
	}
}
