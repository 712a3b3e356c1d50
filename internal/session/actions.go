package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Errors of the Manager's actions; test them with errors.Is.
var (
	// ErrUnknownCase: a test case the suite does not have (the error
	// names the suite's cases).
	ErrUnknownCase = errors.New("unknown test case")
	// ErrUnknownCluster: a cluster that is not defined.
	ErrUnknownCluster = errors.New("unknown cluster")
	// ErrClusterInUse: a session uses the cluster, or it is being
	// stopped.
	ErrClusterInUse = errors.New("cluster in use")
	// ErrNoClusters: the master starts no clusters (physical machines).
	ErrNoClusters = errors.New("this master starts no clusters")
	// ErrClusterNotRunning: a stop of a cluster that is not up.
	ErrClusterNotRunning = errors.New("cluster not running")
)

func unknownCase(suite *definition.Suite, name string) error {
	cases := make([]string, len(suite.Tests))
	for i, tc := range suite.Tests {
		cases[i] = tc.Name
	}
	have := "it has none"
	if len(cases) > 0 {
		have = "its cases: " + strings.Join(cases, ", ")
	}
	return fmt.Errorf("%w: suite %s has no test case %q (%s)", ErrUnknownCase, suite.Name, name, have)
}

// Rerun starts a new session of the suite and cases of session id, by the
// current definitions. It fails when the suite or one of the cases is no
// longer defined.
func (m *Manager) Rerun(ctx context.Context, id int64, triggeredBy string) (*store.Session, error) {
	old, err := m.Store.Session(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("cannot re-run session %d: %w", id, err)
	}
	if m.Definitions().Suite(old.Suite) == nil {
		return nil, fmt.Errorf("cannot re-run session %d: %w %q: it is no longer defined", id, ErrUnknownSuite, old.Suite)
	}
	s, err := m.Start(ctx, old.Suite, old.Cases, fmt.Sprintf("%s, re-run of session %d", triggeredBy, id))
	if err != nil {
		return nil, fmt.Errorf("cannot re-run session %d: %w", id, err)
	}
	m.Log.Info("session re-run", "session", s.ID, "of", id, "suite", s.Suite, "by", triggeredBy)
	return s, nil
}

// RerunCases is Rerun of only the given cases of session id (all of them
// when cases is empty), in suite order: the pages' re-run of failed or
// chosen cases.
func (m *Manager) RerunCases(ctx context.Context, id int64, cases []string, triggeredBy string) (*store.Session, error) {
	if len(cases) == 0 {
		return m.Rerun(ctx, id, triggeredBy)
	}
	old, err := m.Store.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	return m.Start(ctx, old.Suite, cases, fmt.Sprintf("%s, re-run of session %d", triggeredBy, id))
}

// addPending registers a session being started, unless one of its
// clusters is being stopped.
func (m *Manager) addPending(a *activeSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	for _, c := range a.clusters {
		if by, ok := m.stopping[c]; ok {
			return fmt.Errorf("%w: cluster %s is being stopped (by %s): start again once it is down", ErrClusterInUse, c, by)
		}
	}
	m.pending[a] = true
	return nil
}

// StopCluster stops a cluster through the cluster provider, e.g. one a
// session could not stop because its hypervisor was away. It refuses
// while a queued or running session uses the cluster: cancel it first.
// by names who asked, for the log.
func (m *Manager) StopCluster(ctx context.Context, name, by string) error {
	if m.Clusters == nil {
		return fmt.Errorf("%w: its machines connect by themselves, there is no cluster %s to stop", ErrNoClusters, name)
	}
	if m.Definitions().Cluster(name) == nil {
		return fmt.Errorf("%w %q", ErrUnknownCluster, name)
	}
	m.mu.Lock()
	m.init()
	if who, ok := m.stopping[name]; ok {
		m.mu.Unlock()
		return fmt.Errorf("%w: cluster %s is already being stopped (by %s)", ErrClusterInUse, name, who)
	}
	var users []string
	for id, a := range m.running {
		if slices.Contains(a.clusters, name) {
			users = append(users, fmt.Sprint(id))
		}
	}
	for a := range m.pending {
		if slices.Contains(a.clusters, name) {
			users = append(users, "(one being queued)")
		}
	}
	if len(users) > 0 {
		m.mu.Unlock()
		slices.Sort(users)
		return fmt.Errorf("%w: cluster %s is used by session %s: cancel it first", ErrClusterInUse, name, strings.Join(users, ", "))
	}
	// A stop of nothing is not reported as done.
	if !m.Clusters.Running(name) {
		m.mu.Unlock()
		return fmt.Errorf("%w: cluster %s is not running", ErrClusterNotRunning, name)
	}
	m.stopping[name] = by
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.stopping, name)
		m.mu.Unlock()
	}()
	m.Log.Info("stopping cluster", "cluster", name, "by", by)
	m.revokeTokens(m.Definitions().Cluster(name))
	// A client that goes away does not leave a cluster half stopped.
	if err := m.Clusters.StopCluster(context.WithoutCancel(ctx), name); err != nil {
		m.Log.Warn("cannot stop cluster", "cluster", name, "by", by, "err", err)
		return fmt.Errorf("cannot stop cluster %s: %w", name, err)
	}
	m.Log.Info("cluster stopped", "cluster", name, "by", by)
	return nil
}
