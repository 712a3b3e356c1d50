package netns

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCgroupV2Layout: on a machine with the unified hierarchy alone, a
// host's group is <root>/xrdtest-netns/<name> with memory and pids
// enabled above it and memory.max as the limit. The kernel's side is
// stood in for by plain files: only the layout is checked here, on any
// machine; TestCgroupV2Kernel checks it against the kernel.
func TestCgroupV2Layout(t *testing.T) {
	root := t.TempDir()
	old := cgroupRoot
	cgroupRoot = root
	t.Cleanup(func() { cgroupRoot = old })
	if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cg, err := newCgroup("xrdn-test-h0", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "xrdtest-netns", "xrdn-test-h0")
	if len(cg.dirs) != 1 || cg.dirs[0] != want {
		t.Fatalf("dirs %v, want [%s]", cg.dirs, want)
	}
	for file, content := range map[string]string{
		filepath.Join(root, "cgroup.subtree_control"):                  "+memory +pids",
		filepath.Join(root, "xrdtest-netns", "cgroup.subtree_control"): "+memory +pids",
		filepath.Join(want, "memory.max"):                              "67108864",
		filepath.Join(want, "memory.swap.max"):                         "0",
	} {
		if got, err := os.ReadFile(file); err != nil || string(got) != content {
			t.Errorf("%s: %q, %v; want %q", file, got, err, content)
		}
	}
	if got := cg.procsFiles(); len(got) != 1 || got[0] != filepath.Join(want, "cgroup.procs") {
		t.Errorf("procs files %v", got)
	}
}
