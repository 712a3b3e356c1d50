package image

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// debRef is one package of a resolved closure.
type debRef struct {
	Name, Version string
	Size          int64 // of the .deb, as the package lists say
}

// parsePrintURIs reads `apt-get -qq --print-uris install` output: one
// line per package to fetch, 'URI' FILE SIZE [HASH], FILE being
// NAME_VERSION_ARCH.deb (the version's epoch colon written %3a). -qq
// leaves nothing else on stdout; a line of another shape is an error
// rather than something guessed at.
func parsePrintURIs(out []byte) ([]debRef, error) {
	var refs []debRef
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if (len(f) != 3 && len(f) != 4) || !strings.HasPrefix(f[0], "'") || !strings.HasSuffix(f[1], ".deb") {
			return nil, fmt.Errorf("unexpected apt-get --print-uris line %q", line)
		}
		parts := strings.Split(strings.TrimSuffix(f[1], ".deb"), "_")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("apt-get --print-uris: %q is not NAME_VERSION_ARCH.deb", f[1])
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("apt-get --print-uris: size of %s: %w", f[1], err)
		}
		refs = append(refs, debRef{Name: parts[0], Version: strings.ReplaceAll(parts[1], "%3a", ":"), Size: size})
	}
	return refs, sc.Err()
}

// closureArgs are the apt-get arguments that print what installing pkgs
// on an empty system would fetch: an empty dpkg status file (nothing is
// installed, so every dependency is fetched, whatever this host has), an
// empty archive folder (apt leaves out what it finds there), no
// Recommends (the image is for running daemons, and smaller), no lock (no
// state of this host is read or written).
func (a *apt) closureArgs(pkgs []string) ([]string, error) {
	state := filepath.Join(a.cache, "apt-empty")
	if err := os.MkdirAll(filepath.Join(state, "archives", "partial"), 0o755); err != nil {
		return nil, err
	}
	status := filepath.Join(state, "status")
	if err := os.WriteFile(status, nil, 0o644); err != nil {
		return nil, err
	}
	args := []string{"-qq", "--print-uris", "-o", "Dir::State::status=" + status,
		"-o", "Dir::Cache::archives=" + filepath.Join(state, "archives"),
		"-o", "APT::Install-Recommends=false", "-o", "APT::Install-Suggests=false",
		"-o", "Debug::NoLocking=1", "install"}
	return append(args, pkgs...), nil
}

// resolveClosure returns pkgs and every package they depend on (Depends
// and Pre-Depends, as apt chooses alternatives and virtual packages), as
// for an empty system, sorted by name. When the package lists do not know
// a package it runs apt-get update once and tries again.
func (a *apt) resolveClosure(ctx context.Context, pkgs []string) ([]debRef, error) {
	args, err := a.closureArgs(pkgs)
	if err != nil {
		return nil, err
	}
	for {
		out, err := a.runOut(ctx, "apt-get", args...)
		if err == nil {
			refs, perr := parsePrintURIs(out)
			if perr != nil {
				return nil, perr
			}
			sort.Slice(refs, func(i, j int) bool { return refs[i].Name < refs[j].Name })
			return refs, nil
		}
		if !listsMissing.MatchString(err.Error()) {
			return nil, err
		}
		if uerr := a.update(ctx, "apt-get cannot resolve "+strings.Join(pkgs, " ")+" (package lists empty or stale)"); uerr != nil {
			return nil, fmt.Errorf("%w: %v", uerr, err)
		}
	}
}

// runOut runs a command and returns its standard output alone; standard
// error goes into the error.
func (a *apt) runOut(ctx context.Context, name string, args ...string) ([]byte, error) {
	if a.runStdout != nil {
		return a.runStdout(ctx, name, args...)
	}
	return runStdout(ctx, name, args...)
}

// fetchAll makes sure every package of refs, at its version, is unpacked
// in the cache: what is missing is downloaded with one apt-get download
// NAME=VERSION... call and unpacked with dpkg -x.
func (a *apt) fetchAll(ctx context.Context, refs []debRef) ([]*unpacked, error) {
	out := make([]*unpacked, len(refs))
	var missing []int
	for i, r := range refs {
		dir := a.pkgDir(r.Name, r.Version)
		if _, err := os.Stat(filepath.Join(dir, completeMarker)); err == nil {
			out[i] = &unpacked{Name: r.Name, Version: r.Version, Dir: dir, Cached: true}
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Join(a.cache, "downloads"), 0o755); err != nil {
		return nil, err
	}
	dl, err := os.MkdirTemp(filepath.Join(a.cache, "downloads"), "closure-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dl)
	args := append(aptOpts(), "download")
	for _, i := range missing {
		args = append(args, refs[i].Name+"="+refs[i].Version)
	}
	a.logf("packages: downloading %d of %d (the others are cached)", len(missing), len(refs))
	if _, err := a.run(ctx, dl, "apt-get", args...); err != nil {
		return nil, err
	}
	debs, _ := filepath.Glob(filepath.Join(dl, "*.deb"))
	byName := map[string]string{}
	for _, d := range debs {
		byName[strings.SplitN(filepath.Base(d), "_", 2)[0]] = d
	}
	for _, i := range missing {
		r := refs[i]
		deb, ok := byName[r.Name]
		if !ok {
			return nil, fmt.Errorf("apt-get download %s=%s left no .deb", r.Name, r.Version)
		}
		dir, err := a.unpack(ctx, deb, r.Name, r.Version)
		if err != nil {
			return nil, err
		}
		out[i] = &unpacked{Name: r.Name, Version: r.Version, Dir: dir}
	}
	return out, nil
}

// unpack runs dpkg -x deb into the cache folder of name and version.
func (a *apt) unpack(ctx context.Context, deb, name, ver string) (string, error) {
	dir := a.pkgDir(name, ver)
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		return "", err
	}
	if _, err := a.run(ctx, "", "dpkg", "-x", deb, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, completeMarker), []byte(name+" "+ver+"\n"), 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// LeftOut are the folders of packages that the image leaves out: the
// image lives in the guest's RAM, and nothing there reads documentation,
// manual pages, translations or bug-report and lint hooks (messages stay
// in English, as the slave runs scripts with LC_ALL unset).
var LeftOut = []string{
	"usr/share/doc", "usr/share/doc-base", "usr/share/man", "usr/share/info", "usr/share/locale",
	"usr/share/lintian", "usr/share/linda", "usr/share/bug", "usr/share/gtk-doc", "usr/share/help",
	"usr/share/bash-completion", "usr/share/zsh", "usr/share/fish", "usr/share/menu",
}

func leftOut(rel string) bool {
	for _, p := range LeftOut {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// tree is an unpacked package to copy into the image.
type tree struct{ Name, Dir string }

// treeStats counts what writing the trees did.
type treeStats struct {
	Files, Links, Dirs int
	Bytes, LeftBytes   int64    // written; left out (LeftOut)
	Conflicts          []string // paths an earlier entry had already taken
}

// writeTrees copies the unpacked packages into the archive, in order:
// regular files (hard links as copies), symlinks and directories with
// their modes, everything owned by root (as dpkg -x leaves it, and as the
// packages' own files are: maintainer scripts, which would chown some,
// do not run). A path an earlier entry took (the image's own files, an
// earlier package) is kept and named in Conflicts.
func writeTrees(c *CPIOWriter, trees []tree) (treeStats, error) {
	var st treeStats
	for _, t := range trees {
		err := filepath.WalkDir(t.Dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(t.Dir, p)
			if err != nil || rel == "." {
				return err
			}
			rel = filepath.ToSlash(rel)
			if rel == completeMarker {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if leftOut(rel) {
				if d.IsDir() {
					st.LeftBytes += dirSize(p)
					return filepath.SkipDir
				}
				st.LeftBytes += info.Size()
				return nil
			}
			if c.Has(rel) || c.underNonDir(rel) {
				if !d.IsDir() || !c.dirs[path.Clean(rel)] {
					st.Conflicts = append(st.Conflicts, t.Name+": /"+rel)
					if d.IsDir() {
						return filepath.SkipDir
					}
				}
				return nil
			}
			switch {
			case d.IsDir():
				st.Dirs++
				return c.MkdirAll(rel, info.Mode())
			case info.Mode()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				st.Links++
				return c.Symlink(target, rel)
			case info.Mode().IsRegular():
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				st.Files++
				st.Bytes += int64(len(data))
				return c.WriteFile(rel, info.Mode(), data)
			}
			return nil // fifos, devices: packages ship none that matter
		})
		if err != nil {
			return st, fmt.Errorf("package %s: %w", t.Name, err)
		}
	}
	return st, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if i, err := d.Info(); err == nil {
				n += i.Size()
			}
		}
		return nil
	})
	return n
}
