package image

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePrintURIs(t *testing.T) {
	out := "'http://deb.debian.org/debian/pool/main/g/glibc/libc6_2.36-9%2bdeb12u14_amd64.deb' libc6_2.36-9+deb12u14_amd64.deb 2759320 MD5Sum:8d98f0c882f269aaee8437bcfe89346e\n" +
		"'http://deb.debian.org/debian-security/pool/updates/main/x/xz-utils/liblzma5_5.4.1-1%2bdeb12u2_amd64.deb' liblzma5_5.4.1-1+deb12u2_amd64.deb 205796\n" +
		"'http://deb.debian.org/debian/pool/main/b/busybox/busybox-static_1%3a1.35.0-4_amd64.deb' busybox-static_1%3a1.35.0-4_amd64.deb 1000 SHA256:00\n"
	refs, err := parsePrintURIs([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []debRef{{"libc6", "2.36-9+deb12u14", 2759320}, {"liblzma5", "5.4.1-1+deb12u2", 205796}, {"busybox-static", "1:1.35.0-4", 1000}}
	if !slices.Equal(refs, want) {
		t.Errorf("got %+v\nwant %+v", refs, want)
	}
	for _, bad := range []string{
		"Reading package lists...\n",              // progress text: never guessed at
		"'http://x/a.deb' a_1.deb 12 MD5Sum:00\n", // no architecture
		"'http://x/a.deb' a_1_amd64.deb twelve\n",
	} {
		if _, err := parsePrintURIs([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestResolveClosureCommand checks the apt-get call (an empty dpkg status,
// an empty archive folder, no Recommends, machine-readable output on
// stdout) and the one apt-get update when the lists do not know a package.
func TestResolveClosureCommand(t *testing.T) {
	a := &apt{cache: t.TempDir(), logf: t.Logf}
	var calls [][]string
	a.runStdout = func(_ context.Context, name string, args ...string) ([]byte, error) {
		calls = append(calls, append([]string{name}, args...))
		if len(calls) == 1 {
			return nil, errors.New("apt-get: exit status 100\nE: Unable to locate package xrootd-server")
		}
		return []byte("'http://x/z_1_amd64.deb' z_1_amd64.deb 10 MD5Sum:00\n'http://x/a_2_amd64.deb' a_2_amd64.deb 20 MD5Sum:00\n"), nil
	}
	updates := 0
	a.run = func(_ context.Context, _ string, name string, args ...string) ([]byte, error) {
		if name == "apt-get" && slices.Contains(args, "update") {
			updates++
			return nil, nil
		}
		return nil, errors.New("unexpected " + name)
	}
	refs, err := a.resolveClosure(context.Background(), []string{"xrootd-server", "xrootd-client"})
	if err != nil {
		t.Fatal(err)
	}
	if updates != 1 || len(calls) != 2 {
		t.Errorf("%d updates, %d resolutions; want 1 and 2", updates, len(calls))
	}
	if len(refs) != 2 || refs[0].Name != "a" || refs[1].Name != "z" {
		t.Errorf("refs %+v: want a then z", refs)
	}
	args := strings.Join(calls[1], " ")
	status := filepath.Join(a.cache, "apt-empty", "status")
	for _, w := range []string{"apt-get -qq --print-uris", "Dir::State::status=" + status, "Dir::Cache::archives=", "APT::Install-Recommends=false",
		"install xrootd-server xrootd-client"} {
		if !strings.Contains(args, w) {
			t.Errorf("apt-get call %q lacks %q", args, w)
		}
	}
	if st, err := os.Stat(status); err != nil || st.Size() != 0 {
		t.Errorf("status file: %v, %v", st, err)
	}
	// A failure of another kind is no reason for apt-get update.
	a.updated = false
	a.runStdout = func(context.Context, string, ...string) ([]byte, error) {
		return nil, errors.New("apt-get: exit status 100\nE: Unmet dependencies")
	}
	if _, err := a.resolveClosure(context.Background(), []string{"x"}); err == nil || a.updated {
		t.Errorf("unmet dependencies: %v, update ran: %v", err, a.updated)
	}
}

// TestResolveClosureApt resolves xrootd-server and xrootd-client with this
// host's apt: the closure of an empty system, whatever is installed here.
func TestResolveClosureApt(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("no apt-get")
	}
	if out, err := exec.Command("apt-cache", "show", "--no-all-versions", "xrootd-server").Output(); err != nil || len(out) == 0 {
		t.Skip("the package lists do not know xrootd-server (apt-get update)")
	}
	a := newApt(t.TempDir(), t.Logf)
	a.updated = true // never update the host's lists from a test
	refs, err := a.resolveClosure(context.Background(), []string{"xrootd-server", "xrootd-client"})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, r := range refs {
		names[r.Name] = r.Version
	}
	t.Logf("%d packages", len(refs))
	// libc6 is installed here: an empty system needs it all the same.
	for _, w := range []string{"xrootd-server", "xrootd-client", "libc6", "perl", "cron", "expect", "tzdata", "libicu72", "libxrdcl3"} {
		if names[w] == "" {
			t.Errorf("closure lacks %s", w)
		}
	}
	if len(refs) < 80 || len(refs) > 140 {
		t.Errorf("closure of %d packages; about 105 expected", len(refs))
	}
	if v := names["xrootd-server"]; v != "" {
		if c := a.candidate(context.Background(), "xrootd-server"); c != v {
			t.Errorf("xrootd-server %s, apt's candidate %s", v, c)
		}
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "symlink:"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDeriveAccounts(t *testing.T) {
	srv := writeTree(t, map[string]string{
		"usr/lib/tmpfiles.d/xrootd.conf": "# comment\nd /run/xrootd - xrootd xrootd -\nd /run/other 0755 root root -\nd /run/n - 0 0 -\n",
	})
	other := writeTree(t, map[string]string{
		"usr/lib/sysusers.d/fixed.conf": "u fixed 990 \"Fixed user\" /var/lib/fixed /bin/sh\ng fixedgrp 980\n",
		"usr/lib/sysusers.d/any.conf":   "u anyuser - \"Any\"\n",
		"lib/tmpfiles.d/spool.conf":     "d /var/spool/x 0750 root spoolgrp -\n",
	})
	acc, err := deriveAccounts([]tree{{"xrootd-server", srv}, {"other", other}})
	if err != nil {
		t.Fatal(err)
	}
	passwd, group := acc.passwd(), acc.group()
	for _, w := range []string{
		"root:x:0:0:root:/root:/bin/bash\n",
		"fixed:x:990:990:Fixed user:/var/lib/fixed:/bin/sh\n",    // sysusers.d, its id
		"anyuser:x:999:999:Any:/nonexistent:/usr/sbin/nologin\n", // sysusers.d, the first free id
		"xrootd:x:998:998::/nonexistent:/usr/sbin/nologin\n",     // a tmpfiles.d owner
	} {
		if !strings.Contains(passwd, w) {
			t.Errorf("passwd lacks %q:\n%s", w, passwd)
		}
	}
	for _, w := range []string{"fixed:x:990:\n", "fixedgrp:x:980:\n", "anyuser:x:999:\n", "xrootd:x:998:\n", "spoolgrp:x:997:\n", "nogroup:x:65534:\n"} {
		if !strings.Contains(group, w) {
			t.Errorf("group lacks %q:\n%s", w, group)
		}
	}
	if strings.Count(passwd, "\nroot:") != 0 || strings.Contains(passwd, "spoolgrp") {
		t.Errorf("passwd:\n%s", passwd)
	}
	if s := strings.Join(acc.summary(), "\n"); !strings.Contains(s, "user xrootd 998:998 (xrootd-server: /usr/lib/tmpfiles.d/xrootd.conf)") {
		t.Errorf("summary:\n%s", s)
	}

	// Without packages, the data disks' owner is there all the same.
	acc, err = deriveAccounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := acc.passwd(); !strings.Contains(p, "xrootd:x:999:999::/nonexistent:/usr/sbin/nologin\n") {
		t.Errorf("passwd without packages:\n%s", p)
	}
}

// TestRootfsPackages writes an initramfs with two unpacked packages: their
// files, links and modes, what is left out, what an earlier entry keeps,
// a package command over a busybox applet, and the accounts.
func TestRootfsPackages(t *testing.T) {
	a := writeTree(t, map[string]string{
		"usr/bin/xrdcp":                        "XRDCP",
		"usr/bin/awk":                          "MAWK", // busybox has an awk applet
		"usr/lib/x86_64-linux-gnu/libA.so.1":   "LIBA",
		"usr/lib/x86_64-linux-gnu/libA.so":     "symlink:libA.so.1",
		"usr/share/doc/a/copyright":            "DOC",
		"usr/share/man/man1/xrdcp.1.gz":        "MAN",
		"usr/share/locale/de/LC_MESSAGES/a.mo": "MO",
		"etc/passwd":                           "evil:x:0:0::/:/bin/sh\n", // the image's own is kept
		"usr/lib/tmpfiles.d/a.conf":            "d /run/a - auser auser -\n",
		completeMarker:                         "a 1\n",
	})
	os.Chmod(filepath.Join(a, "usr/bin/xrdcp"), 0o755|os.ModeSetuid)
	b := writeTree(t, map[string]string{
		"usr/bin/xrdcp":          "OTHER", // taken by a
		"usr/share/zoneinfo/UTC": "TZ",
	})
	dir := t.TempDir()
	bin := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o755)
		return p
	}
	trees := []tree{{"a", a}, {"b", b}}
	acc, err := deriveAccounts(trees)
	if err != nil {
		t.Fatal(err)
	}
	rf := &rootfs{KernelVersion: "6.1.0-test", ModDir: dir, DepFile: []byte{},
		Busybox: bin("busybox", "BUSYBOX"), Bash: bin("bash", "BASH"), Xrdtest: bin("xrdtest", "XRDTEST"),
		Applets: []string{"bin/sh", "usr/bin/awk", "usr/bin/seq"}, Mtime: time.Unix(1700000000, 0), Trees: trees, Accounts: acc}
	initrd := filepath.Join(dir, "initrd.img")
	if _, err := writeInitrd(initrd, rf); err != nil {
		t.Fatal(err)
	}
	e, _ := initrdEntries(t, initrd)
	check := func(name string, mode uint32, data string) { t.Helper(); checkEntry(t, e, name, mode, data) }
	check("usr/bin/xrdcp", cpioReg|0o4755, "XRDCP")
	check("usr/bin/awk", cpioReg|0o644, "MAWK")
	check("usr/bin/seq", cpioSymlink|0o777, "/bin/busybox")
	check("bin/sh", cpioSymlink|0o777, "/bin/busybox")
	check("usr/lib/x86_64-linux-gnu/libA.so.1", cpioReg|0o644, "LIBA")
	check("usr/lib/x86_64-linux-gnu/libA.so", cpioSymlink|0o777, "libA.so.1")
	check("usr/share/zoneinfo/UTC", cpioReg|0o644, "TZ")
	check("usr/share", cpioDir|0o755, "")
	for _, gone := range []string{"usr/share/doc", "usr/share/doc/a/copyright", "usr/share/man/man1/xrdcp.1.gz", "usr/share/locale", completeMarker} {
		if _, ok := e[gone]; ok {
			t.Errorf("%s is in the image", gone)
		}
	}
	if p := string(e["etc/passwd"].Data); strings.Contains(p, "evil") || !strings.Contains(p, "auser:x:999:999:") || !strings.Contains(p, "xrootd:x:998:998:") {
		t.Errorf("passwd:\n%s", p)
	}
	if !slices.Contains(rf.stats.Conflicts, "a: /etc/passwd") || !slices.Contains(rf.stats.Conflicts, "b: /usr/bin/xrdcp") {
		t.Errorf("conflicts %q", rf.stats.Conflicts)
	}
	if rf.stats.LeftBytes != int64(len("DOC")+len("MAN")+len("MO")) || rf.stats.Files < 5 {
		t.Errorf("stats %+v", rf.stats)
	}
}
