// Command xrootd measures the example XRootD suite on both kinds of
// cluster in one run, side by side: the xrootd suite on the 8 hosts of
// cluster_meta_manager on the netns backend, and the xrootd_vm suite (the
// same scripts) on the 3 VMs of cluster_xrootd_vm, booting a slave image
// built with the XRootD packages. Each row is one `xrdtest quickstart
// --json` run; its figures come from the master's history afterwards:
// cluster start (from the session's "starting cluster" event to every
// slave connected: for VMs the boot under TCG, enrollment included) and
// the suite's wall time (every stage, from suite_init's start to
// suite_finalize's end). The image is built first (timed; its sizes
// printed), so that the VM row's cluster start is the boot alone. It
// prints figures and asserts nothing; it fails only when a run cannot be
// made or read.
//
//	bash scripts/libvirt-env.sh exec go run ./bench/xrootd   # as root, both rows
//	go run ./bench/xrootd -rows netns                          # without libvirt
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/bench/internal/benchkit"
	"github.com/xrdtest/xrdtest/internal/image"
	"github.com/xrdtest/xrdtest/internal/store/sqlite"
)

// vmPackages are what the xrootd_vm suite needs in the image (see
// examples/test-suites/xrootd_vm).
var vmPackages = []string{"xrootd-server", "xrootd-client", "procps", "libc-bin"}

type result struct {
	backend, suite string
	hosts          int
	state          string
	clusterUp      time.Duration
	suiteWall      time.Duration
	total          time.Duration
	failed         []string
	err            error
}

func main() {
	rows := flag.String("rows", "netns,libvirt", "the rows to run, comma separated")
	defs := flag.String("defs", "examples", "the definitions repository")
	imageDir := flag.String("image", "", "a slave image made with the XRootD packages (default: build one, timed)")
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "xrdtest-bench-xrootd-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "xrdtest")
	fmt.Fprintln(os.Stderr, "building xrdtest...")
	if err := benchkit.Build(ctx, bin, "bench/xrootd"); err != nil {
		fatal(err)
	}
	want := map[string]bool{}
	for _, r := range strings.Split(*rows, ",") {
		want[strings.TrimSpace(r)] = true
	}

	var results []result
	var imgLine string
	if want["netns"] {
		results = append(results, run(ctx, bin, dir, "netns", "xrootd", 8, *defs, nil))
	}
	if want["libvirt"] {
		uri := os.Getenv("XRDTEST_LIBVIRT_URI")
		if uri == "" {
			results = append(results, result{backend: "libvirt", suite: "xrootd_vm", hosts: 3,
				err: fmt.Errorf("no private libvirtd: bash scripts/libvirt-env.sh exec go run ./bench/xrootd")})
		} else {
			img := *imageDir
			if img == "" {
				img = filepath.Join(dir, "image")
				args := []string{"image", "build", "--out", img}
				for _, p := range vmPackages {
					args = append(args, "--package", p)
				}
				fmt.Fprintf(os.Stderr, "xrdtest %s\n", strings.Join(args, " "))
				t0 := time.Now()
				cmd := exec.CommandContext(ctx, bin, args...)
				cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
				if err := cmd.Run(); err != nil {
					fatal(fmt.Errorf("image build: %w", err))
				}
				imgLine = fmt.Sprintf("image build (packages cached or fetched): %.1f s\n", time.Since(t0).Seconds())
			}
			imgLine += imageFigures(img)
			results = append(results, run(ctx, bin, dir, "libvirt", "xrootd_vm", 3, *defs, []string{"--image", img,
				"--libvirt-uri", uri, "--pool", benchkit.EnvOr("XRDTEST_LIBVIRT_POOL", "xrdtest")}))
		}
	}

	fmt.Printf("\nXRootD suite, netns and VMs side by side (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Printf("%-8s %-10s %5s %12s %12s %12s  %s\n", "backend", "suite", "hosts", "cluster up", "suite wall", "quickstart", "session")
	for _, r := range results {
		if r.err != nil {
			fmt.Printf("%-8s %-10s %5d  not run: %v\n", r.backend, r.suite, r.hosts, r.err)
			continue
		}
		state := r.state
		if len(r.failed) > 0 {
			state += " (" + strings.Join(r.failed, ", ") + ")"
		}
		fmt.Printf("%-8s %-10s %5d %11.1fs %11.1fs %11.1fs  %s\n", r.backend, r.suite, r.hosts,
			r.clusterUp.Seconds(), r.suiteWall.Seconds(), r.total.Seconds(), state)
	}
	if imgLine != "" {
		fmt.Printf("\n%s", imgLine)
	}
}

// run runs one quickstart and reads its figures from the history.
func run(ctx context.Context, bin, dir, backend, suite string, hosts int, defs string, extra []string) result {
	r := result{backend: backend, suite: suite, hosts: hosts}
	state := filepath.Join(dir, backend+"-state")
	args := append([]string{"quickstart", "--backend", backend, "--defs", defs, "--suite", suite, "--json", "--state-dir", state}, extra...)
	name, cmdArgs := bin, args
	if backend == "libvirt" {
		// The VMs' network lives in the private libvirtd's namespace: the
		// master must too, to be reached at the gateway's address.
		name, cmdArgs = "ip", append([]string{"netns", "exec", benchkit.EnvOr("XRDTEST_LIBVIRT_NETNS", "xrdtest-lv"), bin}, args...)
	}
	fmt.Fprintf(os.Stderr, "%s: %s %s\n", backend, name, strings.Join(cmdArgs, " "))
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, name, cmdArgs...)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	t0 := time.Now()
	runErr := cmd.Run()
	r.total = time.Since(t0)
	var doc struct {
		Sessions []struct {
			ID     int64
			State  string
			Stages []struct {
				Name    string
				Results []struct{ Slave, Status string }
			}
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || len(doc.Sessions) != 1 {
		r.err = fmt.Errorf("quickstart: %v, output: %v", runErr, err)
		return r
	}
	s := doc.Sessions[0]
	r.state = s.State
	for _, st := range s.Stages {
		for _, res := range st.Results {
			if res.Status != "passed" {
				r.failed = append(r.failed, st.Name+" "+strings.TrimSuffix(res.Slave, ".xrd.test")+" "+res.Status)
			}
		}
	}
	st, err := sqlite.Open(ctx, filepath.Join(state, "master", "history"))
	if err != nil {
		r.err = err
		return r
	}
	defer st.Close()
	sess, err := st.Session(ctx, s.ID)
	if err != nil {
		r.err = err
		return r
	}
	evs, err := st.Events(ctx, s.ID)
	if err != nil {
		r.err = err
		return r
	}
	var starting time.Time
	for _, e := range evs {
		if strings.HasPrefix(e.Message, "starting cluster ") && starting.IsZero() {
			starting = e.Time
		}
		if e.Kind == "started" && !starting.IsZero() {
			r.clusterUp = e.Time.Sub(starting)
		}
	}
	if !sess.Started.IsZero() && !sess.Ended.IsZero() {
		r.suiteWall = sess.Ended.Sub(sess.Started)
	}
	return r
}

// imageFigures reads the image's manifest and measures what a compressed
// archive would be (gzip -6), for the table's last lines.
func imageFigures(dir string) string {
	m, err := image.ReadManifest(dir)
	if err != nil {
		return fmt.Sprintf("image: %v\n", err)
	}
	_, initrd, err := image.Files(dir)
	if err != nil {
		return fmt.Sprintf("image: %v\n", err)
	}
	f, err := os.Open(initrd)
	if err != nil {
		return fmt.Sprintf("image: %v\n", err)
	}
	defer f.Close()
	cw := &counter{}
	zw, _ := gzip.NewWriterLevel(cw, 6)
	io.Copy(zw, f)
	zw.Close()
	mi := func(n int64) float64 { return float64(n) / (1 << 20) }
	return fmt.Sprintf("image with %s: %d packages (%.1f MiB of their files, %.1f MiB left out); "+
		"initrd.img %.1f MiB unpacked in the guest's RAM (gzip -6: %.1f MiB), vmlinuz %.1f MiB; min RAM %d MiB\n",
		strings.Join(m.Requested, " "), m.ClosurePackages, mi(m.PackageBytes), mi(m.LeftOutBytes),
		mi(m.Sizes["initrd.img"]), mi(cw.n), mi(m.Sizes["vmlinuz"]), m.MinRAMMiB)
}

type counter struct{ n int64 }

func (c *counter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench/xrootd:", err)
	os.Exit(1)
}
