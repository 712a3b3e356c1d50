// Package backendtest is the behaviour suite of hypervisor.Backend: every
// backend runs it from its own tests (the local backend in a plain go
// test, libvirt from its integration test against a private libvirtd) and
// so keeps the contract documented on hypervisor.Backend.
package backendtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// Config is a backend under test.
type Config struct {
	// Backend runs no cluster when Run starts.
	Backend hypervisor.Backend
	// Spec returns the spec of a small cluster called name (lower case
	// letters and digits) that can run beside the others Spec returned:
	// its own network and addresses. It is called from several goroutines
	// at once.
	Spec func(name string) hypervisor.ClusterSpec
}

// Run checks the backend against the contract, one subtest per rule. It
// stops every cluster it started, also when a check fails.
func Run(t *testing.T, cfg Config) {
	s := &suite{Config: cfg}
	t.Run("StartListStop", s.startListStop)
	t.Run("StopNeverStarted", s.stopNeverStarted)
	t.Run("CancelledStart", s.cancelledStart)
	t.Run("CancelledStop", s.cancelledStop)
	t.Run("Parallel", s.parallel)
	t.Run("Capacity", s.capacity)
}

type suite struct{ Config }

// start starts the cluster called name and has it stopped at the end of
// the test.
func (s *suite) start(t *testing.T, name string) {
	t.Helper()
	t.Cleanup(func() {
		if err := s.Backend.StopCluster(context.Background(), name); err != nil {
			t.Errorf("cleanup: stop %s: %v", name, err)
		}
	})
	if err := s.Backend.StartCluster(context.Background(), s.Spec(name)); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
}

// listed checks that Running and Clusters agree on whether cluster runs.
func (s *suite) listed(t *testing.T, cluster string, want bool) {
	t.Helper()
	running, inList := s.Backend.Running(cluster), slices.Contains(s.Backend.Clusters(), cluster)
	if running != want || inList != want {
		t.Errorf("cluster %s: Running %v, in Clusters %v (%v), want %v", cluster, running, inList, s.Backend.Clusters(), want)
	}
}

// startListStop: a started cluster is listed; a second start is refused
// and leaves it running; a stop unlists it; a second stop is a no-op.
func (s *suite) startListStop(t *testing.T) {
	const name = "btlist"
	ctx := context.Background()
	s.listed(t, name, false)
	s.start(t, name)
	s.listed(t, name, true)

	err := s.Backend.StartCluster(ctx, s.Spec(name))
	if !errors.Is(err, hypervisor.ErrAlreadyStarted) {
		t.Errorf("second start: %v, want ErrAlreadyStarted", err)
	}
	s.listed(t, name, true)

	for i := range 2 {
		if err := s.Backend.StopCluster(ctx, name); err != nil {
			t.Errorf("stop %d: %v", i+1, err)
		}
		s.listed(t, name, false)
	}
}

// stopNeverStarted: a stop of a cluster the backend never saw succeeds.
func (s *suite) stopNeverStarted(t *testing.T) {
	const name = "btnever"
	if err := s.Backend.StopCluster(context.Background(), name); err != nil {
		t.Errorf("stop: %v", err)
	}
	s.listed(t, name, false)
}

// cancelledStart: a start with a cancelled context fails with the
// context's error and leaves nothing listed.
func (s *suite) cancelledStart(t *testing.T) {
	const name = "btcancel"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t.Cleanup(func() { s.Backend.StopCluster(context.Background(), name) })
	if err := s.Backend.StartCluster(ctx, s.Spec(name)); !errors.Is(err, context.Canceled) {
		t.Errorf("start: %v, want context.Canceled", err)
	}
	s.listed(t, name, false)
}

// cancelledStop: a stop with a cancelled context either finishes or gives
// up with the context's error, leaving the cluster listed for a stop that
// finishes.
func (s *suite) cancelledStop(t *testing.T) {
	const name = "btstop"
	s.start(t, name)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	switch err := s.Backend.StopCluster(ctx, name); {
	case err == nil:
		s.listed(t, name, false)
	case errors.Is(err, context.Canceled):
		t.Logf("stop gave up: %v", err)
		s.listed(t, name, true)
	default:
		t.Errorf("stop: %v, want nil or context.Canceled", err)
	}
	if err := s.Backend.StopCluster(context.Background(), name); err != nil {
		t.Errorf("stop after the cancelled one: %v", err)
	}
	s.listed(t, name, false)
}

// parallel: two clusters start and stop at the same time, listed while
// they run, and the listing is answered meanwhile.
func (s *suite) parallel(t *testing.T) {
	names := []string{"btpar1", "btpar2"}
	each := func(f func(name string)) {
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Go(func() { f(name) })
			wg.Go(func() { s.Backend.Running(name); s.Backend.Clusters() })
		}
		wg.Wait()
	}
	for _, name := range names {
		t.Cleanup(func() { s.Backend.StopCluster(context.Background(), name) })
	}
	each(func(name string) {
		if err := s.Backend.StartCluster(context.Background(), s.Spec(name)); err != nil {
			t.Errorf("start %s: %v", name, err)
		}
	})
	for _, name := range names {
		s.listed(t, name, true)
	}
	each(func(name string) {
		if err := s.Backend.StopCluster(context.Background(), name); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	})
	for _, name := range names {
		s.listed(t, name, false)
	}
}

// capacity: some memory, no more free than there is, some CPUs.
func (s *suite) capacity(t *testing.T) {
	c, err := s.Backend.Capacity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryKiB <= 0 || c.FreeMemoryKiB < 0 || c.FreeMemoryKiB > c.MemoryKiB || c.CPUs <= 0 {
		t.Errorf("capacity %+v: want memory > 0, 0 <= free <= memory, CPUs > 0", c)
	}
}
