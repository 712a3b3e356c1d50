package postgres_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/pgtest"
	"github.com/xrdtest/xrdtest/internal/store/postgres"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// lockHolder returns the backend holding the one-master lock (0: none).
func lockHolder(t *testing.T, admin *pgx.Conn) int {
	t.Helper()
	var pid int
	err := admin.QueryRow(context.Background(), `SELECT coalesce(max(pid), 0) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestPostgresLockWatch: when the connection holding the one-master lock
// dies, the watcher takes the lock again; when another master took it
// meanwhile, WatchLock returns ErrLockLost.
func TestPostgresLockWatch(t *testing.T) {
	url := pgtest.Database(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	watch := func(interval time.Duration) (*postgres.Store, *testutil.SyncBuffer, chan error) {
		st := openPG(t, url, t.TempDir())
		logs := &testutil.SyncBuffer{}
		done := make(chan error, 1)
		wctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		go func() { done <- st.WatchLock(wctx, interval, slog.New(slog.NewTextHandler(logs, nil))) }()
		return st, logs, done
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting: %s", what)
			}
		}
	}

	// The lock's connection dies: the lock is taken again.
	st, logs, done := watch(50 * time.Millisecond)
	old := lockHolder(t, admin)
	if old == 0 {
		t.Fatal("the store holds no advisory lock")
	}
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1, 5000)`, old); err != nil {
		t.Fatal(err)
	}
	waitFor("the lock held again", func() bool { h := lockHolder(t, admin); return h != 0 && h != old })
	waitFor("the log says so", func() bool { return strings.Contains(logs.String(), "one-master lock dropped; the lock is held again") })
	if _, err := postgres.Open(ctx, url, t.TempDir()); err == nil || !strings.Contains(err.Error(), "another master is using this database") {
		t.Errorf("a second master opened the database after the lock was taken again: %v", err)
	}

	// The client side of the connection is gone but its server process
	// lives on with the lock: the watcher ends it and takes the lock.
	old = lockHolder(t, admin)
	postgres.LeakLockConn(st)
	waitFor("the lock held by a new connection", func() bool { h := lockHolder(t, admin); return h != 0 && h != old })
	select {
	case err := <-done:
		t.Fatalf("WatchLock ended: %v", err)
	default:
	}
	st.Close()
	if err := <-done; err != nil {
		t.Errorf("WatchLock after Close: %v", err)
	}

	// Another master takes the lock before the watcher does: WatchLock
	// says the database is lost.
	_, _, done = watch(time.Second)
	adminHolds := func() bool {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	// Each round ends the watcher's connection and tries the lock at once;
	// the watcher, checking every second, may win a round: then again.
	for deadline := time.Now().Add(10 * time.Second); !adminHolds(); {
		if h := lockHolder(t, admin); h != 0 {
			if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1, 5000)`, h); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := admin.Exec(ctx, `SELECT pg_try_advisory_lock($1)`, int64(0x7872647465737431)); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the test could not take the lock from the watcher")
		}
	}
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrLockLost) || !strings.Contains(err.Error(), "another master has the lock now") {
			t.Errorf("WatchLock: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WatchLock did not see the lock taken by another master")
	}
}
