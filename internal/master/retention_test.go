package master_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/slave"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// waitFor polls cond (every 10 ms, for at most 20 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func countSessions(t *testing.T, st store.Store) int {
	t.Helper()
	_, n, err := st.Sessions(context.Background(), store.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRetentionAtStart: the master prunes the history it finds as soon as
// it serves, by age, logging what it deleted: the sessions older than
// max_age, and the outputs of those older than outputs_max_age.
func TestRetentionAtStart(t *testing.T) {
	ctx := context.Background()
	state := filepath.Join(t.TempDir(), "state")
	st := sqlitetest.Open(t, filepath.Join(state, "history"))
	now := time.Now()
	var old, all []int64
	for i, age := range []time.Duration{100 * 24 * time.Hour, 40 * 24 * time.Hour, 31 * 24 * time.Hour, 29 * 24 * time.Hour, time.Hour} {
		se := &store.Session{Suite: "ts", State: store.SessionPassed, Created: now.Add(-age)}
		if err := st.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
		w, err := st.OutputWriter(se.ID, 0, "h1.xrd.test")
		if err != nil {
			t.Fatal(err)
		}
		w.Append(1, []byte("out"))
		w.Close()
		if i < 3 {
			old = append(old, se.ID)
		}
		all = append(all, se.ID)
	}
	st.Close()

	m := masterWithRepoOpts(t, state, "#!/bin/bash\n", time.Second, func(o *master.Options) {
		o.Retention = store.Retention{MaxAge: 30 * 24 * time.Hour, OutputsMaxAge: 7 * 24 * time.Hour}
	})
	defer mastertest.Serve(m)()
	waitFor(t, "the old sessions pruned", func() bool { return countSessions(t, m.Store) == 2 })
	for _, id := range old {
		if _, err := m.Store.OpenOutput(id, 0, "h1.xrd.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("output of pruned session %d: %v", id, err)
		}
	}
	waitFor(t, "the log lines", func() bool {
		return strings.Contains(logs.String(), `msg="retention: deleted finished sessions" sessions=3 max_age=720h0m0s max_sessions=0 took=`) &&
			strings.Contains(logs.String(), `msg="retention: deleted outputs and logs of finished sessions" sessions=1 outputs_max_age=168h0m0s took=`)
	})
	// 29 days old: kept, without its output; an hour old: whole.
	if s, err := m.Store.Session(ctx, all[3]); err != nil || s.State != store.SessionPassed {
		t.Errorf("session of 29 days: %+v, %v", s, err)
	}
	if _, err := m.Store.OpenOutput(all[3], 0, "h1.xrd.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("output of the session of 29 days: %v", err)
	}
	if f, err := m.Store.OpenOutput(all[4], 0, "h1.xrd.test"); err != nil {
		t.Errorf("output of the session of an hour: %v", err)
	} else {
		f.Close()
	}
}

// TestRetentionWhileSessionsRun prunes every few milliseconds, keeping one
// session, while three sessions started together run (or wait for the
// cluster): the older ones, queued or running, are beyond the limit but
// must not be deleted; each runs to its end and passes, and only the last
// one is left.
func TestRetentionWhileSessionsRun(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	m := masterWithRepoOpts(t, state, "#!/bin/bash\nfor i in $(seq 20); do echo line $i; sleep 0.01; done\n", 10*time.Second, func(o *master.Options) {
		o.Retention = store.Retention{MaxSessions: 1, Interval: 5 * time.Millisecond}
	})
	// The final states, as the sessions end: a finished session may be
	// pruned before Manager.Wait could read it back.
	var mu sync.Mutex
	final := map[int64]store.SessionState{}
	ended := m.Manager.Ended
	m.Manager.Ended = func(s *store.Session, suite *definition.Suite) {
		mu.Lock()
		final[s.ID] = s.State
		mu.Unlock()
		ended(s, suite)
	}
	defer mastertest.Serve(m)()
	defer runAgents(t, m, hosts...)()
	ctx := context.Background()
	var ids []int64
	for range 3 {
		s := mastertest.StartSession(t, m, "ts")
		ids = append(ids, s.ID)
	}
	waitFor(t, "the sessions to end", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(final) == len(ids)
	})
	for _, id := range ids {
		if final[id] != store.SessionPassed {
			t.Errorf("session %d under pruning ended %q", id, final[id])
		}
	}
	waitFor(t, "all but the last session pruned", func() bool { return countSessions(t, m.Store) == 1 })
	if _, err := m.Store.Session(ctx, ids[2]); err != nil {
		t.Errorf("the newest session: %v", err)
	}
	if _, err := m.Store.OpenOutput(ids[0], 2, "h1.xrd.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("output of the pruned first session: %v", err)
	}
}

// TestSlaveWorkRetention: a slave deletes old session work directories at
// start, and never the directory of the session it is running, however
// old it looks.
func TestSlaveWorkRetention(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	m := masterWithRepoOpts(t, state, "#!/bin/bash\ntouch running\nwhile [ ! -e go ]; do sleep 0.02; done\n", 10*time.Second)
	defer mastertest.Serve(m)()
	month := 30 * 24 * time.Hour
	old := func(p string) {
		t.Helper()
		for _, q := range []string{filepath.Join(p, ".xrdtest"), p} {
			if err := os.Chtimes(q, time.Now().Add(-month), time.Now().Add(-month)); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	}
	cfg := agentConfig(t, m, "h1.xrd.test")
	cfg.WorkRetention = slave.WorkRetention{MaxAge: 2 * time.Hour, Interval: 5 * time.Millisecond}
	var h1log testutil.SyncBuffer
	cfg.Log = slog.New(slog.NewTextHandler(&h1log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stale := filepath.Join(cfg.WorkDir, "session-999")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	old(stale)
	h2 := agentConfig(t, m, "h2.xrd.test")
	for _, c := range []slave.Config{cfg, h2} {
		stop, errc := mastertest.RunSlave(c)
		defer func() { stop(); <-errc }()
	}
	waitFor(t, "the stale work directory deleted", func() bool { _, err := os.Stat(stale); return os.IsNotExist(err) })

	ctx := context.Background()
	s := mastertest.StartSession(t, m, "ts")
	dirs := []string{filepath.Join(cfg.WorkDir, fmt.Sprintf("session-%d", s.ID)), filepath.Join(h2.WorkDir, fmt.Sprintf("session-%d", s.ID))}
	waitFor(t, "the run stage", func() bool { _, err := os.Stat(filepath.Join(dirs[0], "running")); return err == nil })
	old(dirs[0])
	checks := strings.Count(h1log.String(), "session work directories checked")
	waitFor(t, "three more checks", func() bool { return strings.Count(h1log.String(), "session work directories checked") >= checks+3 })
	if _, err := os.Stat(filepath.Join(dirs[0], "running")); err != nil {
		t.Fatalf("the work directory of the running session: %v", err)
	}
	for _, d := range dirs {
		waitFor(t, "the run stage on both slaves", func() bool { _, err := os.Stat(filepath.Join(d, "running")); return err == nil })
		if err := os.WriteFile(filepath.Join(d, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := m.Manager.Wait(ctx, s.ID)
	if err != nil || s.State != store.SessionPassed {
		t.Fatalf("session: %v %+v", err, s)
	}
	if !strings.Contains(h1log.String(), "old session work directories deleted") {
		t.Errorf("no log of the deletion:\n%s", h1log.String())
	}
}
