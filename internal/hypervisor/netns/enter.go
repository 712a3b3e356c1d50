package netns

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/xrdtest/xrdtest/internal/netnsthread"
)

// inNetns runs f on an OS thread that has entered the named network
// namespace (netnsthread.Do), and waits for it: sockets f opens and
// processes it starts belong to that namespace, which is how the backend
// listens inside a cluster's network without a process there.
func inNetns(name string, f func() error) error {
	ns, err := os.Open(filepath.Join(netnsDir, name))
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", name, err)
	}
	defer ns.Close()
	return netnsthread.Do(ns, f)
}
