package master_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/session"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
)

// TestShutdownMidSession: closing the master mid-stage cancels the stage
// on the slaves, records what they reported and ends the session
// interrupted, in bounded time; the next master finds it so and runs
// nothing of it again.
func TestShutdownMidSession(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	pids := filepath.Join(dir, "pids")
	os.MkdirAll(pids, 0o755)
	run := "#!/bin/bash\necho started\necho ran >> " + pids + "/ran.@slavename@\nsleep 600 &\necho $! > " + pids + "/@slavename@\nwait\n"
	m := masterWithRepo(t, state, run, 10*time.Second)
	stopServe := mastertest.Serve(m)
	defer runAgents(t, m, hosts...)()
	ctx := context.Background()
	s := mastertest.StartSession(t, m, "ts")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		a, _ := os.ReadFile(filepath.Join(pids, "h1.xrd.test"))
		b, _ := os.ReadFile(filepath.Join(pids, "h2.xrd.test"))
		if len(a) > 0 && len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("c:run never started")
		}
	}
	start := time.Now()
	stopServe()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	if _, err := m.Manager.Start(ctx, "ts", nil, "test"); !errors.Is(err, session.ErrShuttingDown) {
		t.Errorf("Start after the shutdown: %v, want ErrShuttingDown", err)
	}
	// The scripts were stopped.
	for _, h := range []string{"h1.xrd.test", "h2.xrd.test"} {
		b, _ := os.ReadFile(filepath.Join(pids, h))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		for deadline := time.Now().Add(5 * time.Second); pid > 0 && syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
			if stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(stat), ") Z ") {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: the script's child %d survived the shutdown", h, pid)
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}

	m = masterWithRepo(t, state, run, 10*time.Second)
	defer m.Close()
	d, err := store.Detail(ctx, m.Store, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.SessionInterrupted || d.Reason != "the master shut down during c:run" {
		t.Errorf("session %s: %q, want interrupted during c:run", d.State, d.Reason)
	}
	want := map[string]store.Status{"suite_init": store.StatusPassed, "c:init": store.StatusPassed, "c:run": store.StatusCancelled,
		"c:finalize": store.StatusSkipped, "suite_finalize": store.StatusSkipped}
	for _, st := range d.Stages {
		if len(st.Results) != 2 {
			t.Errorf("%s: %d results", st.Name, len(st.Results))
		}
		for _, r := range st.Results {
			if r.Status != want[st.Name] {
				t.Errorf("%s on %s: %s (%s), want %s", st.Name, r.Slave, r.Status, r.Message, want[st.Name])
			}
		}
	}
	rc, err := m.Store.OpenOutput(s.ID, 2, "h2.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	if string(out) != "started\n" {
		t.Errorf("output of c:run: %q", out)
	}
	for _, h := range []string{"h1.xrd.test", "h2.xrd.test"} {
		if b, _ := os.ReadFile(filepath.Join(pids, "ran."+h)); string(b) != "ran\n" {
			t.Errorf("%s: c:run ran %d times", h, strings.Count(string(b), "ran"))
		}
	}
}

// lostStore is a history whose one-master lock is lost at once.
type lostStore struct{ store.Store }

func (lostStore) WatchLock(context.Context, time.Duration, *slog.Logger) error {
	return fmt.Errorf("store: db: %w: another master has the lock now", store.ErrLockLost)
}

// TestServeStopsWhenTheHistoryIsLost: a master whose database another
// master took stops, saying why.
func TestServeStopsWhenTheHistoryIsLost(t *testing.T) {
	m := mastertest.Open(t, master.Options{Token: token, Log: logger()})
	m.Store = lostStore{m.Store}
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrLockLost) {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the master went on serving without its database")
	}
}
