package runner

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// cpuOf returns this process's and its reaped children's CPU time.
func cpuOf(b *testing.B) (self, children time.Duration) {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		b.Fatal(err)
	}
	return self, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the runner's own CPU per run (self-ms/op) and the
// scripts' (child-ms/op): the runner's cost is what Run adds to bash.
func reportCPU(b *testing.B, run func()) {
	s0, c0 := cpuOf(b)
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.StopTimer()
	s1, c1 := cpuOf(b)
	b.ReportMetric(float64(s1-s0)/float64(b.N)/1e6, "self-ms/op")
	b.ReportMetric(float64(c1-c0)/float64(b.N)/1e6, "child-ms/op")
}

// BenchmarkRun is one stage of `true` through Run.
func BenchmarkRun(b *testing.B) {
	dir := b.TempDir()
	reportCPU(b, func() {
		res := Run(context.Background(), Spec{Script: "#!/bin/bash\ntrue\n", Dir: dir, Drain: -1})
		if !res.OK() {
			b.Fatalf("run: %+v", res)
		}
	})
}

// BenchmarkBashFile is the floor for BenchmarkRun: os/exec of bash on a
// script file that already exists.
func BenchmarkBashFile(b *testing.B) {
	dir := b.TempDir()
	_, file, err := writeScript(dir, "x", "#!/bin/bash\ntrue\n")
	if err != nil {
		b.Fatal(err)
	}
	reportCPU(b, func() {
		if err := exec.Command("bash", file).Run(); err != nil {
			b.Fatal(err)
		}
	})
}
