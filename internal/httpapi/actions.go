package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/catalog"
	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Actions are the state-changing operations of the web port, each defined
// once: the JSON API and the pages call them with who asks, and each is
// logged the same way whichever way it came. Errors map to statuses with
// Status.
type Actions struct {
	Manager   *session.Manager
	Store     store.Store // quarantines
	Scheduler *scheduler.Scheduler
	// Reload fetches the git repositories and loads the definitions
	// again (nil: not offered).
	Reload func(context.Context) *catalog.ReloadReport
	// Daemons opens the shells on the slaves (shell.go); Streams bounds
	// them with the other long-lived answers.
	Daemons *daemons.Registry
	Streams *Streams
	// ShellIdle and ShellLifetime end a shell idle for so long, or open
	// for so long (0: DefaultShellIdle, DefaultShellLifetime).
	ShellIdle, ShellLifetime time.Duration
	Log                      *slog.Logger
}

// Caller is who asks for an action and through what: Via is "API" or
// "web", By the name recorded (a session's "triggered by"), Addr the
// client's address.
type Caller struct {
	Via, By, Addr string
}

func (a *Actions) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// logged logs an action before it runs, and its refusal.
func (a *Actions) logged(c Caller, what string, attrs []any, do func() error) error {
	attrs = append(attrs, "by", c.By)
	if c.Addr != "" {
		attrs = append(attrs, "addr", c.Addr)
	}
	a.log().Info(c.Via+": "+what, attrs...)
	err := do()
	if err != nil {
		a.log().Warn(c.Via+": "+what+" refused", append(attrs, "err", err)...)
	}
	return err
}

// Run starts a session of suite: the given cases in suite order, or all
// of them.
func (a *Actions) Run(ctx context.Context, c Caller, suite string, cases []string) (*store.Session, error) {
	return a.RunWith(ctx, c, suite, cases, session.StartOptions{Retries: -1})
}

// RunWith is Run with options (retries).
func (a *Actions) RunWith(ctx context.Context, c Caller, suite string, cases []string, opts session.StartOptions) (*store.Session, error) {
	var s *store.Session
	attrs := []any{"suite", suite, "cases", cases}
	if opts.Retries >= 0 {
		attrs = append(attrs, "retries", opts.Retries)
	}
	if opts.Seed != 0 {
		attrs = append(attrs, "seed", opts.Seed)
	}
	if opts.Hold != 0 {
		attrs = append(attrs, "hold", opts.Hold)
	}
	err := a.logged(c, "run suite", attrs, func() (err error) {
		s, err = a.Manager.StartWith(ctx, suite, cases, c.By, opts)
		return err
	})
	return s, err
}

// Rerun starts a new session of a session's suite with its cases, or only
// the given ones.
func (a *Actions) Rerun(ctx context.Context, c Caller, id int64, cases []string) (*store.Session, error) {
	var s *store.Session
	err := a.logged(c, "re-run session", []any{"session", id, "cases", cases}, func() (err error) {
		s, err = a.Manager.RerunCases(ctx, id, cases, c.By)
		return err
	})
	return s, err
}

// Cancel cancels a queued or running session.
func (a *Actions) Cancel(c Caller, id int64) error {
	return a.logged(c, "cancel session", []any{"session", id}, func() error { return a.Manager.Cancel(id) })
}

// Release ends the hold of a held session: it goes on (finalizes, logs,
// its cluster stopped).
func (a *Actions) Release(ctx context.Context, c Caller, id int64) error {
	return a.logged(c, "release held session", []any{"session", id}, func() error { return a.Manager.Release(ctx, id, c.By) })
}

// Extend moves the deadline of a held session by d.
func (a *Actions) Extend(ctx context.Context, c Caller, id int64, d time.Duration) (time.Time, error) {
	var until time.Time
	err := a.logged(c, "extend held session", []any{"session", id, "by", d}, func() (err error) {
		until, err = a.Manager.Extend(ctx, id, d, c.By)
		return err
	})
	return until, err
}

// SetEnabled enables or disables a suite's schedule.
func (a *Actions) SetEnabled(ctx context.Context, c Caller, suite string, on bool) error {
	return a.logged(c, "set suite enabled", []any{"suite", suite, "enabled", on}, func() error {
		return a.Scheduler.SetEnabled(ctx, suite, on)
	})
}

// StopCluster stops a cluster no session uses.
func (a *Actions) StopCluster(ctx context.Context, c Caller, name string) error {
	return a.logged(c, "stop cluster", []any{"cluster", name}, func() error {
		return a.Manager.StopCluster(ctx, name, c.By)
	})
}

// ReloadDefinitions fetches the git repositories and loads the definitions
// again. A failed fetch or broken definitions are in the report, not an
// error: the reload happened, the last good definitions are kept. A
// client that hangs up does not cut a fetch short.
func (a *Actions) ReloadDefinitions(ctx context.Context, c Caller) (*catalog.ReloadReport, error) {
	var rep *catalog.ReloadReport
	err := a.logged(c, "reload of the definitions", nil, func() error {
		if a.Reload == nil {
			return fmt.Errorf("reloading is %w by this master", ErrNotOffered)
		}
		rep = a.Reload(context.WithoutCancel(ctx))
		return nil
	})
	return rep, err
}

// ErrBadQuarantine: a quarantine asked for without a reason or with an
// end in the past.
var ErrBadQuarantine = errors.New("bad quarantine")

// Quarantine sets a suite's case aside until until: it still runs, but
// its failures neither fail its sessions nor send alerts (sessions
// started from now on). The suite must define the case.
func (a *Actions) Quarantine(ctx context.Context, c Caller, suite, caseName, reason string, until time.Time) (*store.Quarantine, error) {
	var q *store.Quarantine
	err := a.logged(c, "quarantine case", []any{"suite", suite, "case", caseName, "until", until, "reason", reason}, func() error {
		if err := a.knownCase(suite, caseName); err != nil {
			return err
		}
		now := time.Now()
		switch {
		case strings.TrimSpace(reason) == "":
			return fmt.Errorf("%w: a quarantine needs a reason", ErrBadQuarantine)
		case !until.After(now):
			return fmt.Errorf("%w: %s is not in the future", ErrBadQuarantine, until.Format(time.RFC3339))
		}
		q = &store.Quarantine{Suite: suite, Case: caseName, Reason: reason, Until: until.UTC(), By: c.By, Since: now.UTC()}
		return a.Store.SetQuarantine(ctx, *q)
	})
	return q, err
}

// Unquarantine ends a case's quarantine (store.ErrNotFound when none).
func (a *Actions) Unquarantine(ctx context.Context, c Caller, suite, caseName string) error {
	return a.logged(c, "end quarantine", []any{"suite", suite, "case", caseName}, func() error {
		return a.Store.EndQuarantine(ctx, suite, caseName)
	})
}

func (a *Actions) knownCase(suite, caseName string) error {
	s := a.Manager.Definitions().Suite(suite)
	if s == nil {
		return fmt.Errorf("%w %q", session.ErrUnknownSuite, suite)
	}
	for _, tc := range s.Tests {
		if tc.Name == caseName {
			return nil
		}
	}
	return fmt.Errorf("%w: suite %s has no test case %q", session.ErrUnknownCase, suite, caseName)
}
