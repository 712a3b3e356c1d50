// Package inhost starts a slave's stage scripts and shells inside its host
// when the slave runs beside the host rather than in it.
//
// The netns backend's slave shares its host's mount, PID, UTS and IPC
// namespaces but keeps the machine's network namespace, so that its link
// to the master never crosses the cluster's network (faults cannot cut
// it), and a cgroup of its own, so that a paused host does not freeze it.
// What it starts must still be wholly in the host. Two steps, neither an
// extra exec (each exec of a dynamically linked program costs about as
// much CPU as the stage's own bash on small machines):
//
//   - the network namespace: the fork happens on an OS thread that has
//     entered the host's network namespace, and a child is born in the
//     namespaces of the thread that forks it;
//   - the cgroup: bash sources the file named by BASH_ENV before it runs
//     a script, in the script's own process, so a join file there moves
//     the script into the host's cgroup before its first command and any
//     child it forks. The join file unsets BASH_ENV, so the script's own
//     bash children do not read it again; a BASH_ENV that a stage's
//     environment sets is replaced by it.
package inhost

import (
	"fmt"
	"os"
	"strings"

	"github.com/xrdtest/xrdtest/internal/netnsthread"
)

// JoinEnv is the variable bash reads its join file from.
const JoinEnv = "BASH_ENV"

// Host is where a slave beside its host starts processes.
type Host struct {
	netns *os.File // the host's network namespace
	join  string   // the file bash sources first: it joins the host's cgroup
}

// Open opens the host's network namespace (a path such as
// /proc/1/ns/net) and checks the join file, which the backend writes.
// The join file's name is expanded by bash, so it may not hold '$' or
// '`'.
func Open(netnsPath, joinFile string) (*Host, error) {
	if strings.ContainsAny(joinFile, "$`") {
		return nil, fmt.Errorf("host join file %q: bash would expand '$' or '`' in its name", joinFile)
	}
	if _, err := os.Stat(joinFile); err != nil {
		return nil, fmt.Errorf("host join file: %w", err)
	}
	netns, err := os.Open(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("host network namespace: %w", err)
	}
	return &Host{netns: netns, join: joinFile}, nil
}

// Close releases the namespace.
func (h *Host) Close() error { return h.netns.Close() }

// Env is what a script's environment needs to join the host: bash runs
// the join file first.
func (h *Host) Env() []string { return []string{JoinEnv + "=" + h.join} }

// Start calls start, which forks and execs, on an OS thread in the
// host's network namespace (netnsthread.Do), and waits for it.
func (h *Host) Start(start func() error) error { return netnsthread.Do(h.netns, start) }
