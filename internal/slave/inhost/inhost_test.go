package inhost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestStart: a process started through Start is born in the host's
// network namespace (netnsthread.Do; its tests cover the threads), and
// Env names the join file.
func TestStart(t *testing.T) {
	// The host: a process in a network namespace of its own.
	hostNS, want := testutil.OtherNetns(t)
	join := filepath.Join(t.TempDir(), "join.sh")
	if err := os.WriteFile(join, []byte("unset BASH_ENV\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := Open(hostNS, join)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if got := testutil.StartedNetns(t, h.Start); got != want {
		t.Errorf("started through the host: network namespace %s, want the host's %s", got, want)
	}
	if got := h.Env(); len(got) != 1 || got[0] != "BASH_ENV="+join {
		t.Errorf("Env() = %q", got)
	}
}

// TestOpenErrors: what Open refuses, naming the reason.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	join := filepath.Join(dir, "join.sh")
	if err := os.WriteFile(join, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ netns, join, want string }{
		{"/proc/self/ns/net", filepath.Join(dir, "j$HOME"), "would expand"},
		{"/proc/self/ns/net", filepath.Join(dir, "missing"), "host join file"},
		{filepath.Join(dir, "no-netns"), join, "host network namespace"},
	} {
		h, err := Open(tt.netns, tt.join)
		if err == nil {
			h.Close()
			t.Errorf("Open(%s, %s) succeeded", tt.netns, tt.join)
		} else if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s, %s): %v, want it to say %q", tt.netns, tt.join, err, tt.want)
		}
	}
}
