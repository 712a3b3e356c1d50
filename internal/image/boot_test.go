package image

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/session"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestBootImage builds the real image (Debian packages through apt) and
// boots it with qemu-system-x86_64 against a master running in this test
// on 127.0.0.1. QEMU's user networking (slirp) creates no host interface:
// the guest reaches the host's loopback as 10.0.2.2, and nothing else is
// dialled. It runs when XRDTEST_IMAGE_TEST=1 or CI=true.
func TestBootImage(t *testing.T) {
	if os.Getenv("XRDTEST_IMAGE_TEST") != "1" && os.Getenv("CI") != "true" {
		t.Skip("set XRDTEST_IMAGE_TEST=1 to build and boot the image (downloads Debian packages, runs QEMU)")
	}
	qemu := ensureQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	// ---- build
	cache := os.Getenv("XRDTEST_IMAGE_CACHE")
	if cache == "" {
		cache = DefaultCacheDir()
	}
	out := os.Getenv("XRDTEST_IMAGE_OUT") // keep the image there (debugging)
	if out == "" {
		out = t.TempDir()
	}
	t0 := time.Now()
	img, err := Build(ctx, Options{OutDir: out, CacheDir: cache, Log: testWriter{t}, Version: "image-test"})
	if err != nil {
		t.Fatal(err)
	}
	m := img.Info
	t.Logf("built in %.1f s: vmlinuz %.1f MiB, initrd.img %.1f MiB, kernel %s",
		time.Since(t0).Seconds(), mibf(m.Sizes["vmlinuz"]), mibf(m.Sizes["initrd.img"]), m.KernelVersion)
	checkBuiltImage(t, img)

	// ---- master on loopback
	logs := &syncBuffer{}
	mst := mastertest.Open(t, master.Options{Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	defer mastertest.Serve(mst)()
	port := mst.DaemonAddr().(*net.TCPAddr).Port
	const name = "vm1.xrd.test"
	token := mst.Manager.Tokens.Issue(name)

	// The CA pin travels as an SMBIOS OEM string, the rest on the command
	// line: both ways of passing parameters are used.
	cmdline, err := KernelCmdline(BootParams{Name: name, Master: fmt.Sprintf("10.0.2.2:%d", port), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	oem := "xrdtest.ca=" + mst.CA.Fingerprint().String()

	// Disks: a boot disk on virtio-scsi (sda, which the image leaves alone:
	// no SCSI driver is loaded), an empty virtio-blk disk
	// (vda) and the data disk (vdb), formatted ext4 as the hypervisor does
	// before boot.
	disks := t.TempDir()
	for _, d := range []string{"scsi.img", "vda.img", "vdb.img"} {
		if err := os.WriteFile(filepath.Join(disks, d), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(filepath.Join(disks, d), 32<<20); err != nil {
			t.Fatal(err)
		}
	}
	formatted := false
	if mkfs, err := exec.LookPath("mkfs.ext4"); err == nil {
		if o, err := exec.Command(mkfs, "-q", "-F", "-L", "data", filepath.Join(disks, "vdb.img")).CombinedOutput(); err != nil {
			t.Fatalf("mkfs.ext4: %v\n%s", err, o)
		}
		formatted = true
	} else {
		t.Log("no mkfs.ext4 here: the data disk stays empty and is not mounted")
	}

	// ---- boot
	accel := "tcg"
	if kvmUsable() {
		accel = "kvm"
	}
	console := filepath.Join(t.TempDir(), "console.log")
	vm, booted := startVM(t, qemu, accel, img, cmdline, oem, disks, console)
	if accel == "kvm" && !initStarted(console, 30*time.Second, vm.exited) {
		// /dev/kvm accepted a VM, but the guest did not get to /init
		// (seen with nested virtualization that lacks vmx/svm: it stops
		// right after the real-mode setup).
		t.Logf("with KVM the guest did not reach /init within 30 s (QEMU: %s); falling back to TCG\n%s",
			strings.TrimSpace(vm.stderr.String()), consoleTail(console))
		vm.kill()
		accel = "tcg"
		vm, booted = startVM(t, qemu, accel, img, cmdline, oem, disks, console)
	}
	defer vm.kill()
	limit := 120 * time.Second
	if accel == "tcg" {
		limit = 300 * time.Second // software emulation is several times slower
	}
	wctx, wcancel := context.WithTimeout(ctx, limit)
	defer wcancel()
	connected := make(chan []string, 1)
	go func() { connected <- mst.Registry.WaitForSlaves(wctx, []string{name}, nil) }()
	var missing []string
	select {
	case missing = <-connected:
	case <-vm.exited:
		t.Fatalf("QEMU exited before the slave connected: %v\nstderr: %s\n%s", vm.err, vm.stderr.String(), consoleTail(console))
	}
	if len(missing) > 0 {
		t.Fatalf("the VM's slave did not connect within %s (%s)\n%s\nmaster log tail:\n%s", limit, accel, consoleTail(console), lastLines(logs.String(), 20))
	}
	bootTime := time.Since(booted)
	t.Logf("BOOT: QEMU start -> slave enrolled and connected: %.1f s (accel %s, %d MiB RAM)", bootTime.Seconds(), accel, vmRAM)
	if !strings.Contains(logs.String(), "one-time enrollment token accepted") {
		t.Errorf("the master did not log the one-time token enrollment:\n%s", lastLines(logs.String(), 20))
	}

	// ---- a stage on the VM: bash, the data disk as @diskmounts@ mounts
	// it (twice: the second finds it mounted), and no token for scripts.
	mounts := "mkdir -p '/data' && { mountpoint -q '/data' || mount -t ext4 -o user_xattr '/dev/vdb' '/data'; } && chown \"${XROOTD_USER}:${XROOTD_GROUP}\" '/data'"
	script := `set -e
echo "bash=${BASH_VERSION} host=$(hostname) user=$(id -u)"
XROOTD_USER=xrootd XROOTD_GROUP=xrootd
for d in sda vda vdb; do test -b /dev/$d && echo "$d=present" || echo "$d=missing"; done
if [ "$MOUNT_DATA" = 1 ]; then
` + mounts + `
` + mounts + `
echo data > /data/file; echo "disk=$(cat /data/file) owner=$(stat -c %U /data) mounts=$(grep -c ' /data ' /proc/mounts)"
fi
echo "token_vars=$(env | grep -c '^XRDTEST_TOKEN=' || true) functions=$(test -f /etc/XrdTest/utils/functions.sh && echo yes)"
echo "resolv: $(tr '\n' ' ' </etc/resolv.conf)"
echo "hosts: $(grep vm1 /etc/hosts)"
echo "MemAvailable: $(awk '/MemAvailable/ {print $2, $3}' /proc/meminfo)"
`
	sink := &outputSink{}
	o := mst.Registry.RunStage(ctx, name, session.StageCommand{ID: "image-test-1", Session: 1, Stage: 1, StageName: "check",
		Script: strings.Replace(script, "$MOUNT_DATA", map[bool]string{true: "1", false: "0"}[formatted], 1), Timeout: 60 * time.Second, Grace: 5 * time.Second}, sink)
	outText := sink.String()
	t.Logf("stage on the VM: %s (%s)\n%s", o.Status, o.Message, outText)
	if o.Status != store.StatusPassed {
		t.Errorf("stage status %s: %s\n%s", o.Status, o.Message, consoleTail(console))
	}
	wants := []string{"bash=5.", "host=vm1 ", "user=0", "token_vars=0", "functions=yes", "sda=missing" /* no SCSI driver at boot: the image does not use the boot overlay */, "vda=present", "vdb=present",
		"resolv: nameserver 10.0.2.3", "hosts: 10.0.2.15 vm1.xrd.test vm1"}
	if formatted {
		wants = append(wants, "disk=data owner=xrootd mounts=1")
	}
	for _, w := range wants {
		if !strings.Contains(outText, w) {
			t.Errorf("stage output lacks %q", w)
		}
	}

	con, _ := os.ReadFile(console)
	if strings.Contains(string(con), token) {
		t.Error("the token appears on the console")
	}
	for _, w := range []string{"xrdtest-init [", "modules loaded; a virtio disk is attached:", "disk modules loaded", "xrdtest-slave: "} {
		if !strings.Contains(string(con), w) {
			t.Errorf("console lacks %q", w)
		}
	}
	var timeline []string
	for _, l := range strings.Split(string(con), "\n") {
		if i := strings.Index(l, "xrdtest-init ["); i >= 0 {
			timeline = append(timeline, l[i:])
		}
	}
	t.Logf("guest timeline:\n%s", strings.Join(timeline, "\n"))
}

const vmRAM = 192

type vmProc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when QEMU exited; then err is its Wait error
	err    error
	stderr *syncBuffer
}

func (v *vmProc) kill() {
	if v.cmd.Process != nil {
		v.cmd.Process.Kill()
		<-v.exited
	}
}

func startVM(t *testing.T, qemu, accel string, img *Image, cmdline, oem, disks, console string) (*vmProc, time.Time) {
	t.Helper()
	os.Remove(console)
	args := []string{
		"-machine", "pc", "-accel", accel, "-cpu", map[string]string{"kvm": "host", "tcg": "qemu64"}[accel],
		"-m", fmt.Sprint(vmRAM), "-smp", "1",
		"-nographic", "-monitor", "none", "-serial", "file:" + console, "-no-reboot",
		"-kernel", img.Kernel, "-initrd", img.Initrd, "-append", cmdline,
		"-smbios", "type=11,value=" + oem,
		"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=",
		"-device", "virtio-rng-pci",
	}
	args = append(args, "-device", "virtio-scsi-pci,id=scsi0",
		"-drive", "file="+filepath.Join(disks, "scsi.img")+",format=raw,if=none,id=boot", "-device", "scsi-hd,drive=boot,bus=scsi0.0",
		"-drive", "file="+filepath.Join(disks, "vda.img")+",format=raw,if=virtio",
		"-drive", "file="+filepath.Join(disks, "vdb.img")+",format=raw,if=virtio")
	v := &vmProc{cmd: exec.Command(qemu, args...), exited: make(chan struct{}), stderr: &syncBuffer{}}
	v.cmd.Stdout, v.cmd.Stderr = v.stderr, v.stderr
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t.Logf("qemu (%s): %s", accel, strings.Join(redact(args, cmdline), " "))
	booted := time.Now()
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { v.err = v.cmd.Wait(); close(v.exited) }()
	return v, booted
}

// redact hides the token of the command line in the test log.
func redact(args []string, cmdline string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == cmdline {
			var ws []string
			for _, w := range strings.Fields(a) {
				if strings.HasPrefix(w, "xrdtest.token=") {
					w = "xrdtest.token=<redacted>"
				}
				ws = append(ws, w)
			}
			out[i] = "'" + strings.Join(ws, " ") + "'"
		}
	}
	return out
}

// initStarted waits until the console shows /init's first line.
func initStarted(console string, limit time.Duration, exited <-chan struct{}) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(console); bytes.Contains(b, []byte("xrdtest-init [")) {
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
	return false
}

// kvmUsable tells whether the CPU flags show hardware virtualization and
// /dev/kvm creates (and drops) a VM.
func kvmUsable() bool {
	if b, err := os.ReadFile("/proc/cpuinfo"); err != nil || !regexp.MustCompile(`(?m)^flags\s*:.*\b(vmx|svm)\b`).Match(b) {
		return false
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	const kvmGetAPIVersion, kvmCreateVM = 0xAE00, 0xAE01
	if v, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmGetAPIVersion, 0); e != 0 || v != 12 {
		return false
	}
	fd, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmCreateVM, 0)
	if e != 0 {
		return false
	}
	syscall.Close(int(fd))
	return true
}

// ensureQEMU returns qemu-system-x86_64, installing Debian's
// qemu-system-x86 when it is missing.
func ensureQEMU(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("qemu-system-x86_64"); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		t.Skip("qemu-system-x86_64 missing and not root to install it")
	}
	install := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "install", "-y", "-q", "--no-install-recommends", "qemu-system-x86")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	t.Log("installing qemu-system-x86")
	if out, err := install(); err != nil {
		t.Logf("apt-get install failed (%v): running apt-get update\n%s", err, lastLines(string(out), 5))
		if out, err := exec.Command("apt-get", "update", "-q").CombinedOutput(); err != nil {
			t.Fatalf("apt-get update: %v\n%s", err, out)
		}
		if out, err := install(); err != nil {
			t.Fatalf("apt-get install qemu-system-x86: %v\n%s", err, out)
		}
	}
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkBuiltImage checks the output files against image.json and the
// archive's essentials.
func checkBuiltImage(t *testing.T, img *Image) {
	t.Helper()
	m, err := ReadManifest(img.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vmlinuz", "initrd.img"} {
		sum, size, err := hashFile(filepath.Join(img.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if m.SHA256[f] != sum || m.Sizes[f] != size {
			t.Errorf("image.json %s: sha256 %s size %d; file %s %d", f, m.SHA256[f], m.Sizes[f], sum, size)
		}
	}
	if m.KernelVersion == "" || m.XrdtestVersion != "image-test" || m.Built.IsZero() || m.MinRAMMiB < 128 {
		t.Errorf("manifest %+v", m)
	}
	for _, c := range []struct {
		list  []string
		wants []string
	}{{m.Modules, []string{"virtio_pci", "virtio_net", "virtio_rng"}}, {m.DiskModules, []string{"virtio_blk", "ext4"}}} {
		mods := strings.Join(names(c.list), " ")
		for _, want := range c.wants {
			if !strings.Contains(" "+mods+" ", " "+want+" ") && !slices.ContainsFunc(m.Builtin, func(b string) bool { return ModuleName(b) == want }) {
				t.Errorf("module %s not in %q (built in: %v)", want, mods, m.Builtin)
			}
		}
	}
	have, _ := initrdEntries(t, img.Initrd)
	for _, p := range []string{"init", "dev/console", "bin/bash", "bin/busybox", "usr/bin/xrdtest", "bin/mount", "bin/mkdir", "bin/chown",
		"bin/mountpoint", "sbin/udhcpc", "sbin/insmod", "sbin/poweroff", "usr/bin/awk", "bin/sh"} {
		if _, ok := have[p]; !ok {
			t.Errorf("initramfs lacks /%s", p)
		}
	}
	for _, rel := range append(m.Modules, m.DiskModules...) {
		if _, ok := have["lib/modules/"+m.KernelVersion+"/"+rel]; !ok {
			t.Errorf("initramfs lacks module %s", rel)
		}
	}
	// The binary in the image is static.
	x := filepath.Join(t.TempDir(), "xrdtest")
	os.WriteFile(x, have["usr/bin/xrdtest"].Data, 0o755)
	if static, err := IsStatic(x); err != nil || !static {
		t.Errorf("xrdtest in the image: static %v, %v", static, err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer = testutil.SyncBuffer

type outputSink struct{ syncBuffer }

func (o *outputSink) Append(_ uint64, p []byte) error { _, err := o.Write(p); return err }

func consoleTail(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return "(no console log: " + err.Error() + ")"
	}
	return "console log tail (" + file + "):\n" + lastLines(string(b), 40)
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func mibf(n int64) float64 { return float64(n) / (1 << 20) }
