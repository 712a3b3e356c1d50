package netns

import (
	"fmt"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNetns runs f on an OS thread that has entered the named network
// namespace, and waits for it. Sockets f opens belong to that namespace
// and keep it after f returns: this is how the backend listens inside a
// cluster's network without a process there. Goroutines f starts run in
// the caller's namespace. The thread is never handed back to the Go
// runtime (it stays locked and ends with its goroutine), so no other code
// runs in the wrong namespace.
func inNetns(name string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(filepath.Join(netnsDir, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("network namespace %s: %w", name, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("enter network namespace %s: %w", name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}
