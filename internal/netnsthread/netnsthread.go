// Package netnsthread runs a function on an OS thread that has entered
// another network namespace: what the function opens (sockets) or forks
// (processes) belongs to that namespace, and keeps it afterwards. This is
// how the netns backend listens and starts programs inside a cluster's
// network without a process there, and how a slave beside its host starts
// the host's stage scripts (package slave/inhost).
package netnsthread

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// home is this process's own network namespace. Only Do's locked threads
// ever leave it, so any other thread is in it when this is opened.
var home = sync.OnceValues(func() (*os.File, error) { return os.Open("/proc/thread-self/ns/net") })

// Do calls f on an OS thread in the network namespace target (an open
// /proc/PID/ns/net or /run/netns/NAME) and waits for it. Goroutines f
// starts run in this process's namespace. The thread goes back to the Go
// runtime only once it is back in this process's namespace; if it cannot
// go back, it ends with its goroutine, so no other code ever runs where
// it was.
func Do(target *os.File, f func() error) error {
	back, err := home()
	if err != nil {
		return fmt.Errorf("own network namespace: %w", err)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter network namespace %s: %w", target.Name(), err)
			return // the thread ends: its namespace is not certain
		}
		err := f()
		if unix.Setns(int(back.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
