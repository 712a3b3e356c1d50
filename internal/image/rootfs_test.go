package image

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeELF writes a minimal ELF64 x86-64 file of type typ with the given
// program header types.
func fakeELF(t *testing.T, typ elf.Type, progs ...elf.ProgType) string {
	t.Helper()
	var b bytes.Buffer
	hdr := elf.Header64{
		Ident:     [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:      uint16(typ),
		Machine:   uint16(elf.EM_X86_64),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     0x401000,
		Phoff:     64,
		Ehsize:    64,
		Phentsize: 56,
		Phnum:     uint16(len(progs)),
	}
	binary.Write(&b, binary.LittleEndian, hdr)
	for _, p := range progs {
		binary.Write(&b, binary.LittleEndian, elf.Prog64{Type: uint32(p), Flags: uint32(elf.PF_R), Align: 8})
	}
	f := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(f, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestIsStatic(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		static  bool
		wantErr bool
	}{
		{"static executable", fakeELF(t, elf.ET_EXEC, elf.PT_LOAD, elf.PT_NOTE), true, false},
		{"static PIE", fakeELF(t, elf.ET_DYN, elf.PT_LOAD, elf.PT_DYNAMIC), true, false},
		{"dynamic executable", fakeELF(t, elf.ET_EXEC, elf.PT_PHDR, elf.PT_INTERP, elf.PT_LOAD), false, false},
		{"dynamic PIE", fakeELF(t, elf.ET_DYN, elf.PT_INTERP, elf.PT_LOAD), false, false},
		{"relocatable object (a kernel module)", fakeELF(t, elf.ET_REL), false, true},
	}
	for _, c := range cases {
		static, err := IsStatic(c.file)
		if static != c.static || (err != nil) != c.wantErr {
			t.Errorf("%s: IsStatic = %v, %v; want %v, error %v", c.name, static, err, c.static, c.wantErr)
		}
	}
	script := filepath.Join(t.TempDir(), "script")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	if _, err := IsStatic(script); err == nil {
		t.Error("a shell script passed as ELF")
	}
	if err := checkStatic(cases[2].file); err == nil || !strings.Contains(err.Error(), "PT_INTERP") {
		t.Errorf("checkStatic of a dynamic binary: %v", err)
	}
	// A real dynamic binary of the host, when there is one.
	for _, p := range []string{"/bin/ls", "/usr/bin/env"} {
		if st, err := IsStatic(p); err == nil {
			if st {
				t.Logf("%s is static here", p)
			}
			break
		}
	}
}

// TestRootfs writes an initramfs from fake parts and reads it back.
func TestRootfs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	moddir := filepath.Join(dir, "lib/modules/6.1.0-test")
	write("lib/modules/6.1.0-test/kernel/drivers/virtio/virtio.ko", "VIRTIO")
	write("lib/modules/6.1.0-test/kernel/drivers/net/virtio_net.ko", "VIRTIONET")
	write("lib/modules/6.1.0-test/kernel/drivers/block/virtio_blk.ko", "VIRTIOBLK")
	write("lib/modules/6.1.0-test/modules.builtin", "kernel/fs/ext4/ext4.ko\n")
	load := []string{"kernel/drivers/virtio/virtio.ko", "kernel/drivers/net/virtio_net.ko"}
	rf := &rootfs{KernelVersion: "6.1.0-test", ModDir: moddir, Load: load, DiskLoad: []string{"kernel/drivers/block/virtio_blk.ko"},
		DepFile: []byte("kernel/drivers/virtio/virtio.ko:\nkernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko\n"),
		Busybox: write("busybox", "BUSYBOX"), Bash: write("bash-static", "BASH"), Xrdtest: write("xrdtest", "XRDTEST"),
		Applets: []string{"bin/sh", "bin/ls", "usr/bin/awk", "sbin/udhcpc", "bin/busybox", "linuxrc"},
		Mtime:   time.Unix(1700000000, 0)}
	initrd := filepath.Join(dir, "out", "initrd.img")
	os.MkdirAll(filepath.Dir(initrd), 0o755)
	size, err := writeInitrd(initrd, rf)
	if err != nil {
		t.Fatal(err)
	}
	e, n := initrdEntries(t, initrd)
	if int64(n) != size {
		t.Errorf("size %d, archive %d", size, n)
	}
	check := func(name string, mode uint32, data string) { t.Helper(); checkEntry(t, e, name, mode, data) }
	initScript, _ := initramfsFiles.ReadFile("initramfs/init")
	check("init", cpioReg|0o755, string(initScript))
	check("dev/console", cpioChar|0o600, "")
	if c := e["dev/console"]; c.RMajor != 5 || c.RMinor != 1 {
		t.Errorf("dev/console is %d:%d", c.RMajor, c.RMinor)
	}
	check("dev/null", cpioChar|0o666, "")
	check("bin/busybox", cpioReg|0o755, "BUSYBOX")
	check("bin/bash", cpioReg|0o755, "BASH")
	check("usr/bin/xrdtest", cpioReg|0o755, "XRDTEST")
	check("bin/sh", cpioSymlink|0o777, "/bin/busybox")
	check("usr/bin/awk", cpioSymlink|0o777, "/bin/busybox")
	check("sbin/udhcpc", cpioSymlink|0o777, "/bin/busybox")
	check("bin/mountpoint", cpioReg|0o755, "*")
	check("tmp", cpioDir|0o1777, "")
	check("root", cpioDir|0o700, "")
	check("var/lib/xrdtest/slave", cpioDir|0o755, "")
	check("var/lib/xrdtest/work", cpioDir|0o755, "")
	check("etc/XrdTest/utils", cpioDir|0o755, "")
	check("etc/passwd", cpioReg|0o644, "*")
	check("etc/group", cpioReg|0o644, "*")
	check("etc/hosts", cpioReg|0o644, "*")
	check("etc/xrdtest/udhcpc.script", cpioReg|0o755, "*")
	check("etc/xrdtest/params.sh", cpioReg|0o644, "*")
	check("etc/xrdtest/modules", cpioReg|0o644, strings.Join(load, "\n")+"\n")
	check("etc/xrdtest/modules.disk", cpioReg|0o644, "kernel/drivers/block/virtio_blk.ko\n")
	check("lib/modules/6.1.0-test/kernel/drivers/block/virtio_blk.ko", cpioReg|0o644, "VIRTIOBLK")
	check("lib/modules/6.1.0-test/kernel/drivers/net/virtio_net.ko", cpioReg|0o644, "VIRTIONET")
	check("lib/modules/6.1.0-test/modules.dep", cpioReg|0o644, string(rf.DepFile))
	check("lib/modules/6.1.0-test/modules.builtin", cpioReg|0o644, "kernel/fs/ext4/ext4.ko\n")
	if _, ok := e["linuxrc"]; ok {
		t.Error("linuxrc link written")
	}
	if !strings.HasPrefix(e["etc/passwd"].Name, "etc") || !strings.Contains(string(e["etc/passwd"].Data), "root:x:0:0:root:/root:/bin/bash\n") {
		t.Errorf("passwd: %q", e["etc/passwd"].Data)
	}
}

// TestScriptsParse checks the shell syntax of the image's scripts and of
// the identity helper (bash -n / sh -n).
func TestScriptsParse(t *testing.T) {
	for file, shell := range map[string]string{
		"initramfs/init": "bash", "initramfs/params.sh": "bash", "initramfs/udhcpc.script": "sh",
		"initramfs/mountpoint": "sh", "../../dist/xrdtest-slave-identity": "sh",
	} {
		if _, err := exec.LookPath(shell); err != nil {
			t.Skipf("no %s", shell)
		}
		if out, err := exec.Command(shell, "-n", file).CombinedOutput(); err != nil {
			t.Errorf("%s -n %s: %v\n%s", shell, file, err, out)
		}
	}
}

func TestMountpointScript(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc/self/mountinfo")
	}
	for dir, want := range map[string]int{"/proc": 0, "/proc/self": 1, "/": 0} {
		err := exec.Command("sh", "initramfs/mountpoint", "-q", dir).Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Errorf("mountpoint -q %s: exit %d, want %d", dir, code, want)
		}
	}
}

// initrdEntries reads the entries of the initrd at path (an uncompressed
// archive: the kernel copies it as it is) by name, and its size.
func initrdEntries(t *testing.T, path string) (map[string]cpioEntry, int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cpioEntries(t, raw), len(raw)
}

// cpioEntries reads an archive's entries by name.
func cpioEntries(t *testing.T, raw []byte) map[string]cpioEntry {
	t.Helper()
	entries, err := readCPIO(raw)
	if err != nil {
		t.Fatal(err)
	}
	e := map[string]cpioEntry{}
	for _, x := range entries {
		e[x.Name] = x
	}
	return e
}

// checkEntry checks that e holds name with mode and content data ("*":
// any).
func checkEntry(t *testing.T, e map[string]cpioEntry, name string, mode uint32, data string) {
	t.Helper()
	x, ok := e[name]
	if !ok {
		t.Errorf("%s missing", name)
		return
	}
	if x.Mode != mode {
		t.Errorf("%s: mode %o, want %o", name, x.Mode, mode)
	}
	if data != "*" && string(x.Data) != data {
		t.Errorf("%s: content %q, want %q", name, x.Data, data)
	}
}
