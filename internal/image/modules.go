package image

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultModules are the kernel modules the image loads at every boot, by
// name: the virtio PCI transport, the network and the virtio RNG (entropy
// for TLS keys right after boot). Their dependencies come from modules.dep;
// a module the kernel has built in is skipped.
var DefaultModules = []string{"virtio_pci", "virtio_net", "virtio_rng"}

// DefaultDiskModules are loaded when a virtio disk is attached (a data
// disk): virtio-blk and ext4. A guest without disks does not pay for them
// (a tenth of a TCG boot). The boot overlay (sda, on virtio-scsi) is not
// used by the image: `modprobe virtio_scsi sd_mod` after adding them with
// --modules if a script wants it.
var DefaultDiskModules = []string{"virtio_blk", "ext4"}

// ModuleDB is a kernel's module index: modules.dep, modules.builtin and
// modules.alias of one /lib/modules/VERSION directory.
type ModuleDB struct {
	Dir     string              // the /lib/modules/VERSION directory
	Deps    map[string][]string // module path (relative to Dir) -> its dependencies, as listed
	ByName  map[string]string   // normalized module name -> path
	Builtin map[string]bool     // normalized names of built-in modules
	Aliases map[string][]string // exact alias -> normalized module names
	// SoftDeps returns the "pre:" soft dependencies of a module file
	// (relative path), by module or alias name. Nil: ReadSoftDeps on the
	// file under Dir.
	SoftDeps func(rel string) ([]string, error)
}

// ModuleName is the normalized name of a module file: its base name
// without .ko and compression suffix, '-' written '_' (as the kernel and
// modprobe treat them).
func ModuleName(p string) string {
	n := path.Base(filepath.ToSlash(p))
	if i := strings.Index(n, ".ko"); i >= 0 {
		n = n[:i]
	}
	return strings.ReplaceAll(n, "-", "_")
}

// LoadModuleDB reads modules.dep (required), modules.builtin and
// modules.alias (optional) from dir.
func LoadModuleDB(dir string) (*ModuleDB, error) {
	db := &ModuleDB{Dir: dir, Deps: map[string][]string{}, ByName: map[string]string{}, Builtin: map[string]bool{}, Aliases: map[string][]string{}}
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := db.parseDep(f); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			db.Builtin[ModuleName(l)] = true
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.alias")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			fs := strings.Fields(l)
			if len(fs) == 3 && fs[0] == "alias" && !strings.ContainsAny(fs[1], "*?[") {
				db.Aliases[fs[1]] = append(db.Aliases[fs[1]], ModuleName(fs[2]))
			}
		}
	}
	return db, nil
}

func (db *ModuleDB) parseDep(r *os.File) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		mod, deps, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(mod) == "" {
			return fmt.Errorf("line %d: want \"module: deps...\", got %q", line, l)
		}
		mod = strings.TrimSpace(mod)
		db.Deps[mod] = strings.Fields(deps)
		db.ByName[ModuleName(mod)] = mod
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(db.Deps) == 0 {
		return errors.New("no modules listed")
	}
	return nil
}

// Plan is what Resolve decided.
type Plan struct {
	// Load lists module paths (relative to the module directory), each
	// after everything it depends on: insmod them in this order.
	Load []string
	// Builtin lists requested modules the kernel has built in.
	Builtin []string
	// Notes explain soft dependencies that were skipped.
	Notes []string
}

// Resolve returns the load order of the named modules and of everything
// they need: hard dependencies from modules.dep and "pre:" soft
// dependencies from the modules' .modinfo (ext4's crc32c, for one), each
// module after its dependencies. A requested module that is neither in
// modules.dep nor built in is an error; a soft dependency that cannot be
// found is only noted, as modprobe would.
func (db *ModuleDB) Resolve(names []string) (*Plan, error) {
	p := &Plan{}
	seen := map[string]bool{}
	var visit func(rel string, chain []string) error
	visit = func(rel string, chain []string) error {
		if seen[rel] {
			return nil
		}
		for _, c := range chain {
			if c == rel {
				return fmt.Errorf("dependency loop: %s -> %s", strings.Join(chain, " -> "), rel)
			}
		}
		chain = append(chain, rel)
		soft, err := db.softDeps(rel)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		for _, s := range soft {
			targets, builtin := db.lookup(s)
			if builtin {
				continue
			}
			if len(targets) == 0 {
				p.Notes = append(p.Notes, fmt.Sprintf("%s: soft dependency %s not found; skipped", ModuleName(rel), s))
				continue
			}
			for _, t := range targets {
				if err := visit(t, chain); err != nil {
					return err
				}
			}
		}
		for _, d := range db.Deps[rel] {
			if _, ok := db.Deps[d]; !ok {
				return fmt.Errorf("%s depends on %s, which modules.dep does not list", rel, d)
			}
			if err := visit(d, chain); err != nil {
				return err
			}
		}
		if !seen[rel] {
			seen[rel] = true
			p.Load = append(p.Load, rel)
		}
		return nil
	}
	for _, name := range names {
		name = strings.TrimSpace(name)
		n := strings.ReplaceAll(name, "-", "_")
		if n == "" {
			continue
		}
		if rel, ok := db.ByName[n]; ok {
			if err := visit(rel, nil); err != nil {
				return nil, err
			}
			continue
		}
		if db.Builtin[n] {
			p.Builtin = append(p.Builtin, n)
			continue
		}
		targets, builtin := db.lookup(name)
		switch {
		case builtin:
			p.Builtin = append(p.Builtin, n)
		case len(targets) == 0:
			return nil, fmt.Errorf("module %s: not in %s/modules.dep and not built in", n, db.Dir)
		}
		for _, t := range targets {
			if err := visit(t, nil); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// lookup finds the module files for a module or alias name; builtin is
// true when the kernel has it built in (then nothing needs loading).
func (db *ModuleDB) lookup(name string) (rels []string, builtin bool) {
	n := strings.ReplaceAll(name, "-", "_")
	if rel, ok := db.ByName[n]; ok {
		return []string{rel}, false
	}
	if db.Builtin[n] {
		return nil, true
	}
	mods := db.Aliases[name]
	if len(mods) == 0 {
		mods = db.Aliases[n]
	}
	for _, m := range mods {
		if db.Builtin[m] {
			return nil, true
		}
	}
	for _, m := range mods {
		if rel, ok := db.ByName[m]; ok {
			rels = append(rels, rel)
		}
	}
	sort.Strings(rels)
	return rels, false
}

func (db *ModuleDB) softDeps(rel string) ([]string, error) {
	if db.SoftDeps != nil {
		return db.SoftDeps(rel)
	}
	return ReadSoftDeps(filepath.Join(db.Dir, rel))
}

// ReadSoftDeps returns the "pre:" soft dependencies recorded in a module
// file's .modinfo section (uncompressed .ko files; others have none read).
func ReadSoftDeps(file string) ([]string, error) {
	if !strings.HasSuffix(file, ".ko") {
		return nil, nil
	}
	f, err := elf.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, nil
	}
	data, err := s.Data()
	if err != nil {
		return nil, err
	}
	return ParseSoftDeps(data), nil
}

// ParseSoftDeps extracts the "pre:" names of every softdep= entry of a
// .modinfo section (NUL-separated key=value strings), e.g.
// "softdep=pre: crc32c post: foo" gives [crc32c].
func ParseSoftDeps(modinfo []byte) []string {
	var out []string
	for _, kv := range bytes.Split(modinfo, []byte{0}) {
		v, ok := bytes.CutPrefix(kv, []byte("softdep="))
		if !ok {
			continue
		}
		pre := false
		for _, w := range strings.Fields(string(v)) {
			switch {
			case strings.HasSuffix(w, ":"):
				pre = w == "pre:"
			case pre:
				out = append(out, w)
			}
		}
	}
	return out
}

// DepFile is modules.dep for just the planned modules, with their paths as
// in the image: busybox modprobe in the guest then finds them.
func (db *ModuleDB) DepFile(load []string) []byte {
	var b bytes.Buffer
	for _, rel := range load {
		fmt.Fprintf(&b, "%s:", rel)
		for _, d := range db.Deps[rel] {
			fmt.Fprintf(&b, " %s", d)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}
