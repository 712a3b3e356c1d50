package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// apt fetches Debian packages with the host's apt-get and unpacks them
// with dpkg -x into a cache folder: the host needs none of them
// installed.
type apt struct {
	cache   string // <cache>/pkgs/<name>_<version>/ holds an unpacked package
	logf    func(format string, a ...any)
	updated bool // apt-get update ran already
	// run runs a command and returns its combined output (tests replace it).
	run func(ctx context.Context, dir string, name string, args ...string) ([]byte, error)
	// runStdout runs a command and returns its standard output alone
	// (tests replace it; nil: the real command).
	runStdout func(ctx context.Context, name string, args ...string) ([]byte, error)
}

func newApt(cache string, logf func(string, ...any)) *apt {
	return &apt{cache: cache, logf: logf, run: runCmd}
}

func runCmd(ctx context.Context, dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out, 10))
	}
	return out, nil
}

// runStdout runs a command for its standard output, which a caller parses:
// progress and warnings, on standard error, never mix into it.
func runStdout(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail([]byte(stderr.String()), 10))
	}
	return out, nil
}

func tail(b []byte, lines int) string {
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// aptOpts are passed to every apt-get call: as root, apt-get download
// would drop to the _apt user, which cannot write to the cache folder.
func aptOpts() []string {
	if os.Geteuid() == 0 {
		return []string{"-q", "-o", "APT::Sandbox::User=root"}
	}
	return []string{"-q"}
}

// listsMissing tells whether apt output means the package lists do not
// know the package (empty or stale lists), which apt-get update fixes.
var listsMissing = regexp.MustCompile(`Unable to locate package|No packages found|has no installation candidate|Can't select candidate|Can't select versions|404\s+Not Found|Failed to fetch`)

func (a *apt) update(ctx context.Context, why string) error {
	if a.updated {
		return fmt.Errorf("%s, even after apt-get update", why)
	}
	a.updated = true
	a.logf("%s: running apt-get update", why)
	if _, err := a.run(ctx, "", "apt-get", append(aptOpts(), "update")...); err != nil {
		return fmt.Errorf("apt-get update (needed because %s): %w", why, err)
	}
	return nil
}

// candidate returns the version apt would install of pkg, or "" when the
// package lists do not know it.
func (a *apt) candidate(ctx context.Context, pkg string) string {
	out, err := a.run(ctx, "", "apt-cache", "show", "--no-all-versions", pkg)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "Version: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// versionedKernel matches a kernel image package that is not a
// meta-package: linux-image-6.1.0-48-cloud-amd64.
var versionedKernel = regexp.MustCompile(`^linux-image-[0-9]`)

// resolveKernel turns a kernel meta-package (linux-image-cloud-amd64)
// into the versioned package it depends on.
func (a *apt) resolveKernel(ctx context.Context, meta string) (string, error) {
	if versionedKernel.MatchString(meta) {
		return meta, nil
	}
	for {
		out, err := a.run(ctx, "", "apt-cache", "depends", "--important", meta)
		if err == nil {
			if dep := kernelDependency(out); dep != "" {
				return dep, nil
			}
		}
		if cached := a.cachedResolution(meta); cached != "" && !a.updated {
			a.logf("apt-cache knows no %s; using %s, resolved earlier", meta, cached)
			return cached, nil
		}
		if uerr := a.update(ctx, fmt.Sprintf("apt-cache cannot resolve %s (empty package lists?)", meta)); uerr != nil {
			if err != nil {
				return "", fmt.Errorf("%w (%v)", uerr, err)
			}
			return "", fmt.Errorf("%w: %s depends on no linux-image-<version> package", uerr, meta)
		}
	}
}

// kernelDependency picks the first "Depends: linux-image-..." line of
// apt-cache depends output.
func kernelDependency(out []byte) string {
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "|"))
		dep, ok := strings.CutPrefix(l, "Depends: ")
		if !ok {
			continue
		}
		dep = strings.Trim(strings.TrimSpace(dep), "<>")
		if versionedKernel.MatchString(dep) {
			return dep
		}
	}
	return ""
}

func (a *apt) resolutionFile(meta string) string {
	return filepath.Join(a.cache, "resolved", meta)
}

func (a *apt) cachedResolution(meta string) string {
	b, err := os.ReadFile(a.resolutionFile(meta))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (a *apt) rememberResolution(meta, pkg string) {
	if meta == pkg {
		return
	}
	if err := os.MkdirAll(filepath.Dir(a.resolutionFile(meta)), 0o755); err == nil {
		_ = os.WriteFile(a.resolutionFile(meta), []byte(pkg+"\n"), 0o644)
	}
}

// unpacked is a package unpacked in the cache.
type unpacked struct {
	Name, Version, Dir string
	Cached             bool // reused from an earlier build
}

const completeMarker = ".xrdtest-unpacked"

// fetch makes sure pkg (the candidate version, or any cached version when
// the lists do not know it) is unpacked in the cache and returns where.
func (a *apt) fetch(ctx context.Context, pkg string) (*unpacked, error) {
	ver := a.candidate(ctx, pkg)
	if ver != "" {
		dir := a.pkgDir(pkg, ver)
		if _, err := os.Stat(filepath.Join(dir, completeMarker)); err == nil {
			return &unpacked{Name: pkg, Version: ver, Dir: dir, Cached: true}, nil
		}
	} else if u := a.anyCached(pkg); u != nil {
		a.logf("apt-cache knows no %s; using the cached %s", pkg, u.Version)
		return u, nil
	}
	deb, err := a.download(ctx, pkg)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(filepath.Dir(deb))
	if ver == "" {
		ver = a.candidate(ctx, pkg) // known now if download ran apt-get update
	}
	if ver == "" {
		ver = debVersion(filepath.Base(deb), pkg)
	}
	dir := a.pkgDir(pkg, ver)
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		return nil, err
	}
	if _, err := a.run(ctx, "", "dpkg", "-x", deb, tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, completeMarker), []byte(pkg+" "+ver+"\n"), 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	return &unpacked{Name: pkg, Version: ver, Dir: dir}, nil
}

// download runs apt-get download in a fresh folder and returns the .deb.
// When it fails because the lists do not know the package, it runs
// apt-get update once and tries again.
func (a *apt) download(ctx context.Context, pkg string) (string, error) {
	if err := os.MkdirAll(filepath.Join(a.cache, "downloads"), 0o755); err != nil {
		return "", err
	}
	for {
		dir, err := os.MkdirTemp(filepath.Join(a.cache, "downloads"), pkg+"-")
		if err != nil {
			return "", err
		}
		out, err := a.run(ctx, dir, "apt-get", append(aptOpts(), "download", pkg)...)
		if err == nil {
			debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
			if len(debs) == 1 {
				return debs[0], nil
			}
			os.RemoveAll(dir)
			return "", fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(debs))
		}
		os.RemoveAll(dir)
		if !listsMissing.Match(out) {
			return "", err
		}
		if uerr := a.update(ctx, fmt.Sprintf("apt-get download %s failed (package lists empty or stale)", pkg)); uerr != nil {
			return "", fmt.Errorf("%w: %v", uerr, err)
		}
	}
}

func (a *apt) pkgDir(pkg, ver string) string {
	return filepath.Join(a.cache, "pkgs", pkg+"_"+safeVersion(ver))
}

func safeVersion(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, v)
}

// anyCached returns the newest (by modification time) cached unpacked
// version of pkg, or nil.
func (a *apt) anyCached(pkg string) *unpacked {
	dirs, _ := filepath.Glob(filepath.Join(a.cache, "pkgs", pkg+"_*"))
	type c struct {
		dir string
		mt  int64
	}
	var cs []c
	for _, d := range dirs {
		st, err := os.Stat(filepath.Join(d, completeMarker))
		if err != nil || strings.HasSuffix(d, ".tmp") {
			continue
		}
		cs = append(cs, c{d, st.ModTime().UnixNano()})
	}
	if len(cs) == 0 {
		return nil
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].mt > cs[j].mt })
	b, _ := os.ReadFile(filepath.Join(cs[0].dir, completeMarker))
	ver := ""
	if f := strings.Fields(string(b)); len(f) == 2 {
		ver = f[1]
	}
	return &unpacked{Name: pkg, Version: ver, Dir: cs[0].dir, Cached: true}
}

// debVersion reads the version from a .deb file name (name_version_arch.deb,
// with ':' written %3a).
func debVersion(file, pkg string) string {
	s := strings.TrimSuffix(strings.TrimPrefix(file, pkg+"_"), ".deb")
	if i := strings.LastIndex(s, "_"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "%3a", ":")
}

var errNotStatic = errors.New("not a static executable")

// checkStatic returns an error unless file is an ELF executable without
// a program interpreter.
func checkStatic(file string) error {
	static, err := IsStatic(file)
	if err != nil {
		return err
	}
	if !static {
		return fmt.Errorf("%s: %w (it has a PT_INTERP program header: it needs a dynamic loader the image does not have)", file, errNotStatic)
	}
	return nil
}
