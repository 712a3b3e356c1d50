package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/xrdtest/xrdtest/internal/image"
)

// cmdline is a kernel command line as usage shows it: indented, broken
// into lines that end with a backslash.
func cmdline(words string) string {
	lines := strings.Split(strings.TrimSuffix(wrap(words, "  ", usageWidth-2), "\n"), "\n")
	return strings.Join(lines, " \\\n")
}

// runImageBuild is `xrdtest image build`.
func runImageBuild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("image build", "", stdout, stderr)
	out := fs.String("out", "xrdtest-image", "output `folder`: vmlinuz, initrd.img, image.json")
	cache := fs.String("cache", image.DefaultCacheDir(), "cache `folder` for downloaded packages and the built binary")
	kpkg := fs.String("kernel-package", image.DefaultKernelPackage, "kernel `package`; a meta-package is resolved to the versioned one it depends on")
	binary := fs.String("binary", "", "static xrdtest binary to put in the image (default: this one if it is static, else built with CGO_ENABLED=0 go build)")
	modules := fs.String("modules", strings.Join(image.DefaultModules, ","), "kernel `modules` to load at boot, comma-separated (dependencies are added)")
	var packages listFlag
	fs.Var(&packages, "package", "Debian `package` to put into the image with everything it depends on; repeat it for several")
	diskModules := fs.String("disk-modules", strings.Join(image.DefaultDiskModules, ","), "kernel `modules` to load at boot when a virtio disk is attached")
	fs.usage = fmt.Sprintf(`usage: xrdtest image build [--out DIR] [--cache DIR] [--kernel-package NAME]
                           [--binary PATH] [--package NAME]...

Builds the slave image VMs boot directly (-kernel/-initrd, or libvirt's
<kernel>/<initrd>): Debian's cloud kernel and an initramfs with busybox,
bash, the static xrdtest binary and the virtio/disk modules. Its /init gets
an address by DHCP on eth0 (virtio-net) and runs 'xrdtest slave', restarting
it when it exits, its output on the serial console. Packages come from
'apt-get download' (no install on this host); 'apt-get update' runs only
when the package lists do not know them.

--package adds Debian packages and everything they depend on (Depends and
Pre-Depends, resolved by apt as for an empty system, whatever this host has
installed; no Recommends), fetched here: the guest has no network. Their
maintainer scripts do not run: the system users and groups their
sysusers.d and tmpfiles.d files name are made, and documentation, manual
pages and translations are left out (image.json lists the packages and
versions, the accounts and what was left out).

Guests need the RAM the build prints (min_ram_mib in image.json: about 3.2
times the archive plus 48 MiB, as the kernel unpacks the archive into a
tmpfs capped at half the RAM), a virtio-net NIC, a serial console and this
kernel command line:

%s \
    [xrdtest.master=HOST:PORT] [xrdtest.token=TOKEN] [xrdtest.ca=sha256:...] \
    [xrdtest.gw=IP] [xrdtest.poweroff_on_exit=1]

xrdtest.name is required; the master defaults to %s. The
one-time enrollment token and the CA pin are needed for the first
connection. The same xrdtest.* words are also read from SMBIOS OEM strings
(type 11). Data disks (virtio-blk, formatted ext4) are mounted by the
scripts. See docs/full-image.md.

options:`, cmdline(image.BaseCmdline+" xrdtest.name=FQDN"), image.DefaultMaster)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xrdtest image build: unexpected arguments %q\n", fs.Args())
		return 2
	}
	img, err := image.Build(ctx, image.Options{OutDir: *out, CacheDir: *cache, KernelPackage: *kpkg, Binary: *binary,
		Modules: splitList(*modules), DiskModules: splitList(*diskModules), Packages: packages, Version: version, Log: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "xrdtest image build: %v\n", err)
		return 1
	}
	m := img.Info
	fmt.Fprintf(stdout, "\n%s\n  vmlinuz     %s  (kernel %s, %s)\n  initrd.img  %s  (uncompressed, unpacked in the guest's RAM; xrdtest %s)\n  image.json\n",
		img.Dir, mib(m.Sizes["vmlinuz"]), m.KernelVersion, m.KernelPackage, mib(m.Sizes["initrd.img"]), m.XrdtestVersion)
	if len(m.Requested) > 0 {
		fmt.Fprintf(stdout, "  packages    %s and their dependencies: %d packages, %s of files (%s left out)\n",
			strings.Join(m.Requested, " "), m.ClosurePackages, mib(m.PackageBytes), mib(m.LeftOutBytes))
	}
	fmt.Fprintf(stdout, "boot with >= %d MiB RAM and: %s xrdtest.name=FQDN xrdtest.master=HOST:PORT xrdtest.token=... xrdtest.ca=sha256:...\n",
		m.MinRAMMiB, m.Cmdline)
	return 0
}

// splitList splits a comma-separated list; "" is an empty, non-nil list.
func splitList(s string) []string {
	out := []string{}
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
