// Package image builds the slave image that xrdtest's VMs boot: a Debian
// cloud kernel (vmlinuz) and a small initramfs (initrd.img) holding
// busybox, bash, the static xrdtest binary, the virtio and disk modules
// and an /init that gets an address by DHCP and runs `xrdtest slave`
// against the master named on the kernel command line (see BootParams).
//
// Build fetches the Debian packages with apt-get download and unpacks
// them with dpkg -x into a cache, so the host needs none of them
// installed; it writes the cpio archive itself (CPIOWriter).
package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Packages the image is made of.
const (
	DefaultKernelPackage = "linux-image-cloud-amd64"
	BusyboxPackage       = "busybox-static"
	BashPackage          = "bash-static"
	modulePath           = "github.com/xrdtest/xrdtest"
)

// Paths inside the image.
const (
	imageXrdtest = "usr/bin/xrdtest"
	imageBusybox = "bin/busybox"
	imageBash    = "bin/bash"
)

//go:embed initramfs
var initramfsFiles embed.FS

// Options configure Build.
type Options struct {
	// OutDir receives vmlinuz, initrd.img and image.json (default
	// ./xrdtest-image).
	OutDir string
	// CacheDir keeps downloaded and unpacked packages and the built
	// binary between builds (default: the user cache dir + xrdtest/image).
	CacheDir string
	// KernelPackage is a kernel image package, or a meta-package resolved
	// to the versioned package it depends on (default
	// linux-image-cloud-amd64).
	KernelPackage string
	// Binary is a static xrdtest binary to put in the image. Empty: the
	// running program if it is a static xrdtest, else one built with
	// CGO_ENABLED=0 go build from ModuleRoot.
	Binary string
	// ModuleRoot is the xrdtest source tree to build from (default: found
	// from the current directory upwards, else from where this package was
	// compiled).
	ModuleRoot string
	// Version is stamped into a binary built here (-X main.version).
	Version string
	// Modules to load at boot, by name (default DefaultModules); their
	// dependencies are added.
	Modules []string
	// DiskModules are loaded at boot when a virtio disk is attached
	// (default DefaultDiskModules).
	DiskModules []string
	// Packages are Debian packages to put into the image with everything
	// they depend on, resolved as for an empty system and fetched here
	// (the guest has no network); see LeftOut for what is left out.
	Packages []string
	// Log receives one line per step (nil: discarded).
	Log io.Writer
	// Now is the build time (default time.Now).
	Now func() time.Time
}

// Image is a built image.
type Image struct {
	Dir      string   // the output folder
	Kernel   string   // Dir/vmlinuz
	Initrd   string   // Dir/initrd.img (an uncompressed cpio archive)
	Manifest string   // Dir/image.json
	Info     Manifest // what image.json says
	// InitrdUncompressed is the size of the cpio archive, which the guest
	// unpacks into RAM (the file is not compressed: it is this size too).
	InitrdUncompressed int64
}

// Manifest is image.json.
type Manifest struct {
	KernelVersion  string            `json:"kernel_version"`
	KernelPackage  string            `json:"kernel_package"`
	Built          time.Time         `json:"built"`
	XrdtestVersion string            `json:"xrdtest_version"`
	SHA256         map[string]string `json:"sha256"` // "vmlinuz", "initrd.img"
	Sizes          map[string]int64  `json:"sizes"`
	Packages       map[string]string `json:"packages"`               // name -> version
	Modules        []string          `json:"modules"`                // load order, relative to /lib/modules/VERSION
	DiskModules    []string          `json:"disk_modules,omitempty"` // then, when a virtio disk is attached
	Builtin        []string          `json:"builtin_modules,omitempty"`
	Cmdline        string            `json:"cmdline"` // the base kernel command line; add xrdtest.* words
	MinRAMMiB      int               `json:"min_ram_mib"`
	// Requested are the --package names; Packages then holds them and
	// their dependencies too.
	Requested []string `json:"requested_packages,omitempty"`
	// ClosurePackages counts Requested and their dependencies.
	ClosurePackages int `json:"closure_packages,omitempty"`
	// Accounts are the system users and groups made for the packages.
	Accounts []string `json:"accounts,omitempty"`
	// LeftOut are the package folders not copied, LeftOutBytes their size.
	LeftOut      []string `json:"left_out,omitempty"`
	LeftOutBytes int64    `json:"left_out_bytes,omitempty"`
	// PackageBytes is the size of the packages' files in the image.
	PackageBytes int64 `json:"package_bytes,omitempty"`
}

// ReadManifest reads DIR/image.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "image.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s/image.json: %w", dir, err)
	}
	return &m, nil
}

// Files returns the kernel and initramfs of the image in dir: vmlinuz and
// initrd.img, or initrd.gz for an image built by an earlier version.
func Files(dir string) (kernel, initrd string, err error) {
	kernel = filepath.Join(dir, "vmlinuz")
	if _, err := os.Stat(kernel); err != nil {
		return "", "", fmt.Errorf("not an image folder (xrdtest image build): %w", err)
	}
	for _, name := range []string{"initrd.img", "initrd.gz"} {
		initrd = filepath.Join(dir, name)
		if _, err = os.Stat(initrd); err == nil {
			return kernel, initrd, nil
		}
	}
	return "", "", fmt.Errorf("not an image folder (xrdtest image build): %w", err)
}

// DefaultCacheDir is where Build keeps packages when Options.CacheDir is
// empty.
func DefaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "xrdtest", "image")
}

type builder struct {
	opts Options
	apt  *apt
	now  time.Time
}

func (b *builder) logf(format string, a ...any) {
	if b.opts.Log != nil {
		fmt.Fprintf(b.opts.Log, format+"\n", a...)
	}
}

// Build builds the image into opts.OutDir.
func Build(ctx context.Context, opts Options) (*Image, error) {
	if opts.OutDir == "" {
		opts.OutDir = "xrdtest-image"
	}
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	if opts.KernelPackage == "" {
		opts.KernelPackage = DefaultKernelPackage
	}
	if len(opts.Modules) == 0 {
		opts.Modules = DefaultModules
	}
	if opts.DiskModules == nil {
		opts.DiskModules = DefaultDiskModules
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var err error
	if opts.OutDir, err = filepath.Abs(opts.OutDir); err != nil {
		return nil, err
	}
	if opts.CacheDir, err = filepath.Abs(opts.CacheDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("cache folder: %w", err)
	}
	b := &builder{opts: opts, now: opts.Now().UTC().Truncate(time.Second)}
	b.apt = newApt(opts.CacheDir, b.logf)
	return b.build(ctx)
}

func (b *builder) build(ctx context.Context) (*Image, error) {
	start := time.Now()
	// Kernel.
	kpkg, err := b.apt.resolveKernel(ctx, b.opts.KernelPackage)
	if err != nil {
		return nil, fmt.Errorf("kernel package: %w", err)
	}
	b.apt.rememberResolution(b.opts.KernelPackage, kpkg)
	kernel, err := b.fetch(ctx, kpkg)
	if err != nil {
		return nil, err
	}
	vmlinuz, kver, err := findKernel(kernel.Dir)
	if err != nil {
		return nil, err
	}
	busybox, err := b.fetch(ctx, BusyboxPackage)
	if err != nil {
		return nil, err
	}
	bash, err := b.fetch(ctx, BashPackage)
	if err != nil {
		return nil, err
	}
	var trees []tree
	var closure []*unpacked
	if len(b.opts.Packages) > 0 {
		refs, err := b.apt.resolveClosure(ctx, b.opts.Packages)
		if err != nil {
			return nil, fmt.Errorf("packages %s: %w", strings.Join(b.opts.Packages, " "), err)
		}
		var size int64
		for _, r := range refs {
			size += r.Size
		}
		b.logf("packages: %s and their dependencies, as for an empty system: %d packages, %s to fetch", strings.Join(b.opts.Packages, " "), len(refs), mibString(size))
		if closure, err = b.apt.fetchAll(ctx, refs); err != nil {
			return nil, fmt.Errorf("packages: %w", err)
		}
		for _, u := range closure {
			trees = append(trees, tree{Name: u.Name, Dir: u.Dir})
		}
	}
	accounts, err := deriveAccounts(trees)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	for _, a := range accounts.summary() {
		b.logf("accounts: %s", a)
	}
	bbBin := filepath.Join(busybox.Dir, "bin", "busybox")
	bashBin := filepath.Join(bash.Dir, "bin", "bash-static")
	for _, f := range []string{bbBin, bashBin} {
		if err := checkStatic(f); err != nil {
			return nil, err
		}
	}

	// Modules.
	moddir, err := findModuleDir(kernel.Dir, kver)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(moddir, "modules.dep")); errors.Is(err, os.ErrNotExist) {
		// The .deb has no modules.dep: depmod runs when it is installed.
		base := strings.TrimSuffix(moddir, filepath.FromSlash("/lib/modules/"+kver))
		b.logf("modules: no modules.dep in the package: running busybox depmod -b %s %s", base, kver)
		if _, err := runCmd(ctx, "", bbBin, "depmod", "-b", base, kver); err != nil {
			return nil, fmt.Errorf("depmod: %w", err)
		}
	}
	db, err := LoadModuleDB(moddir)
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	plan, err := db.Resolve(b.opts.Modules)
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	diskPlan, err := db.Resolve(b.opts.DiskModules)
	if err != nil {
		return nil, fmt.Errorf("disk modules: %w", err)
	}
	diskLoad := slices.DeleteFunc(diskPlan.Load, func(rel string) bool { return slices.Contains(plan.Load, rel) })
	for _, n := range append(plan.Notes, diskPlan.Notes...) {
		b.logf("modules: %s", n)
	}
	b.logf("modules: %d to load (%s)%s", len(plan.Load), moduleNames(plan.Load), builtinNote(plan.Builtin))
	b.logf("modules: %d more when a virtio disk is attached (%s)%s", len(diskLoad), moduleNames(diskLoad), builtinNote(diskPlan.Builtin))
	shipped := append(slices.Clone(plan.Load), diskLoad...)

	// xrdtest.
	xbin, how, err := b.xrdtestBinary(ctx)
	if err != nil {
		return nil, err
	}
	xver := binaryVersion(ctx, xbin)
	b.logf("xrdtest: %s (%s, version %s)", xbin, how, xver)

	applets, err := listApplets(ctx, bbBin)
	if err != nil {
		b.logf("busybox: cannot list applets here (%v); /init installs them at boot", err)
	}

	// Write the image.
	if err := os.MkdirAll(b.opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	img := &Image{Dir: b.opts.OutDir, Kernel: filepath.Join(b.opts.OutDir, "vmlinuz"),
		Initrd: filepath.Join(b.opts.OutDir, "initrd.img"), Manifest: filepath.Join(b.opts.OutDir, "image.json")}
	// An image of an earlier version beside this one would be installed
	// by its old name too.
	os.Remove(filepath.Join(b.opts.OutDir, "initrd.gz"))
	rf := &rootfs{KernelVersion: kver, ModDir: moddir, Load: plan.Load, DiskLoad: diskLoad, DepFile: db.DepFile(shipped),
		Busybox: bbBin, Bash: bashBin, Xrdtest: xbin, Applets: applets, Mtime: b.now, Trees: trees, Accounts: accounts}
	if img.InitrdUncompressed, err = writeInitrd(img.Initrd, rf); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	if err := copyFile(vmlinuz, img.Kernel, 0o644); err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	if len(trees) > 0 {
		b.logf("packages: %s of files in the image, %s left out (%s)", mibString(rf.stats.Bytes), mibString(rf.stats.LeftBytes), strings.Join(LeftOut, " "))
		for _, c := range rf.stats.Conflicts {
			b.logf("packages: %s: kept the image's or an earlier package's entry", c)
		}
	}
	m := Manifest{KernelVersion: kver, KernelPackage: kpkg, Built: b.now, XrdtestVersion: xver,
		SHA256: map[string]string{}, Sizes: map[string]int64{},
		Packages: map[string]string{kernel.Name: kernel.Version, busybox.Name: busybox.Version, bash.Name: bash.Version},
		Modules:  plan.Load, DiskModules: diskLoad, Builtin: append(plan.Builtin, diskPlan.Builtin...), Cmdline: BaseCmdline, MinRAMMiB: MinRAM(img.InitrdUncompressed),
		Accounts: accounts.summary()}
	for _, u := range closure {
		m.Packages[u.Name] = u.Version
	}
	if len(trees) > 0 {
		m.Requested, m.ClosurePackages, m.LeftOut, m.LeftOutBytes, m.PackageBytes = b.opts.Packages, len(closure), LeftOut, rf.stats.LeftBytes, rf.stats.Bytes
	}
	for _, f := range []string{img.Kernel, img.Initrd} {
		sum, size, err := hashFile(f)
		if err != nil {
			return nil, err
		}
		m.SHA256[filepath.Base(f)], m.Sizes[filepath.Base(f)] = sum, size
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(img.Manifest, append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	img.Info = m
	b.logf("image: %s in %.1f s", b.opts.OutDir, time.Since(start).Seconds())
	return img, nil
}

func mibString(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func moduleNames(load []string) string {
	names := make([]string, len(load))
	for i, rel := range load {
		names[i] = ModuleName(rel)
	}
	return strings.Join(names, " ")
}

func builtinNote(builtin []string) string {
	if len(builtin) == 0 {
		return ""
	}
	return "; built into the kernel: " + strings.Join(builtin, " ")
}

func (b *builder) fetch(ctx context.Context, pkg string) (*unpacked, error) {
	u, err := b.apt.fetch(ctx, pkg)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", pkg, err)
	}
	if u.Cached {
		b.logf("package %s %s: cached in %s", u.Name, u.Version, u.Dir)
	} else {
		b.logf("package %s %s: downloaded and unpacked into %s", u.Name, u.Version, u.Dir)
	}
	return u, nil
}

// findKernel returns boot/vmlinuz-VERSION of an unpacked kernel package.
func findKernel(root string) (file, version string, err error) {
	ks, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(ks) != 1 {
		return "", "", fmt.Errorf("kernel: want one boot/vmlinuz-* in %s, found %d", root, len(ks))
	}
	return ks[0], strings.TrimPrefix(filepath.Base(ks[0]), "vmlinuz-"), nil
}

func findModuleDir(root, kver string) (string, error) {
	for _, d := range []string{"lib/modules", "usr/lib/modules"} {
		p := filepath.Join(root, filepath.FromSlash(d), kver)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("kernel %s: no lib/modules/%s in %s", kver, kver, root)
}

// IsStatic reports whether the ELF executable file has no program
// interpreter (PT_INTERP), i.e. needs no dynamic loader or libc.
func IsStatic(file string) (bool, error) {
	f, err := elf.Open(file)
	if err != nil {
		return false, fmt.Errorf("%s: %w", file, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return false, fmt.Errorf("%s: not an executable (ELF type %s)", file, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// xrdtestBinary returns the static xrdtest to put in the image and how it
// was found.
func (b *builder) xrdtestBinary(ctx context.Context) (string, string, error) {
	if b.opts.Binary != "" {
		if err := checkStatic(b.opts.Binary); err != nil {
			return "", "", fmt.Errorf("--binary: %w", err)
		}
		return b.opts.Binary, "given", nil
	}
	if exe, err := os.Executable(); err == nil {
		if bi, err := buildinfo.ReadFile(exe); err == nil && bi.Path == modulePath+"/cmd/xrdtest" {
			if static, _ := IsStatic(exe); static {
				return exe, "the running binary, which is static", nil
			}
		}
	}
	root, err := findModuleRoot(b.opts.ModuleRoot)
	if err != nil {
		return "", "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, serr := os.Stat(goBin); serr != nil {
			return "", "", fmt.Errorf("no static xrdtest binary given (--binary) and no go command to build one: %v", err)
		}
	}
	out := filepath.Join(b.opts.CacheDir, "build", "xrdtest")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", "", err
	}
	ldflags := "-s -w"
	if b.opts.Version != "" {
		ldflags += " -X main.version=" + b.opts.Version
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/xrdtest")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("CGO_ENABLED=0 go build ./cmd/xrdtest in %s: %w\n%s", root, err, tail(o, 20))
	}
	if err := checkStatic(out); err != nil {
		return "", "", err
	}
	return out, "built with CGO_ENABLED=0 go build -trimpath from " + root, nil
}

// findModuleRoot returns the xrdtest source tree: dir if given, else the
// first folder from the current one upwards whose go.mod declares the
// module, else the tree this package was compiled from (when it still
// exists: not with -trimpath).
func findModuleRoot(dir string) (string, error) {
	if dir != "" {
		if !isModuleRoot(dir) {
			return "", fmt.Errorf("%s: no go.mod of %s", dir, modulePath)
		}
		return dir, nil
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if isModuleRoot(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Dir(filepath.Dir(filepath.Dir(file))) // internal/image/image.go -> root
		if isModuleRoot(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no static xrdtest binary given (--binary) and no %s source tree found from the current folder to build one", modulePath)
}

func isModuleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "module" && f[1] == modulePath {
			return true
		}
	}
	return false
}

// binaryVersion asks an xrdtest binary for its version ("xrdtest V").
func binaryVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(out))
	if len(f) >= 2 && f[0] == "xrdtest" {
		return f[1]
	}
	return strings.TrimSpace(string(out))
}

// listApplets returns busybox's applet paths (bin/ls, usr/bin/awk...).
func listApplets(ctx context.Context, bb string) ([]string, error) {
	out, err := exec.CommandContext(ctx, bb, "--list-full").Output()
	if err != nil {
		return nil, err
	}
	var as []string
	for _, l := range strings.Fields(string(out)) {
		if !strings.Contains(l, "..") {
			as = append(as, strings.TrimPrefix(l, "/"))
		}
	}
	if len(as) == 0 {
		return nil, errors.New("no applets listed")
	}
	return as, nil
}

// rootfs is the content of the initramfs.
type rootfs struct {
	KernelVersion string
	ModDir        string   // host folder of the kernel's modules
	Load          []string // module paths relative to ModDir, in load order
	DiskLoad      []string // the same, loaded after Load when a virtio disk is attached
	DepFile       []byte   // modules.dep for the image
	Busybox       string   // host paths of the static binaries
	Bash          string
	Xrdtest       string
	Applets       []string // busybox applet paths; nil: installed at boot
	Mtime         time.Time
	Trees         []tree       // unpacked packages, copied after the image's own files
	Accounts      *sysAccounts // the packages' system users; nil: the base ones
	stats         treeStats    // what copying Trees did
}

// writeInitrd writes the archive to file, uncompressed, and returns its
// size. Uncompressed because a TCG guest spends about a second inflating
// a gzip one at every boot, while the kernel copies a cpio archive as it
// is; the file is bigger (30 MiB rather than 12), which a pool does not
// mind.
func writeInitrd(file string, rf *rootfs) (int64, error) {
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	bw := bufio.NewWriterSize(f, 1<<20)
	cw := NewCPIOWriter(bw, rf.Mtime)
	err = rf.write(cw)
	if err == nil {
		err = cw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return cw.Len(), os.Rename(tmp, file)
}

// write adds every entry: directories, device nodes, configuration,
// binaries, applet links, modules and /init.
func (rf *rootfs) write(c *CPIOWriter) error {
	var errs []error
	must := func(err error) { errs = append(errs, err) }
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc/xrdtest", "proc", "sys", "dev", "run",
		"mnt", "root", "var/log", "var/lib/xrdtest/slave", "var/lib/xrdtest/work", "etc/XrdTest/utils"} {
		mode := os.FileMode(0o755)
		if d == "root" {
			mode = 0o700
		}
		must(c.MkdirAll(d, mode))
	}
	for _, d := range []string{"tmp", "var/tmp"} {
		must(c.MkdirAll(d, 0o777|os.ModeSticky))
	}
	// The kernel opens /dev/console for /init's output before anything
	// is mounted: without this node /init would write nowhere.
	must(c.CharDev("dev/console", 0o600, 5, 1))
	must(c.CharDev("dev/null", 0o666, 1, 3))

	etc := map[string]string{
		"etc/passwd":               rf.Accounts.passwd(),
		"etc/group":                rf.Accounts.group(),
		"etc/shadow":               "root:*:19000:0:99999:7:::\n",
		"etc/hosts":                "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
		"etc/hostname":             "xrdtest\n",
		"etc/resolv.conf":          "",
		"etc/nsswitch.conf":        "passwd: files\ngroup: files\nhosts: files dns\n",
		"etc/profile":              "export PATH=/bin:/sbin:/usr/bin:/usr/sbin\nexport HOME=/root\n",
		"etc/xrdtest/modules":      strings.Join(rf.Load, "\n") + "\n",
		"etc/xrdtest/modules.disk": strings.Join(rf.DiskLoad, "\n") + "\n",
	}
	keys := make([]string, 0, len(etc))
	for k := range etc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mode := os.FileMode(0o644)
		if k == "etc/shadow" {
			mode = 0o600
		}
		must(c.WriteFile(k, mode, []byte(etc[k])))
	}
	for name, mode := range map[string]os.FileMode{"params.sh": 0o644, "udhcpc.script": 0o755} {
		data, err := initramfsFiles.ReadFile("initramfs/" + name)
		must(err)
		must(c.WriteFile("etc/xrdtest/"+name, mode, data))
	}
	for src, dst := range map[string]string{"init": "init", "mountpoint": "bin/mountpoint"} {
		data, err := initramfsFiles.ReadFile("initramfs/" + src)
		must(err)
		must(c.WriteFile(dst, 0o755, data))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	for _, f := range []struct{ src, dst string }{{rf.Busybox, imageBusybox}, {rf.Bash, imageBash}, {rf.Xrdtest, imageXrdtest}} {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		if err := c.WriteFile(f.dst, 0o755, data); err != nil {
			return err
		}
	}
	// Packages before the applet links: a package's real command wins
	// over busybox's at the same path.
	var err error
	if rf.stats, err = writeTrees(c, rf.Trees); err != nil {
		return err
	}
	for _, a := range rf.Applets {
		if c.Has(a) || c.underNonDir(a) || a == "linuxrc" {
			continue
		}
		if err := c.Symlink("/"+imageBusybox, a); err != nil {
			return err
		}
	}

	mdir := "lib/modules/" + rf.KernelVersion
	for _, rel := range append(slices.Clone(rf.Load), rf.DiskLoad...) {
		data, err := os.ReadFile(filepath.Join(rf.ModDir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		if err := c.WriteFile(path.Join(mdir, rel), 0o644, data); err != nil {
			return err
		}
	}
	// modprobe in the guest (and the kernel's request_module) find the
	// modules we ship, and know which ones are built in.
	if err := c.WriteFile(mdir+"/modules.dep", 0o644, rf.DepFile); err != nil {
		return err
	}
	if data, err := os.ReadFile(filepath.Join(rf.ModDir, "modules.builtin")); err == nil {
		if err := c.WriteFile(mdir+"/modules.builtin", 0o644, data); err != nil {
			return err
		}
	}
	return nil
}

func hashFile(file string) (string, int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeAtomic(dst, data, mode)
}

func writeAtomic(file string, data []byte, mode os.FileMode) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
