package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/image"
)

// xrootdVMPackages are what the xrootd_vm suite needs in the slave image:
// XRootD's server and client, and the commands its scripts use that
// busybox lacks (pgrep and pkill: procps; getent: libc-bin).
var xrootdVMPackages = []string{"xrootd-server", "xrootd-client", "procps", "libc-bin"}

// TestVMXRootD runs the example xrootd_vm suite (the xrootd suite's own
// scripts on a manager, a data server and a client) on three VMs booting
// an image built with the XRootD packages (`xrdtest image build --package
// ...`), through `xrdtest quickstart --backend libvirt --image DIR`, inside the private libvirtd's network
// namespace (scripts/libvirt-env.sh). Beyond the session passing, it reads
// what the checks printed and finds the servers' logs collected and
// nothing of the cluster left.
func TestVMXRootD(t *testing.T) {
	uri, netns, pool := libvirtEnv(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	self, _ := os.Executable()
	// The image is built here, where apt reaches its mirror; the private
	// libvirtd's namespace has no route out.
	imgDir := filepath.Join(dir, "image")
	build := []string{"image", "build", "--out", imgDir}
	for _, p := range xrootdVMPackages {
		build = append(build, "--package", p)
	}
	t0 := time.Now()
	bcmd := exec.Command(self, build...)
	bcmd.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1")
	bcmd.Dir = "../.." // the module root: the image build compiles ./cmd/xrdtest
	if out, err := bcmd.CombinedOutput(); err != nil {
		t.Fatalf("xrdtest %s: %v\n%s", strings.Join(build, " "), err, tail(string(out), 6000))
	}
	m, err := image.ReadManifest(imgDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image with %d packages built in %s: initrd.img %.1f MiB, min RAM %d MiB, accounts %v",
		m.ClosurePackages, time.Since(t0).Round(time.Second), float64(m.Sizes["initrd.img"])/(1<<20), m.MinRAMMiB, m.Accounts)
	for _, p := range append([]string{"perl", "libicu72", "tzdata"}, xrootdVMPackages...) {
		if m.Packages[p] == "" {
			t.Errorf("image.json lists no %s: %v", p, m.Packages)
		}
	}
	args := []string{"netns", "exec", netns, self, "quickstart", "--backend", "libvirt", "--libvirt-uri", uri, "--pool", pool,
		"--defs", "examples", "--suite", "xrootd_vm", "--image", imgDir, "--json", "--state-dir", state, "--log-level", "INFO"}
	start := time.Now()
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1")
	cmd.Dir = "../.." // the module root: the image build compiles ./cmd/xrdtest
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	t.Logf("quickstart of xrootd_vm on VMs took %s", time.Since(start).Round(time.Second))
	var doc qsDocument
	if jerr := json.Unmarshal(stdout.Bytes(), &doc); jerr != nil || len(doc.Sessions) != 1 || err != nil {
		consoles, _ := filepath.Glob(filepath.Join(state, "libvirt", "console", "*.log"))
		for _, c := range consoles {
			b, _ := os.ReadFile(c)
			t.Logf("console %s:\n%s", filepath.Base(c), tail(string(b), 3000))
		}
		t.Fatalf("quickstart: %v, %v\nstdout:\n%s\nstderr:\n%s", err, jerr, tail(stdout.String(), 20000), tail(stderr.String(), 6000))
	}
	s := doc.Sessions[0]
	output := stageOutputs(s)
	for _, st := range s.Stages {
		for _, r := range st.Results {
			if r.Status != "passed" {
				t.Errorf("%s %s: %s\n%s", st.Name, strings.TrimSuffix(r.Slave, ".xrd.test"), r.Status, r.Output)
			}
		}
	}
	if s.State != "passed" {
		t.Fatalf("session %s", s.State)
	}
	want := map[string][]*regexp.Regexp{
		"suite_init man1":    {regexp.MustCompile(`role manager; managers: man1; data servers: srv1`), regexp.MustCompile(`man1: xrootd and cmsd started`)},
		"suite_init srv1":    {regexp.MustCompile(`v5\.\d+\.\d+, role server`), regexp.MustCompile(`srv1: data disk mounted at /data`)},
		"suite_init client1": {regexp.MustCompile(`man1.xrd.test finds all 1 data servers`)},
		"copy:run client1": {regexp.MustCompile(`f0: 0 bytes on srv1, adler32 00000001 both ways`),
			regexp.MustCompile(`f9000000: 9000000 bytes on srv1, adler32 [0-9a-f]{8} both ways`)},
		"xrdfs:run client1":   {regexp.MustCompile(`/data/fs/g6: on srv1, 6666 bytes`), regexp.MustCompile(`rm /data/fs/g5: gone from srv1`)},
		"suite_finalize srv1": {regexp.MustCompile(`srv1: xrootd and cmsd stopped`)},
	}
	checkOutputs(t, output, want)
	checkXRootDLogs(t, state, s.ID, "man1", "srv1")
	for _, args := range [][]string{{"list", "--all", "--name"}, {"net-list", "--all", "--name"}} {
		if out := virsh(t, uri, args...); strings.Contains(out, "cluster_xrootd_vm") {
			t.Errorf("left after the quickstart (virsh %s):\n%s", args[0], out)
		}
	}
}

// TestQuickstartPackageNeedsImageBuild: --package only makes sense where
// quickstart builds the image, and says so before starting anything.
func TestQuickstartPackageNeedsImageBuild(t *testing.T) {
	for _, args := range [][]string{
		{"quickstart", "--package", "xrootd-server"},
		{"quickstart", "--backend", "netns", "--package", "xrootd-server"},
		{"quickstart", "--backend", "libvirt", "--image", t.TempDir(), "--package", "xrootd-server"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), "--package goes into the image quickstart builds") {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s", args, code, stdout.String(), stderr.String())
		}
	}
}
