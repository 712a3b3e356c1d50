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
	"github.com/xrdtest/xrdtest/internal/proctree"
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
			waitFiles(t, filepath.Join(dir, "c", "shared", "ready.*"), 2)
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

// TestStopLeavesOtherBackends: a stop kills what the cluster's slaves left
// running by their marker, and that marker is the cluster's folder: a
// cluster of the same name on another backend (another quickstart, a test
// run beside this one) keeps running.
func TestStopLeavesOtherBackends(t *testing.T) {
	dir := t.TempDir()
	slave := filepath.Join(dir, "slave")
	if err := os.WriteFile(slave, []byte("#!/bin/sh\nsetsid sleep 600 &\ntouch \"$XRDTEST_SHARED/ready\"\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := hypervisor.ClusterSpec{Cluster: &definition.Cluster{Name: "same", Hosts: []*definition.Host{{Name: "h1.same.xrd.test"}}},
		Master: hypervisor.MasterEndpoint{Port: 1}}
	var bs []*Backend
	for _, sub := range []string{"one", "two"} {
		b := &Backend{Binary: slave, Dir: filepath.Join(dir, sub), StopGrace: 5 * time.Second, FunctionsPath: filepath.Join(dir, "functions.sh"),
			Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
		if err := b.StartCluster(t.Context(), spec); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.StopCluster(context.Background(), "same") })
		bs = append(bs, b)
	}
	for _, sub := range []string{"one", "two"} {
		waitFiles(t, filepath.Join(dir, sub, "same", "shared", "ready"), 1)
	}
	if err := bs[0].StopCluster(t.Context(), "same"); err != nil {
		t.Fatal(err)
	}
	if n := proctree.KillMarked(bs[0].clusterMarker("same"), time.Second); n != 0 {
		t.Errorf("%d processes of the stopped cluster left", n)
	}
	procs, _ := bs[1].clusters.Get("same")
	select {
	case <-procs[0].done:
		t.Error("the other backend's slave was stopped too")
	default:
	}
	if n := proctree.KillMarked(bs[1].clusterMarker("same"), time.Second); n != 2 {
		t.Errorf("the other backend's cluster has %d processes, want 2 (slave and its background child)", n)
	}
}

// waitFiles waits until the slave stand-ins have written n files
// matching pattern.
func waitFiles(t *testing.T, pattern string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if found, _ := filepath.Glob(pattern); len(found) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d files %s: the slaves did not get ready", n, pattern)
		}
	}
}
