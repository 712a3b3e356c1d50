package image

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func runWithStdin(name string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd.CombinedOutput()
}

func TestKernelCmdline(t *testing.T) {
	p := BootParams{Name: "srv1.xrd.test", Master: "10.0.2.2:20000", Token: "0123abcd", CAFingerprint: "sha256:" + strings.Repeat("ab", 32),
		Gateway: "192.168.1.1", PowerOffOnExit: true}
	got, err := KernelCmdline(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "console=ttyS0 panic=-1 clocksource=hpet quiet cryptomgr.notests=1 no_timer_check mitigations=off random.trust_cpu=on xrdtest.name=srv1.xrd.test xrdtest.master=10.0.2.2:20000 xrdtest.token=0123abcd xrdtest.ca=sha256:" +
		strings.Repeat("ab", 32) + " xrdtest.gw=192.168.1.1 xrdtest.poweroff_on_exit=1"
	if got != want {
		t.Errorf("KernelCmdline\n got %s\nwant %s", got, want)
	}
	if back := ParseCmdline(got); back != p {
		t.Errorf("round trip: %+v, want %+v", back, p)
	}
	minimal, err := KernelCmdline(BootParams{Name: "a.b"})
	if err != nil || minimal != BaseCmdline+" xrdtest.name=a.b" {
		t.Errorf("minimal: %q %v", minimal, err)
	}
	bad := []BootParams{
		{},
		{Name: "has/slash"},
		{Name: "a b"},
		{Name: "a", Master: "no-port"},
		{Name: "a", Token: "with space"},
		{Name: "a", Token: `quote"`},
		{Name: "a", CAFingerprint: "sha256:$(reboot)"},
		{Name: "a", Gateway: "not-an-ip"},
	}
	for _, b := range bad {
		if s, err := KernelCmdline(b); err == nil {
			t.Errorf("%+v accepted: %q", b, s)
		}
	}
}

func TestParseCmdline(t *testing.T) {
	got := ParseCmdline("BOOT_IMAGE=/vmlinuz root=/dev/vda1 xrdtest.name=old xrdtest.name=new.xrd.test quiet xrdtest.poweroff_on_exit=0 xrdtest.token=t=with=equals xrdtest.unknown=1 xrdtest.gw")
	want := BootParams{Name: "new.xrd.test", Token: "t=with=equals"}
	if got != want {
		t.Errorf("ParseCmdline = %+v, want %+v", got, want)
	}
}

// oemEntry is a raw SMBIOS type 11 structure as /sys/firmware/dmi/entries
// shows it: type, length, handle, string count, then the strings.
func oemEntry(strs ...string) []byte {
	b := []byte{11, 5, 0x00, 0x11, byte(len(strs))}
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	return append(b, 0)
}

// shellParams runs the image's params.sh in bash and returns what it set.
func shellParams(t *testing.T, dmiDir, cmdline string) BootParams {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	cmdFile := filepath.Join(t.TempDir(), "cmdline")
	os.WriteFile(cmdFile, []byte(cmdline+"\n"), 0o644)
	script := `. initramfs/params.sh; xrdtest_read_params "$1" "$2"
printf '%s\n' "$XRDTEST_NAME" "$XRDTEST_MASTER" "$XRDTEST_ENROLL_TOKEN" "$XRDTEST_CA" "$XRDTEST_GW" "$XRDTEST_POWEROFF"`
	out, err := exec.Command("bash", "-c", script, "bash", dmiDir, cmdFile).CombinedOutput()
	if err != nil {
		t.Fatalf("params.sh: %v\n%s", err, out)
	}
	l := strings.Split(string(out), "\n")
	if len(l) < 6 {
		t.Fatalf("params.sh printed %q", out)
	}
	p := BootParams{Name: l[0], Token: l[2], CAFingerprint: l[3], Gateway: l[4], PowerOffOnExit: l[5] == "1"}
	if l[1] != DefaultMaster {
		p.Master = l[1]
	}
	return p
}

// TestShellParamsMatchGo holds /init's parser and ParseCmdline together,
// and checks that OEM strings are read and overridden by the command line.
func TestShellParamsMatchGo(t *testing.T) {
	dmi := t.TempDir()
	cases := []string{
		"console=ttyS0 xrdtest.name=a.xrd.test",
		"xrdtest.name=srv1.xrd.test xrdtest.master=10.0.2.2:3000 xrdtest.token=abc xrdtest.ca=sha256:00ff xrdtest.gw=10.1.1.1 xrdtest.poweroff_on_exit=1",
		"xrdtest.name=x xrdtest.name=y  xrdtest.token=a=b\txrdtest.master=[::1]:20000 xrdtest.poweroff_on_exit=yes",
		"xrdtest.name=* xrdtest.token=?",
		"",
	}
	for _, c := range cases {
		if got, want := shellParams(t, dmi, c), ParseCmdline(c); got != want {
			t.Errorf("cmdline %q: shell %+v, Go %+v", c, got, want)
		}
	}
	// OEM strings in two type 11 entries; the command line wins.
	os.MkdirAll(filepath.Join(dmi, "11-0"), 0o755)
	os.MkdirAll(filepath.Join(dmi, "11-1"), 0o755)
	os.MkdirAll(filepath.Join(dmi, "1-0"), 0o755)
	os.WriteFile(filepath.Join(dmi, "11-0", "raw"), oemEntry("xrdtest.name=oem.xrd.test", "other string", "xrdtest.token=oemtoken"), 0o444)
	os.WriteFile(filepath.Join(dmi, "11-1", "raw"), oemEntry("xrdtest.ca=sha256:oem"), 0o444)
	os.WriteFile(filepath.Join(dmi, "1-0", "raw"), oemEntry("xrdtest.name=not-type-11"), 0o444)
	got := shellParams(t, dmi, "quiet xrdtest.token=cmdline")
	want := BootParams{Name: "oem.xrd.test", Token: "cmdline", CAFingerprint: "sha256:oem"}
	if got != want {
		t.Errorf("OEM + cmdline: %+v, want %+v", got, want)
	}
}

// TestIdentityHelper runs dist/xrdtest-slave-identity (POSIX sh, as a full
// Debian image runs it) on fake OEM strings and a fake command line.
func TestIdentityHelper(t *testing.T) {
	script, err := filepath.Abs("../../dist/xrdtest-slave-identity")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Fatal(err)
	}
	dmi := t.TempDir()
	os.MkdirAll(filepath.Join(dmi, "11-0"), 0o755)
	os.WriteFile(filepath.Join(dmi, "11-0", "raw"), oemEntry("xrdtest.name=vm1.xrd.test", "xrdtest.master=10.0.0.1:20000", "xrdtest.token=tok123",
		"xrdtest.ca=sha256:abcd", "xrdtest.gw=10.0.0.254"), 0o444)
	cmdline := filepath.Join(t.TempDir(), "cmdline")
	os.WriteFile(cmdline, []byte("root=/dev/vda1 ro xrdtest.master=[fd00::1]:3000\n"), 0o644)
	out := filepath.Join(t.TempDir(), "run", "slave.env")
	run := func() (string, map[string]string) {
		t.Helper()
		cmd := exec.Command("sh", script, out)
		cmd.Env = append(os.Environ(), "XRDTEST_DMI_DIR="+dmi, "XRDTEST_CMDLINE_FILE="+cmdline)
		o, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, o)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			k, v, _ := strings.Cut(l, "=")
			env[k] = v
		}
		return string(o), env
	}
	msg, env := run()
	want := map[string]string{
		"XRDTEST_SLAVE_NAME":                 "vm1.xrd.test",
		"XRDTEST_TEST_MASTER_IP":             "fd00::1",
		"XRDTEST_TEST_MASTER_PORT":           "3000",
		"XRDTEST_TOKEN":                      "tok123",
		"XRDTEST_TEST_MASTER_CA_FINGERPRINT": "sha256:abcd",
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env file %v\nwant %v", env, want)
	}
	if strings.Contains(msg, "tok123") {
		t.Errorf("the helper printed the token: %s", msg)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("env file mode: %v %v", st.Mode(), err)
	}
	// A value that could inject into the environment file is refused.
	os.WriteFile(cmdline, []byte("xrdtest.name=evil$(id) xrdtest.master=a:1\n"), 0o644)
	_, env = run()
	if env["XRDTEST_SLAVE_NAME"] != "vm1.xrd.test" || env["XRDTEST_TEST_MASTER_IP"] != "a" {
		t.Errorf("unsafe name not ignored: %v", env)
	}
	// Nothing anywhere: an empty file (the configuration file applies).
	os.RemoveAll(filepath.Join(dmi, "11-0"))
	os.WriteFile(cmdline, []byte("quiet\n"), 0o644)
	if _, env = run(); len(env) != 0 {
		t.Errorf("no identity: %v", env)
	}
}

// TestMinRAM holds MinRAM against the boot thresholds measured with qemu
// (TCG, Debian's 6.1 cloud kernel): the least RAM with which the kernel
// unpacked the archive, for the image without packages and the one with
// the XRootD packages. MinRAM must not fall below them, nor ask for much
// more.
func TestMinRAM(t *testing.T) {
	for _, c := range []struct {
		initrd   int64
		measured int // MiB: one MiB less failed with "Initramfs unpacking failed"
	}{
		{35839676, 150},  // 34.2 MiB: the image without packages
		{198680296, 643}, // 189.5 MiB: xrootd-server, xrootd-client, procps, libc-bin
	} {
		got := MinRAM(c.initrd)
		if got < c.measured || got > c.measured+32 || got%8 != 0 {
			t.Errorf("MinRAM(%d) = %d MiB, want a multiple of 8 from %d to %d", c.initrd, got, c.measured, c.measured+32)
		}
		if err := RAMCheck(uint64(got)<<10, c.initrd); err != nil {
			t.Errorf("RAMCheck at MinRAM: %v", err)
		}
		err := RAMCheck(uint64(c.measured-1)<<10, c.initrd)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at least %d MiB (ramSize '%d')", got, got<<10)) {
			t.Errorf("RAMCheck below the measured threshold: %v", err)
		}
	}
}
