package image

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func fixtureDB(t *testing.T, soft map[string][]string) *ModuleDB {
	t.Helper()
	db, err := LoadModuleDB("testdata/modules")
	if err != nil {
		t.Fatal(err)
	}
	db.SoftDeps = func(rel string) ([]string, error) { return soft[ModuleName(rel)], nil }
	return db
}

func names(rels []string) []string {
	out := make([]string, len(rels))
	for i, r := range rels {
		out[i] = ModuleName(r)
	}
	return out
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/char/hw_random/virtio-rng.ko": "virtio_rng",
		"kernel/fs/ext4/ext4.ko.xz":                   "ext4",
		"crc32c-intel.ko.zst":                         "crc32c_intel",
		"sd_mod":                                      "sd_mod",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveDefaultModules(t *testing.T) {
	db := fixtureDB(t, map[string][]string{"ext4": {"crc32c"}, "jbd2": {"crc32c"}})
	boot, err := db.Resolve(DefaultModules)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := db.Resolve(DefaultDiskModules)
	if err != nil {
		t.Fatal(err)
	}
	// What Build ships: the boot modules, then the disk ones not among them.
	var diskOnly []string
	for _, rel := range disk.Load {
		if !slices.Contains(boot.Load, rel) {
			diskOnly = append(diskOnly, rel)
		}
	}
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"boot", names(boot.Load), []string{
			// virtio_pci
			"virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio", "virtio_pci",
			// virtio_net (virtio_ring and virtio already there)
			"failover", "net_failover", "virtio_net",
			"virtio_rng",
		}},
		{"disk", names(diskOnly), []string{
			"virtio_blk",
			// ext4: soft dependency crc32c (both providers, from modules.alias), then its hard ones
			"crc32c_intel", "crc32c_generic", "jbd2", "mbcache", "crc16", "ext4",
		}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s load order\n got %v\nwant %v", c.name, c.got, c.want)
		}
	}
	if len(boot.Builtin)+len(disk.Builtin) != 0 || len(boot.Notes)+len(disk.Notes) != 0 {
		t.Errorf("builtin %v %v notes %v %v", boot.Builtin, disk.Builtin, boot.Notes, disk.Notes)
	}
	shipped := append(slices.Clone(boot.Load), diskOnly...)
	checkOrder(t, db, shipped)
	dep := string(db.DepFile(shipped))
	if !strings.Contains(dep, "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko\n") ||
		strings.Count(dep, "\n") != len(shipped) || strings.Contains(dep, "xfs") || strings.Contains(dep, "scsi") {
		t.Errorf("DepFile:\n%s", dep)
	}
}

// checkOrder verifies the property the kernel needs: every module comes
// after all of its modules.dep dependencies, each module once.
func checkOrder(t *testing.T, db *ModuleDB, load []string) {
	t.Helper()
	pos := map[string]int{}
	for i, rel := range load {
		if _, dup := pos[rel]; dup {
			t.Errorf("%s listed twice", rel)
		}
		pos[rel] = i
	}
	for i, rel := range load {
		for _, d := range db.Deps[rel] {
			if j, ok := pos[d]; !ok || j > i {
				t.Errorf("%s (at %d) needs %s (at %d, present %v)", rel, i, d, j, ok)
			}
		}
	}
}

func TestResolveBuiltinAndAliases(t *testing.T) {
	db := fixtureDB(t, map[string][]string{"xfs": {"crc32c", "no_such_thing"}, "libcrc32c": {"crc-t10dif"}})
	// btrfs is built in; fs-ext4 is an alias of a module; xfs pulls
	// libcrc32c (hard) and crc32c (soft, via alias); a missing soft
	// dependency is only noted; a built-in soft dependency is skipped.
	p, err := db.Resolve([]string{"btrfs", "fs-ext4", "xfs", "virtio-rng"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Builtin, []string{"btrfs"}) {
		t.Errorf("builtin %v", p.Builtin)
	}
	want := []string{"jbd2", "mbcache", "crc16", "ext4", "crc32c_intel", "crc32c_generic", "libcrc32c", "xfs", "virtio", "virtio_ring", "virtio_rng"}
	if got := names(p.Load); !reflect.DeepEqual(got, want) {
		t.Errorf("load order\n got %v\nwant %v", got, want)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "no_such_thing") {
		t.Errorf("notes %v", p.Notes)
	}
	checkOrder(t, db, p.Load)
}

func TestResolveErrors(t *testing.T) {
	db := fixtureDB(t, nil)
	if _, err := db.Resolve([]string{"virtio_net", "nonexistent_mod"}); err == nil || !strings.Contains(err.Error(), "nonexistent_mod") {
		t.Errorf("unknown module: %v", err)
	}
	// A dependency modules.dep does not list, and a loop.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte("a.ko: b.ko\nb.ko: c.ko\nc.ko: a.ko\nd.ko: e.ko\n"), 0o644)
	db, err := LoadModuleDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	db.SoftDeps = func(string) ([]string, error) { return nil, nil }
	if _, err := db.Resolve([]string{"a"}); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("loop: %v", err)
	}
	if _, err := db.Resolve([]string{"d"}); err == nil || !strings.Contains(err.Error(), "e.ko") {
		t.Errorf("missing dependency: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte("garbage line without colon\n"), 0o644)
	if _, err := LoadModuleDB(dir); err == nil {
		t.Error("malformed modules.dep accepted")
	}
	if _, err := LoadModuleDB(t.TempDir()); err == nil {
		t.Error("missing modules.dep accepted")
	}
}

func TestParseSoftDeps(t *testing.T) {
	info := []byte("license=GPL\x00softdep=pre: crc32c crc16 post: foo\x00alias=fs-ext4\x00softdep=pre: bar\x00depends=jbd2,mbcache\x00")
	if got := ParseSoftDeps(info); !reflect.DeepEqual(got, []string{"crc32c", "crc16", "bar"}) {
		t.Errorf("ParseSoftDeps = %v", got)
	}
	if got := ParseSoftDeps([]byte("softdep=post: x\x00")); len(got) != 0 {
		t.Errorf("post only: %v", got)
	}
}
