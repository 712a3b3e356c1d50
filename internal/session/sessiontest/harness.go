package sessiontest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
)

// Harness is a session.Manager wired to simulated slaves, a sync hub, a
// fake clock and a SQLite store in a t.TempDir(): whole sessions run in
// milliseconds, without processes or gRPC.
type Harness struct {
	T       testing.TB
	Manager *session.Manager
	Slaves  *Slaves
	Hub     *session.SyncHub
	Clock   *Clock
	Store   store.Store
	// Dir is the store's directory: a test opens it again to play the
	// next start of the master.
	Dir  string
	Defs *definition.Set
}

// New returns a harness whose Manager runs the suites, with every machine
// of them connected and idle. Change the Manager's Settings (StageTimeout
// 1m, KillGrace 1s, SlaveWait 10s, web port 8080 over http) and the
// Slaves' rules before starting sessions. When the test ends, the harness
// shuts the Manager down and fails the test if a session is still
// running then.
func New(t testing.TB, suites ...*definition.Suite) *Harness {
	t.Helper()
	dir := t.TempDir()
	st := sqlitetest.Open(t, dir)
	var machines []string
	for _, s := range suites {
		for _, m := range s.Machines {
			if !slices.Contains(machines, m) {
				machines = append(machines, m)
			}
		}
	}
	h := &Harness{T: t, Slaves: NewSlaves(machines...), Hub: session.NewSyncHub(), Clock: NewClock(), Store: st, Dir: dir,
		Defs: &definition.Set{Suites: suites}}
	h.Slaves.Hub, h.Slaves.Clock = h.Hub, h.Clock
	h.Manager = &session.Manager{
		Store: st, Slaves: h.Slaves, Sync: h.Hub, Clock: h.Clock,
		Definitions: func() *definition.Set { return h.Defs },
		Settings:    session.Settings{StageTimeout: time.Minute, KillGrace: time.Second, SlaveWait: 10 * time.Second, WebPort: 8080, WebProto: "http"},
		Log:         Logger(t),
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), awaitLimit)
		defer cancel()
		if !h.Manager.Shutdown(ctx) {
			t.Errorf("sessions still running %s after the test", awaitLimit)
		}
	})
	return h
}

// UseClusters makes the Manager start and stop the suites' clusters
// (physical machines, with no clusters, are the default): it adds the
// clusters to the definitions and returns the Clusters backend. Their
// hosts' slaves are disconnected until their cluster starts.
func (h *Harness) UseClusters(clusters ...*definition.Cluster) *Clusters {
	c := &Clusters{Slaves: h.Slaves}
	h.Defs.Clusters = append(h.Defs.Clusters, clusters...)
	for _, cl := range clusters {
		for _, host := range cl.Hosts {
			h.Slaves.Disconnect(host.Name)
		}
	}
	h.Manager.Clusters, h.Manager.Tokens = c, &Tokens{}
	return c
}

// Start starts a session of suite (only the given cases, when some are).
func (h *Harness) Start(suite string, cases ...string) *store.Session {
	h.T.Helper()
	s, err := h.Manager.Start(context.Background(), suite, cases, "test")
	if err != nil {
		h.T.Fatalf("start %s: %v", suite, err)
	}
	return s
}

// Wait waits for session id to end and returns its record.
func (h *Harness) Wait(id int64) *store.Session {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), awaitLimit)
	defer cancel()
	s, err := h.Manager.Wait(ctx, id)
	if err != nil {
		h.T.Fatalf("session %d: %v", id, err)
	}
	return s
}

// Run runs a session of suite to its end.
func (h *Harness) Run(suite string, cases ...string) *store.Session {
	h.T.Helper()
	return h.Wait(h.Start(suite, cases...).ID)
}

// Detail returns the session's record with its stages and results.
func (h *Harness) Detail(id int64) *store.SessionDetail {
	h.T.Helper()
	d, err := store.Detail(context.Background(), h.Store, id)
	if err != nil {
		h.T.Fatal(err)
	}
	return d
}

// Matrix returns the session's results compactly, a line per stage with
// the status of each machine in the session's order:
// "a:run: passed failed skipped" ("?" where a machine has none).
func (h *Harness) Matrix(id int64) []string {
	h.T.Helper()
	return Matrix(h.Detail(id))
}

// Matrix is Harness.Matrix of a session's record.
func Matrix(d *store.SessionDetail) []string {
	var out []string
	for _, stg := range d.Stages {
		row := stg.Name + ":"
		for _, m := range d.Machines {
			st := "?"
			for _, r := range stg.Results {
				if r.Slave == m {
					st = string(r.Status)
				}
			}
			row += " " + st
		}
		out = append(out, row)
	}
	return out
}

// Events returns the messages of the session's recorded events, as
// "kind: message".
func (h *Harness) Events(id int64) []string {
	h.T.Helper()
	evs, err := h.Store.Events(context.Background(), id)
	if err != nil {
		h.T.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Kind + ": " + e.Message
	}
	return out
}

// Suite returns a suite of the given cases on the machines, every stage
// with a script that does something (`echo <stage> on @slavename@`).
func Suite(name string, machines []string, cases ...string) *definition.Suite {
	s := &definition.Suite{Name: name, Machines: machines,
		Initialize: Script("echo suite_init on @slavename@"), Finalize: Script("echo suite_finalize on @slavename@")}
	for _, c := range cases {
		s.Tests = append(s.Tests, definition.TestCase{Name: c,
			Init:     Script(fmt.Sprintf("echo %s:init on @slavename@", c)),
			Run:      Script(fmt.Sprintf("echo %s:run on @slavename@", c)),
			Finalize: Script(fmt.Sprintf("echo %s:finalize on @slavename@", c))})
	}
	return s
}

// Script is an inline bash script with body.
func Script(body string) *definition.Script {
	return &definition.Script{Text: "#!/bin/bash\n" + body + "\n"}
}

// Logger is a logger that writes to t.Log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
