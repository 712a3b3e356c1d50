package netns

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/image"
)

// TestCgroupV2Kernel runs the cgroup v2 code against the kernel, on a
// cgroup2 hierarchy the test mounts. Where that hierarchy offers the
// memory and pids controllers (a v2-only machine, or the VM of
// TestCgroupV2InVM) it checks everything a host's group does: the layout
// and limit, a command entered through the real enter script within the
// limit and killed past it, the join file moving a shell into the group,
// the group's processes listed, killed and the group removed, a leftover
// group found by its prefix, and Check's probe.
// Where the controllers are bound to cgroup v1 (a hybrid machine, such as
// the one this was written on) it checks that a start is refused naming
// them, before anything is made.
func TestCgroupV2Kernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts cgroup2")
	}
	root := t.TempDir()
	if err := unix.Mount("none", root, "cgroup2", 0, ""); err != nil {
		t.Skipf("this kernel mounts no cgroup2 here: %v", err)
	}
	t.Cleanup(func() {
		unix.Rmdir(filepath.Join(root, "xrdtest-netns"))
		if err := unix.Unmount(root, 0); err != nil {
			t.Errorf("unmount %s: %v", root, err)
		}
	})
	old := cgroupRoot
	cgroupRoot = root
	t.Cleanup(func() { cgroupRoot = old })
	if !cgroupV2() {
		t.Fatalf("a cgroup2 mount at %s is not seen as cgroup v2", root)
	}
	offered, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	controllers := strings.Fields(string(offered))
	if !slices.Contains(controllers, "memory") || !slices.Contains(controllers, "pids") {
		_, err := newCgroup(nsPrefix+"v2-h0", 32<<20)
		if err == nil || !strings.Contains(err.Error(), "offers no memory") {
			t.Errorf("cgroup v2 without memory (%q): start %v, want a refusal naming memory", controllers, err)
		}
		if _, serr := os.Stat(filepath.Join(root, "xrdtest-netns")); serr == nil {
			t.Error("the refused start made xrdtest-netns")
		}
		t.Logf("controllers of cgroup2 here: %q (memory and pids are cgroup v1's): refused as it should be (%v); "+
			"the limits themselves are checked in TestCgroupV2InVM", controllers, err)
		return
	}

	name := nsPrefix + "v2-h0"
	cg, err := newCgroup(name, 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cg.remove(time.Second) })
	base := filepath.Join(root, "xrdtest-netns")
	if want := filepath.Join(base, name); len(cg.dirs) != 1 || cg.dirs[0] != want {
		t.Fatalf("dirs %v, want [%s]", cg.dirs, want)
	}
	for _, d := range []string{root, base} {
		if got, _ := os.ReadFile(filepath.Join(d, "cgroup.subtree_control")); !strings.Contains(string(got), "memory") || !strings.Contains(string(got), "pids") {
			t.Errorf("%s/cgroup.subtree_control: %q", d, got)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(cg.dirs[0], "memory.max")); string(got) != "33554432\n" {
		t.Errorf("memory.max %q", got)
	}

	// The host's enter script: it joins the group, then nsenters into the
	// target's namespaces (this process's own here).
	enter := filepath.Join(t.TempDir(), "enter")
	if err := writeEnter(enter, "v2", os.Getpid(), cg); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(enter, testBinary(), "__test-alloc", "8").CombinedOutput(); err != nil || !strings.Contains(string(out), "allocated 8 MiB") {
		t.Errorf("8 MiB in a 32 MiB host: %v %s", err, out)
	}
	if out, err := exec.Command(enter, testBinary(), "__test-alloc", "96").CombinedOutput(); err == nil {
		t.Errorf("96 MiB in a 32 MiB host: not killed: %s", out)
	}
	if ev, _ := os.ReadFile(filepath.Join(cg.dirs[0], "memory.events")); !bytes.Contains(ev, []byte("oom_kill ")) || bytes.Contains(ev, []byte("oom_kill 0\n")) {
		t.Errorf("memory.events after the allocation past the limit:\n%s", ev)
	}

	// The join file a stage's bash reads first (BASH_ENV) beside such a
	// host: sourced (by sh here: the VM has no bash), it moves the shell
	// into the group.
	join := filepath.Join(t.TempDir(), "join.sh")
	if err := os.WriteFile(join, []byte(joinScript("v2", cg)), 0o644); err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(cg.dirs[0], cgroupRoot)
	if out, err := exec.Command("sh", "-c", `. "$0" && cat /proc/self/cgroup`, join).CombinedOutput(); err != nil || !strings.Contains(string(out), "0::"+rel+"\n") {
		t.Errorf("the join file: %v, /proc/self/cgroup %q, want 0::%s", err, out, rel)
	}

	sleep := exec.Command(enter, "sleep", "100")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sleep.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); len(cg.pids()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the entered sleep is not listed in the group")
		}
	}
	if err := cg.remove(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err == nil {
			t.Error("the entered sleep ended by itself")
		}
	case <-time.After(5 * time.Second):
		t.Error("the group's removal left its sleep running")
	}
	if _, err := os.Stat(cg.dirs[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("group left: %v", err)
	}

	// A group no record names (a crashed start) is found by its prefix.
	left, err := newCgroup(nsPrefix+"v2-left", 0)
	if err != nil {
		t.Fatal(err)
	}
	orphan := exec.Command("sleep", "100")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	owaited := make(chan error, 1)
	go func() { owaited <- orphan.Wait() }()
	if err := left.add(orphan.Process.Pid); err != nil {
		orphan.Process.Kill()
		t.Fatal(err)
	}
	if err := removeCgroups(nsPrefix + "v2-"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-owaited:
	case <-time.After(5 * time.Second):
		orphan.Process.Kill()
		t.Error("removeCgroups left the group's process running")
	}
	if _, err := os.Stat(left.dirs[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("leftover group not removed: %v", err)
	}

	if missing := probe(); len(missing) > 0 {
		t.Errorf("probe on cgroup v2: %v", missing)
	}
}

// TestCgroupV2InVM boots a Linux VM (QEMU, no network device) whose only
// cgroup hierarchy is v2 and runs TestCgroupV2Kernel in it: the memory
// limit, the enter script, listing, killing and removing groups, for
// real on a machine whose own controllers are cgroup v1's. Its init is
// this test binary (PID 1, see TestMain); the initramfs holds it, its
// libraries and busybox (sh, nsenter, unshare, sleep). The guest kernel
// is the private libvirtd's (bash scripts/libvirt-env.sh exec go test
// -run TestCgroupV2InVM ./internal/hypervisor/netns) or
// XRDTEST_GUEST_KERNEL; without one or without QEMU it is skipped, and
// fails under XRDTEST_LIBVIRT_REQUIRED=1.
func TestCgroupV2InVM(t *testing.T) {
	need := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("XRDTEST_LIBVIRT_REQUIRED") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	kernel := os.Getenv("XRDTEST_GUEST_KERNEL")
	if kernel == "" && os.Getenv("XRDTEST_LIBVIRT_POOL_DIR") != "" {
		kernel = filepath.Join(os.Getenv("XRDTEST_LIBVIRT_POOL_DIR"), "xrdtest-probe.vmlinuz")
	}
	if _, err := os.Stat(kernel); kernel == "" || err != nil {
		need("no guest kernel (%q): bash scripts/libvirt-env.sh exec go test -run TestCgroupV2InVM ./internal/hypervisor/netns, or XRDTEST_GUEST_KERNEL", kernel)
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		need("no QEMU (apt-get install qemu-system-x86; scripts/libvirt-env.sh installs it): %v", err)
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		need("no busybox: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	var initrd bytes.Buffer
	w := image.NewCPIOWriter(&initrd, time.Now())
	for _, d := range []string{"/bin", "/proc", "/sys", "/dev", "/tmp", "/run"} {
		if err := w.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.CharDev("/dev/console", 0o600, 5, 1); err != nil {
		t.Fatal(err)
	}
	add := func(src, dst string) {
		t.Helper()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if !w.Has(dst) {
			if err := w.WriteFile(dst, 0o755, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(self, "/init")
	add(busybox, "/bin/busybox")
	for _, bin := range []string{self, busybox} {
		libs, err := sharedLibs(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range libs {
			add(l, l)
		}
	}
	for _, applet := range []string{"sh", "nsenter", "unshare", "sleep", "cat"} {
		if err := w.Symlink("busybox", "/bin/"+applet); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	initrdFile := filepath.Join(t.TempDir(), "initrd.cpio")
	if err := os.WriteFile(initrdFile, initrd.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	accel := "tcg"
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		accel = "kvm"
	}
	// No network device at all; the console on stdout; a reboot ends QEMU.
	cmd := exec.CommandContext(ctx, qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-accel", accel, "-m", "384", "-smp", "1", "-nic", "none", "-serial", "stdio",
		"-kernel", kernel, "-initrd", initrdFile,
		"-append", "console=ttyS0 panic=-1 quiet "+guestEnv+"=1 XRDTEST_NETNS_TEST_PREFIX="+nsPrefix)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("VM (%s) ran %.1f s", accel, time.Since(t0).Seconds())
	console := string(out)
	if err != nil || !strings.Contains(console, "--- PASS: TestCgroupV2Kernel") || !strings.Contains(console, guestExit+"0") {
		t.Fatalf("qemu: %v\nconsole:\n%s", err, console)
	}
	// The guest must have run the whole check, not the refusal.
	if strings.Contains(console, "refused as it should be") {
		t.Fatalf("the VM's cgroup2 offers no memory controller:\n%s", console)
	}
	for line := range strings.Lines(console) {
		if strings.HasPrefix(strings.TrimSpace(line), "---") || strings.HasPrefix(line, "=== RUN") {
			t.Logf("guest: %s", strings.TrimSpace(line))
		}
	}
}

// sharedLibs lists the shared libraries bin loads (ldd), none for a
// static binary.
func sharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil, nil
		}
		return nil, err
	}
	var libs []string
	for line := range strings.Lines(string(out)) {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
				break
			}
		}
	}
	return libs, nil
}
