package netnsthread

import (
	"os"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

// otherNetns is a network namespace of its own, open, and the links of
// it and of this process's.
func otherNetns(t *testing.T) (ns *os.File, its, own string) {
	t.Helper()
	path, its := testutil.OtherNetns(t)
	ns, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	if own, err = os.Readlink("/proc/self/ns/net"); err != nil {
		t.Fatal(err)
	}
	return ns, its, own
}

// TestDo: a process started in Do is born in the target namespace, and
// the threads Do used come back: processes started afterwards without it
// are in this process's own.
func TestDo(t *testing.T) {
	ns, want, own := otherNetns(t)
	through := func(start func() error) error { return Do(ns, start) }
	direct := func(start func() error) error { return start() }
	// Many, so that the runtime reuses the threads Do used.
	for i := range 20 {
		if got := testutil.StartedNetns(t, through); got != want {
			t.Fatalf("start %d in Do: network namespace %s, want the target's %s", i, got, want)
		}
		if got := testutil.StartedNetns(t, direct); got != own {
			t.Fatalf("start %d after it: network namespace %s, want this process's %s", i, got, own)
		}
	}
}

// TestDoNotANamespace: a target that is no namespace is an error naming
// it, and f does not run.
func TestDoNotANamespace(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ran := false
	err = Do(f, func() error { ran = true; return nil })
	if err == nil || !strings.Contains(err.Error(), os.DevNull) || ran {
		t.Errorf("Do(%s): %v, ran %v; want an error naming it and no call", os.DevNull, err, ran)
	}
}
