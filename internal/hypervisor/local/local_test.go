package local

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/backendtest"
)

// TestBackend runs the backend contract with a stand-in for the slave
// binary that runs until it is stopped.
func TestBackend(t *testing.T) {
	dir := t.TempDir()
	slave := filepath.Join(dir, "slave")
	if err := os.WriteFile(slave, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := &Backend{Binary: slave, Dir: filepath.Join(dir, "machines"), StopGrace: 5 * time.Second,
		FunctionsPath: filepath.Join(dir, "functions.sh"), Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	backendtest.Run(t, backendtest.Config{Backend: b, Spec: func(name string) hypervisor.ClusterSpec {
		return hypervisor.ClusterSpec{
			Cluster: &definition.Cluster{Name: name, Hosts: []*definition.Host{{Name: "h1." + name + ".xrd.test"}, {Name: "h2." + name + ".xrd.test"}}},
			Master:  hypervisor.MasterEndpoint{Port: 1},
		}
	}})
}

// TestStopStubbornSlaves: slaves that ignore SIGTERM are killed when the
// grace period is over, each reported, or at once and silently when the
// caller cannot wait.
func TestStopStubbornSlaves(t *testing.T) {
	for _, tt := range []struct {
		name    string
		cancel  bool
		wantErr string
	}{
		{"grace", false, "slave h1.c.xrd.test did not stop within 200ms: killed\nslave h2.c.xrd.test did not stop within 200ms: killed"},
		{"cancelled", true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			slave := filepath.Join(dir, "slave")
			if err := os.WriteFile(slave, []byte("#!/bin/sh\ntrap '' TERM\ntouch \"$XRDTEST_SHARED/ready.$$\"\nexec sleep 600\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			b := &Backend{Binary: slave, Dir: dir, StopGrace: 200 * time.Millisecond, FunctionsPath: filepath.Join(dir, "functions.sh"),
				Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
			spec := hypervisor.ClusterSpec{Cluster: &definition.Cluster{Name: "c",
				Hosts: []*definition.Host{{Name: "h1.c.xrd.test"}, {Name: "h2.c.xrd.test"}}}, Master: hypervisor.MasterEndpoint{Port: 1}}
			if err := b.StartCluster(t.Context(), spec); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if ready, _ := filepath.Glob(filepath.Join(dir, "c", "shared", "ready.*")); len(ready) == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the slaves did not get ready")
				}
			}
			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			t0 := time.Now()
			err := b.StopCluster(ctx, "c")
			if got := fmt.Sprint(err); (err == nil) != (tt.wantErr == "") || (err != nil && got != tt.wantErr) {
				t.Errorf("stop: %v, want %q", err, tt.wantErr)
			}
			if took := time.Since(t0); took > 5*time.Second {
				t.Errorf("stop took %v", took)
			}
			if b.Running("c") {
				t.Error("still running")
			}
		})
	}
}
