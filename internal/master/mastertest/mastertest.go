// Package mastertest opens and serves masters for tests, on loopback,
// and runs in-process slaves against them: the set-up the tests of the
// master, its web port, the API contract and the commands share.
package mastertest

import (
	"cmp"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/slave"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Open opens a master for t, failing t if it cannot. What opts leaves
// zero every test master has: a state folder of its own (t.TempDir()),
// the daemon and web ports on 127.0.0.1 chosen by the kernel (never all
// addresses), version "test", and a logger that discards.
func Open(t testing.TB, opts master.Options) *master.Master {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	opts.DaemonAddr = cmp.Or(opts.DaemonAddr, "127.0.0.1:0")
	opts.WebAddr = cmp.Or(opts.WebAddr, "127.0.0.1:0")
	opts.Version = cmp.Or(opts.Version, "test")
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	m, err := master.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Serve serves m in the background until the returned stop is called;
// stop waits for Serve to return, which closes m.
func Serve(m *master.Master) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Serve(ctx) }()
	return func() { cancel(); <-done }
}

// Start opens a master for t (see Open) and serves it until t ends.
func Start(t testing.TB, opts master.Options) *master.Master {
	t.Helper()
	m := Open(t, opts)
	t.Cleanup(Serve(m))
	return m
}

// StartSession starts a session of suite on m, triggered by "test"; an
// error fails t.
func StartSession(t testing.TB, m *master.Master, suite string) *store.Session {
	t.Helper()
	s, err := m.Manager.Start(context.Background(), suite, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Run starts a session of suite on m, triggered by "test", waits at most
// timeout for it to end and returns it with its stages; anything else
// fails t.
func Run(t testing.TB, m *master.Master, suite string, timeout time.Duration) *store.SessionDetail {
	t.Helper()
	return Wait(t, m, StartSession(t, m, suite).ID, timeout)
}

// Wait waits at most timeout for session id of m to end and returns it
// with its stages; anything else fails t.
func Wait(t testing.TB, m *master.Master, id int64, timeout time.Duration) *store.SessionDetail {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := m.Manager.Wait(ctx, id); err != nil {
		t.Fatal(err)
	}
	d, err := store.Detail(ctx, m.Store, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Settings are the sessions of a test master: a minute per stage, a
// second for a cancelled stage to stop, slaves awaited for slaveWait.
func Settings(slaveWait time.Duration) session.Settings {
	return session.Settings{StageTimeout: time.Minute, KillGrace: time.Second, SlaveWait: slaveWait}
}

// SlaveConfig is an in-process slave of m named name: its folders under
// dir, enrolling with token and m's CA fingerprint, reconnecting quickly.
func SlaveConfig(m *master.Master, dir, name, token string, log *slog.Logger) slave.Config {
	return slave.Config{
		Master: m.DaemonAddr().String(), Name: name, StateDir: filepath.Join(dir, "state"), WorkDir: filepath.Join(dir, "work"),
		FunctionsPath: filepath.Join(dir, "functions.sh"), Token: token, Pin: pki.PinFingerprint(m.CA.Fingerprint()), HavePin: true,
		Version: "test", Log: log, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
}

// RunSlave runs a slave with cfg in the background. stop ends it; errc
// then gives what its Run returned.
func RunSlave(cfg slave.Config) (stop func(), errc <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- slave.New(cfg).Run(ctx) }()
	return cancel, ch
}
