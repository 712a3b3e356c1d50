// Command bench measures the xrdtest master: the overhead of its stage
// barrier with 10, 100 and 1000 slaves, its memory, and how it stores a
// 1 GiB stage output. It builds xrdtest, starts `xrdtest master` as a
// separate process per round and drives it with simulated slaves that
// speak the real protocol (gRPC, mutual TLS, one identity and connection
// each) but run nothing. See README.md for how to read the figures.
//
//	go run ./bench [-n 10,100,1000] [-stream-mib 1024] [-json]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/xrdtest/xrdtest/bench/internal/benchkit"

	"github.com/xrdtest/xrdtest/internal/api"
)

type options struct {
	ns        []int
	streamMiB int64
	forks     int
	parallel  int
	timeout   time.Duration
	tmp       string
	keep      bool
	json      bool
	// floorRounds is the number of echo rounds of the floor measured
	// before each barrier round (0: no floor).
	floorRounds int
	cpuProfile  string
	floorOnly   bool
	masterCPUs  string
	// masterProfile: write a CPU profile of each barrier round's master,
	// profileSeconds long from the session's start, to masterProfile-N.
	masterProfile  string
	profileSeconds int
	binary         string // run this xrdtest binary instead of building one
}

// report is everything the run measured; -json prints it as is.
type report struct {
	Env      env   `json:"env"`
	ForkExec *dist `json:"fork_exec_bash"`
	// RecordUs is the CPU of recording one stage result in SQLite (in
	// batches of 100), beside the master.
	RecordUs float64       `json:"record_result_cpu_us"`
	Rounds   []*round      `json:"rounds"`
	Floors   []*floorRound `json:"floor"`
	Stream   *streamRound  `json:"stream,omitempty"`
	Targets  []target      `json:"targets"`
}

type env struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
	TmpDir    string `json:"tmp_dir"`
	TmpFS     string `json:"tmp_fs"`
	NoFile    uint64 `json:"nofile_limit"`
	Started   string `json:"started"`
	// The load averages at the start and the end: other work on the
	// machine shares the CPUs with the master and skews every figure.
	// CPUs the bench process (the simulated slaves) may run on, and the
	// ones the masters and the echo server were pinned to (-master-cpus;
	// empty: not pinned, they share every CPU).
	BenchCPUs  string `json:"bench_cpus"`
	MasterCPUs string `json:"master_cpus,omitempty"`
	LoadStart  string `json:"loadavg_start"`
	LoadEnd    string `json:"loadavg_end"`
}

// round is one barrier round: a fresh master, n slaves, one session of
// benchStages stages.
type round struct {
	Slaves     int     `json:"slaves"`
	Stages     int     `json:"stages"`
	ConnectS   float64 `json:"connect_s"` // enroll + connect every slave
	SessionS   float64 `json:"session_s"` // the session's start to end, master's clock
	PerStageMs float64 `json:"per_stage_ms"`
	// Overhead is stage.ended - stage.started: from the barrier opening
	// (dispatch) to it closing after the last slave's result.
	Overhead dist `json:"stage_overhead"`
	// Where it goes: Dispatch is until the last slave's recorded start
	// (its command being sent: the simulated slaves answer at once, with
	// no StageStarted), Close from the last StageDone to the barrier
	// closing, Gap
	// between one stage's end and the next one's start.
	Dispatch dist `json:"dispatch"`
	Close    dist `json:"close"`
	Gap      dist `json:"gap"`
	// MasterCPUS is the CPU time the master used during the session;
	// CPUPerResultUs divides it by the stage results (slaves x stages).
	MasterCPUS     float64 `json:"master_cpu_s"`
	SlavesCPUS     float64 `json:"slaves_cpu_s"` // the bench process (the simulated slaves) meanwhile
	CPUPerResultUs float64 `json:"master_cpu_per_result_us"`
	RSSIdleMiB     float64 `json:"master_rss_idle_mib"`  // n connected, before the session
	RSSAfterMiB    float64 `json:"master_rss_after_mib"` // right after the session
	HWMMiB         float64 `json:"master_rss_peak_mib"`  // VmHWM: the highest RSS of the master's life
	// DetailS and DetailMiB: fetching the session's detail from the API
	// (what the web UI and `xrdtest status` read), its time and size.
	DetailS   float64 `json:"detail_fetch_s"`
	DetailMiB float64 `json:"detail_mib"`
}

type target struct {
	What  string  `json:"what"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"`
	OK    bool    `json:"ok"`
}

func main() {
	o := &options{}
	nList := flag.String("n", "10,100,1000", "slave counts of the barrier rounds, comma-separated (empty: none)")
	flag.Int64Var(&o.streamMiB, "stream-mib", 1024, "MiB streamed by the streaming round (0: skip it)")
	flag.IntVar(&o.forks, "forks", 200, "runs of `bash -c :` timed for comparison")
	flag.IntVar(&o.parallel, "parallel", 32, "slaves enrolling and connecting at a time")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "limit of one session")
	flag.StringVar(&o.tmp, "tmp", "", "where the temporary folders go (default: $TMPDIR or /tmp); the master's state, outputs included, is there")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary folders")
	flag.BoolVar(&o.json, "json", false, "print one JSON object with every figure instead of tables")
	flag.IntVar(&o.floorRounds, "floor-rounds", 200, "rounds of the bare gRPC echo measured before each barrier round (0: none)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the bench process (the simulated slaves) to this file")
	flag.BoolVar(&o.floorOnly, "floor-only", false, "measure the floor of each -n only, no barrier round")
	flag.StringVar(&o.masterCPUs, "master-cpus", "", "pin the masters and the echo server to these CPUs (taskset -c `LIST`); run the bench itself under taskset -c on the others. Not the headline figures")
	flag.StringVar(&o.masterProfile, "master-cpuprofile", "", "write a CPU profile of each barrier round's master to `PREFIX`-N.prof (from the session's start, -profile-seconds long)")
	flag.IntVar(&o.profileSeconds, "profile-seconds", 10, "length of the masters' CPU profiles")
	flag.StringVar(&o.binary, "binary", "", "run this xrdtest binary as the master instead of building one (to compare two builds run after run)")
	flag.Parse()
	for _, f := range strings.Split(*nList, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 62000 {
			fmt.Fprintf(os.Stderr, "bench: -n: bad slave count %q\n", f)
			os.Exit(2)
		}
		o.ns = append(o.ns, n)
	}
	if caDir := os.Getenv(echoEnv); caDir != "" {
		// This process is the floor's echo server, started by floor.
		if err := echoServer(caDir, o.ns[0], o.floorRounds); err != nil {
			fmt.Fprintf(os.Stderr, "bench: echo server: %v\n", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: -cpuprofile: %v\n", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := run(ctx, o)
	if rep != nil {
		if o.json {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else {
			printTables(os.Stdout, rep)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// progress goes to stderr, so that -json leaves stdout to the JSON.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func run(ctx context.Context, o *options) (*report, error) {
	nofile, err := raiseNofile()
	if err != nil {
		return nil, fmt.Errorf("raising the open file limit: %w", err)
	}
	if len(o.ns) > 0 {
		if need := uint64(2*slices.Max(o.ns) + 256); nofile < need {
			progress("warning: the open file limit is %d; %d slaves need about %d", nofile, slices.Max(o.ns), need)
		}
	}
	tmp := o.tmp
	if tmp == "" {
		tmp = os.TempDir()
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	rep := &report{Env: env{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Kernel: strings.TrimSpace(string(kernel)), TmpDir: tmp, TmpFS: fsType(tmp), NoFile: nofile,
		Started: time.Now().Format(time.RFC3339), LoadStart: loadavg(), BenchCPUs: affinity(), MasterCPUs: o.masterCPUs}}
	pinned = o.masterCPUs
	defer func() { rep.Env.LoadEnd = loadavg() }()

	bin := o.binary
	if bin == "" {
		buildDir, err := tempDir(o.tmp, "xrdtest-bench-bin-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(buildDir)
		bin = filepath.Join(buildDir, "xrdtest")
		progress("building %s", bin)
		if err := benchkit.Build(ctx, bin, "bench"); err != nil {
			return nil, err
		}
	}

	progress("timing %d runs of bash -c :", o.forks)
	fe, err := forkExec(o.forks)
	if err != nil {
		return nil, fmt.Errorf("bash -c : %w", err)
	}
	rep.ForkExec = &fe

	progress("timing the recording of stage results in SQLite")
	rec, err := recordCost(ctx, o.tmp, 20000, 100)
	if err != nil {
		return nil, fmt.Errorf("recording results: %w", err)
	}
	rep.RecordUs = float64(rec.Nanoseconds()) / 1e3

	for _, n := range o.ns {
		if o.floorRounds > 0 {
			progress("floor: bare gRPC echo, %d streams", n)
			f, err := floor(ctx, o, n)
			if err != nil {
				rep.Targets = targets(rep)
				return rep, fmt.Errorf("floor of %d streams: %w", n, err)
			}
			rep.Floors = append(rep.Floors, f)
			progress("  round trip p50 %.2f ms, p99 %.2f ms; server RSS %.1f MiB", f.RoundTrip.P50, f.RoundTrip.P99, f.RSSAfterMiB)
		}
		if o.floorOnly {
			continue
		}
		progress("barrier round: %d slaves", n)
		r, err := barrierRound(ctx, o, bin, n)
		if err != nil {
			rep.Targets = targets(rep)
			return rep, fmt.Errorf("round of %d slaves: %w", n, err)
		}
		rep.Rounds = append(rep.Rounds, r)
		progress("  stage overhead p50 %.2f ms, p99 %.2f ms, max %.2f ms; master RSS %.1f MiB",
			r.Overhead.P50, r.Overhead.P99, r.Overhead.Max, r.RSSAfterMiB)
	}
	if o.streamMiB > 0 {
		progress("streaming round: %d MiB", o.streamMiB)
		s, err := runStream(ctx, o, bin, o.tmp, o.streamMiB<<20)
		if err != nil {
			rep.Targets = targets(rep)
			return rep, fmt.Errorf("streaming round: %w", err)
		}
		rep.Stream = s
	}
	rep.Targets = targets(rep)
	if rep.Stream != nil && !rep.Stream.Match {
		return rep, errors.New("the stored output differs from what the slave sent (MISMATCH)")
	}
	return rep, nil
}

func cleanup(o *options, dir string) {
	if o.keep {
		progress("kept %s", dir)
		return
	}
	os.RemoveAll(dir)
}

// barrierRound runs one session of the benchmark suite on a fresh master
// with n instant slaves.
func barrierRound(ctx context.Context, o *options, bin string, n int) (*round, error) {
	dir, err := tempDir(o.tmp, fmt.Sprintf("xrdtest-bench-%d-", n))
	if err != nil {
		return nil, err
	}
	defer cleanup(o, dir)
	repo := filepath.Join(dir, "repo")
	if err := barrierRepo(repo, n); err != nil {
		return nil, err
	}
	if err := checkRepo(ctx, bin, repo, "bench", n, benchStages); err != nil {
		return nil, err
	}
	m, err := startMaster(ctx, bin, dir, repo, o.masterProfile != "")
	if err != nil {
		return nil, err
	}
	defer m.stop()

	names := make([]string, n)
	for i := range names {
		names[i] = hostName(i + 1)
	}
	t0 := time.Now()
	slaves, err := startSlaves(ctx, m, names, filepath.Join(dir, "slaves"), o.parallel, func(string) stageHandler { return instant{} })
	if err != nil {
		return nil, err
	}
	defer stopSlaves(slaves)
	if err := m.waitSlaves(ctx, n, 2*time.Minute); err != nil {
		return nil, err
	}
	r := &round{Slaves: n, ConnectS: time.Since(t0).Seconds()}
	idle, _, err := m.memory()
	if err != nil {
		return nil, err
	}
	r.RSSIdleMiB = mib(idle)
	cpu0, err := m.cpuTime()
	if err != nil {
		return nil, err
	}
	self0 := selfCPU()

	if o.masterProfile != "" {
		prof := m.cpuProfile(ctx, fmt.Sprintf("%s-%d.prof", o.masterProfile, n), o.profileSeconds)
		defer func() {
			if err := <-prof; err != nil {
				progress("master CPU profile: %v", err)
			}
		}()
	}
	s, err := m.runSession(ctx, "bench", o.timeout)
	if err != nil {
		return nil, err
	}
	cpu1, err := m.cpuTime()
	if err != nil {
		return nil, err
	}
	r.MasterCPUS, r.SlavesCPUS = (cpu1 - cpu0).Seconds(), (selfCPU() - self0).Seconds()
	r.CPUPerResultUs = r.MasterCPUS * 1e6 / float64(n*benchStages)
	// Memory first: fetching the session detail makes the master build a
	// large JSON document.
	after, hwm, err := m.memory()
	if err != nil {
		return nil, err
	}
	r.RSSAfterMiB, r.HWMMiB = mib(after), mib(hwm)
	if err := slaveFailures(slaves); err != nil {
		return nil, fmt.Errorf("slaves lost their connection: %w", err)
	}
	if s.State != api.SessionPassed {
		return nil, fmt.Errorf("session %d %s: %s", s.ID, s.State, s.Reason)
	}
	t1 := time.Now()
	d, size, err := m.detail(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	r.DetailS, r.DetailMiB = time.Since(t1).Seconds(), mib(size)
	if err := r.measure(d, n); err != nil {
		return nil, fmt.Errorf("session %d: %w", s.ID, err)
	}
	return r, nil
}

// measure computes the stage figures from the master's record, checking
// that every stage ran and passed on every slave.
func (r *round) measure(d *api.SessionDetail, n int) error {
	if len(d.Stages) != benchStages {
		return fmt.Errorf("%d stages recorded, want %d", len(d.Stages), benchStages)
	}
	r.Stages = len(d.Stages)
	r.SessionS = d.Ended.Sub(d.Started).Seconds()
	var over, disp, clos, gap []time.Duration
	for i, st := range d.Stages {
		if st.Started.IsZero() || st.Ended.IsZero() {
			return fmt.Errorf("stage %s has no start or end", st.Name)
		}
		if len(st.Results) != n {
			return fmt.Errorf("stage %s has %d results, want %d", st.Name, len(st.Results), n)
		}
		var lastStart, lastEnd time.Time
		for _, res := range st.Results {
			if res.Status != "passed" {
				return fmt.Errorf("stage %s on %s: %s %s", st.Name, res.Slave, res.Status, res.Message)
			}
			if res.Start.After(lastStart) {
				lastStart = res.Start
			}
			if res.End.After(lastEnd) {
				lastEnd = res.End
			}
		}
		over = append(over, st.Ended.Sub(st.Started))
		disp = append(disp, lastStart.Sub(st.Started))
		clos = append(clos, st.Ended.Sub(lastEnd))
		if i > 0 {
			gap = append(gap, st.Started.Sub(d.Stages[i-1].Ended))
		}
	}
	r.Overhead, r.Dispatch, r.Close, r.Gap = summarize(over), summarize(disp), summarize(clos), summarize(gap)
	r.PerStageMs = r.SessionS * 1000 / float64(len(d.Stages))
	return nil
}

// targets checks the figures against the goals of the design.
func targets(rep *report) []target {
	out := []target{}
	for _, r := range rep.Rounds {
		switch r.Slaves {
		case 100:
			out = append(out, target{What: "stage overhead p50, 100 slaves", Value: r.Overhead.P50, Limit: 2, Unit: "ms"})
		case 1000:
			out = append(out, target{What: "stage overhead p50, 1000 slaves", Value: r.Overhead.P50, Limit: 20, Unit: "ms"},
				target{What: "master RSS after the session, 1000 slaves", Value: r.RSSAfterMiB, Limit: 300, Unit: "MiB"})
		}
	}
	for _, f := range rep.Floors {
		for _, r := range rep.Rounds {
			if r.Slaves == f.Slaves && (r.Slaves == 100 || r.Slaves == 1000) && f.RoundTrip.P50 > 0 {
				out = append(out, target{What: fmt.Sprintf("barrier p50 / echo floor p50, %d slaves", r.Slaves),
					Value: r.Overhead.P50 / f.RoundTrip.P50, Limit: floorTarget, Unit: "x"})
			}
		}
	}
	if s := rep.Stream; s != nil {
		out = append(out, target{What: "master RSS growth while storing the stream", Value: s.RSSGrowthMiB, Limit: 64, Unit: "MiB"})
	}
	for i := range out {
		out[i].OK = out[i].Value < out[i].Limit
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func printTables(w io.Writer, rep *report) {
	e := rep.Env
	fmt.Fprintf(w, "xrdtest master benchmark, %s: %d CPUs, %s %s (kernel %s), temp %s (%s)\n",
		e.Started, e.CPUs, e.GoVersion, e.OS, e.Kernel, e.TmpDir, e.TmpFS)
	if e.MasterCPUs == "" {
		fmt.Fprintf(w, "load average at start %s, at end %s (the master shares the CPUs with the simulated slaves and anything else)\n\n",
			e.LoadStart, e.LoadEnd)
	} else {
		fmt.Fprintf(w, "load average at start %s, at end %s\n", e.LoadStart, e.LoadEnd)
		fmt.Fprintf(w, "PINNED: the masters and the echo server on CPUs %s, the bench (simulated slaves) on CPUs %s (not the headline figures)\n\n",
			e.MasterCPUs, e.BenchCPUs)
	}
	if len(rep.Rounds) > 0 {
		fmt.Fprintf(w, "Barrier: one session of %d stages, every stage dispatched to every slave; slaves answer at once.\n", benchStages)
		fmt.Fprintln(w, "Stage overhead (p50 p99 max mean) = stage ended - stage started on the master's clock, in ms over the")
		fmt.Fprintln(w, "200 stages; its parts in ms; RSS of the master process in MiB (idle: slaves connected, before the session).")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "slaves\tconnect s\tsession s\tp50\tp99\tmax\tmean\t  dispatch p50\tclose p50\tgap p50\t  CPU s\tCPU/result us\t  RSS idle\tafter\tpeak\t")
		for _, r := range rep.Rounds {
			fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.0f\t%.1f\t%.1f\t%.1f\t\n",
				r.Slaves, r.ConnectS, r.SessionS, r.Overhead.P50, r.Overhead.P99, r.Overhead.Max, r.Overhead.Mean,
				r.Dispatch.P50, r.Close.P50, r.Gap.P50, r.MasterCPUS, r.CPUPerResultUs, r.RSSIdleMiB, r.RSSAfterMiB, r.HWMMiB)
		}
		tw.Flush()
		fmt.Fprintln(w, "(dispatch: stage start -> the last slave's start, which for these slaves is its command leaving; close: last StageDone -> stage end;")
		fmt.Fprintln(w, " gap: stage end -> next stage start; CPU: the master's user+system time during the session, and per stage result)")
		for _, r := range rep.Rounds {
			fmt.Fprintf(w, "%4d slaves: the simulated slaves (bench process) used %.1f s of CPU during the session; GET /api/v1/sessions/{id}: %.1f MiB in %.2f s\n",
				r.Slaves, r.SlavesCPUS, r.DetailMiB, r.DetailS)
		}
		fmt.Fprintln(w)
	}
	if len(rep.Floors) > 0 {
		printFloors(w, rep)
	}
	if fe := rep.ForkExec; fe != nil {
		fmt.Fprintf(w, "For comparison, fork+exec of `bash -c :` via os/exec, %d runs: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n\n",
			fe.N, fe.P50, fe.P99, fe.Max)
	}
	if rep.RecordUs > 0 {
		fmt.Fprintf(w, "Recording stage results in SQLite as the master does (PutResults, batches of 100, 20000 rows): %.1f us of CPU per result\n\n", rep.RecordUs)
	}
	if s := rep.Stream; s != nil {
		fmt.Fprintf(w, "Streaming: one slave sends %d MiB of output in one stage (%d chunks of 64 KiB, window 8 MiB)\n", s.Bytes>>20, s.Chunks)
		fmt.Fprintf(w, "  throughput        %.0f MiB/s (%.2f s from RunStage to the last chunk acknowledged; master CPU %.1f s)\n",
			s.MiBPerSecond, s.Seconds, s.MasterCPUS)
		fmt.Fprintf(w, "  master RSS        before %.1f MiB, peak %.1f MiB, growth %.1f MiB (%d samples, every 100 ms)\n",
			s.RSSBeforeMiB, s.RSSPeakMiB, s.RSSGrowthMiB, s.RSSSamples)
		match := "MISMATCH"
		if s.Match {
			match = "OK"
		}
		fmt.Fprintf(w, "  sent    sha256    %s\n  stored  sha256    %s (%d bytes, read back at %.0f MiB/s)  %s\n\n",
			s.SentSHA256, s.StoredSHA256, s.StoredBytes, s.ReadMiBPerSec, match)
	}
	if len(rep.Targets) > 0 {
		fmt.Fprintln(w, "Targets:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, t := range rep.Targets {
			fmt.Fprintf(tw, "  %s\t%.2f %s\t< %g %s\t%s\n", t.What, t.Value, t.Unit, t.Limit, t.Unit, verdict(t.OK))
		}
		tw.Flush()
	}
}
