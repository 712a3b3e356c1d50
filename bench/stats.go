package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dist summarises durations, in milliseconds.
type dist struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// summarize uses nearest-rank percentiles: p99 of 200 values is the 198th
// smallest, a value that was actually observed.
func summarize(ds []time.Duration) dist {
	if len(ds) == 0 {
		return dist{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return dist{N: len(s), P50: ms(rank(50)), P99: ms(rank(99)), Max: ms(s[len(s)-1]), Mean: ms(sum / time.Duration(len(s)))}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// forkExec times n runs of `bash -c :` through os/exec: what a real slave
// pays at least for every stage (it runs each script with bash), the yard
// stick for the barrier overhead.
func forkExec(n int) (dist, error) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		return dist{}, err
	}
	if err := exec.Command(bash, "-c", ":").Run(); err != nil { // warm the page cache
		return dist{}, err
	}
	ds := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if err := exec.Command(bash, "-c", ":").Run(); err != nil {
			return dist{}, err
		}
		ds = append(ds, time.Since(t))
	}
	return summarize(ds), nil
}

// raiseNofile sets the soft limit of open files to the hard limit.
// Calling Setrlimit ourselves matters: Go raises the soft limit of its own
// process at start but restores the original one in the children it
// starts, unless the program set the limit explicitly. The master keeps
// one connection per slave plus one output file per slave during a stage.
func raiseNofile() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return l.Cur, nil
}

// fsType names the file system of dir: the master fsyncs every stage
// output, so a disk and a tmpfs give different figures.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch uint64(st.Type) {
	case 0x01021994:
		return "tmpfs"
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	}
	return fmt.Sprintf("0x%x", uint64(st.Type))
}

// loadavg returns the 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// selfCPU returns the CPU time (user + system) of the bench process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pinned is -master-cpus: the CPUs the masters and the echo server are
// pinned to, or "".
var pinned string

// command is exec.Command for a master or the echo server, under
// taskset -c pinned when set.
func command(name string, args ...string) *exec.Cmd {
	if pinned == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", pinned, name}, args...)...)
}

// affinity lists the CPUs this process may run on, as taskset -c does.
func affinity() string {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return "unknown"
	}
	var cpus []string
	for i := 0; i < 1024; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, strconv.Itoa(i))
		}
	}
	return strings.Join(cpus, ",")
}
