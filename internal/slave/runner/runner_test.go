package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestInterleavedOutputKeepsOrder(t *testing.T) {
	t.Parallel()
	_, out := runScript(t, "echo a; echo b >&2; echo c")
	if out != "a\nb\nc\n" {
		t.Errorf("output %q, want %q", out, "a\nb\nc\n")
	}

	// Many alternations: one pipe for both streams, so no reordering.
	_, out = runScript(t, `for i in $(seq 300); do echo "out $i"; echo "err $i" >&2; done`)
	var want strings.Builder
	for i := 1; i <= 300; i++ {
		fmt.Fprintf(&want, "out %d\nerr %d\n", i, i)
	}
	if out != want.String() {
		t.Errorf("interleaved output out of order:\n%.200s...", out)
	}
}

// Not parallel: it measures the allocations of the whole process.
func TestLargeOutputCompleteBoundedChunks(t *testing.T) {
	const size = 50 << 20
	const pattern = "abcdefghi\n"
	var (
		total, chunks, maxChunk int
		bad                     = -1
	)
	s := Spec{
		Script: fmt.Sprintf("yes abcdefghi | head -c %d", size),
		Dir:    t.TempDir(),
		Output: func(b []byte) {
			chunks++
			maxChunk = max(maxChunk, len(b))
			for i, c := range b {
				if bad < 0 && c != pattern[(total+i)%len(pattern)] {
					bad = total + i
				}
			}
			total += len(b)
		},
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := Run(context.Background(), s)
	runtime.ReadMemStats(&after)
	if res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("result %+v", res)
	}
	if total != size {
		t.Errorf("got %d bytes, want %d", total, size)
	}
	if bad >= 0 {
		t.Errorf("output corrupted at byte %d", bad)
	}
	if maxChunk > MaxChunk {
		t.Errorf("chunk of %d bytes, limit %d", maxChunk, MaxChunk)
	}
	// The buffer is reused: allocations do not grow with the output.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("allocated %d bytes for %d bytes of output", alloc, size)
	}
	t.Logf("%d bytes in %d chunks (max %d) in %v", total, chunks, maxChunk, res.End.Sub(res.Start))
}

func TestOutputIsStreamedLive(t *testing.T) {
	t.Parallel()
	var c capture
	s := spec(t, &c, "echo A; sleep 1; date +%s.%N > b.time; echo B")
	res := Run(context.Background(), s)
	if res.Err != nil || c.String() != "A\nB\n" {
		t.Fatalf("result %+v, output %q", res, c.String())
	}
	if len(c.times) != 2 {
		t.Fatalf("got %d chunks %v, want 2", len(c.times), c.sizes)
	}
	// A arrived while the script slept, before B was printed.
	sec, err := strconv.ParseFloat(readFile(t, s.Dir, "b.time"), 64)
	if err != nil {
		t.Fatal(err)
	}
	printedB := time.Unix(0, int64(sec*1e9))
	if !c.times[0].Before(printedB) {
		t.Errorf("A delivered at %v, B printed at %v", c.times[0], printedB)
	}
	if gap := c.times[1].Sub(c.times[0]); gap < 500*time.Millisecond {
		t.Errorf("A delivered only %v before B", gap)
	}
}

func TestOutputFlushedPeriodically(t *testing.T) {
	t.Parallel()
	// One byte every 10 ms for 1.5 s: small writes are batched, but a
	// chunk comes at least every FlushInterval.
	var c capture
	res := Run(context.Background(), spec(t, &c,
		`for i in $(seq 150); do printf x; sleep 0.01; done`))
	if res.Err != nil || c.String() != strings.Repeat("x", 150) {
		t.Fatalf("result %+v, output %q", res, c.String())
	}
	n := len(c.times)
	if n < 4 || n > 100 {
		t.Errorf("%d chunks (%v): want periodic flushes of batched writes", n, c.sizes)
	}
	for i := 1; i < n; i++ {
		if gap := c.times[i].Sub(c.times[i-1]); gap > time.Second {
			t.Errorf("no output for %v between chunks %d and %d", gap, i-1, i)
		}
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"true", 0},
		{"exit 0", 0},
		{"false", 1},
		{"exit 1", 1},
		{"exit 42", 42},
		{"echo partial; exit 255", 255},
		{"kill -KILL $$", 128 + 9},
		{"kill -USR1 $$", 128 + 10},
		{"", 0}, // empty script: no-op success
		{"#!/bin/sh\n", 0},
	} {
		t.Run(tc.script, func(t *testing.T) {
			t.Parallel()
			res, out := runScript(t, tc.script)
			if res.ExitCode != tc.want || res.TimedOut || res.Cancelled {
				t.Errorf("%q: result %+v (output %q), want exit %d", tc.script, res, out, tc.want)
			}
			if res.OK() != (tc.want == 0) {
				t.Errorf("OK() = %v with exit %d", res.OK(), res.ExitCode)
			}
		})
	}
}

func TestStdinIsDevNull(t *testing.T) {
	t.Parallel()
	var c capture
	s := spec(t, &c, `read x; echo "read=$?"; readlink /proc/$$/fd/0`)
	s.Timeout = 30 * time.Second
	res := Run(context.Background(), s)
	if res.Err != nil || res.TimedOut {
		t.Fatalf("result %+v", res)
	}
	if got := c.String(); got != "read=1\n/dev/null\n" {
		t.Errorf("output %q", got)
	}
	if d := res.End.Sub(res.Start); d > 5*time.Second {
		t.Errorf("read took %v", d)
	}
}

func TestWorkDirAndEnv(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "session", "slave1") // created by Run
	var c1, c2 capture
	s := spec(t, &c1, `pwd; echo "$FOO $BAR"; echo kept > file; echo "$XRDTEST_RUN_ID"; echo "$0"`)
	s.Dir = dir
	s.Env = []string{"FOO=foo", "BAR=bar baz"}
	res := Run(context.Background(), s)
	if res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("result %+v", res)
	}
	lines := strings.Split(c1.String(), "\n")
	if len(lines) != 5 || lines[0] != dir || lines[1] != "foo bar baz" {
		t.Fatalf("output %q, want cwd %s and env", c1.String(), dir)
	}
	id1 := lines[2]
	if len(id1) < 16 {
		t.Errorf("run id %q", id1)
	}
	if want := filepath.Join(dir, ScriptDir, "stage-"+id1+".sh"); lines[3] != want {
		t.Errorf("script file %q, want %q", lines[3], want)
	}

	// A second stage in the same dir sees the files of the first; the
	// script files are gone and each run has its own id.
	s.Output = c2.output
	s.Script = `cat file; ls -A .xrdtest | wc -l; echo "$XRDTEST_RUN_ID"`
	if res := Run(context.Background(), s); res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("second run: %+v", res)
	}
	lines = strings.Fields(c2.String())
	if len(lines) != 3 || lines[0] != "kept" || lines[1] != "1" || lines[2] == id1 {
		t.Errorf("second run output %q", c2.String())
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, ScriptDir)); len(ents) != 0 {
		t.Errorf("script files left: %v", ents)
	}
	if fi, err := os.Stat(filepath.Join(dir, ScriptDir)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("script dir: %v %v", fi.Mode(), err)
	}
}

func TestInfrastructureErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Spec{
		"missing shell path": {Script: "true", Dir: t.TempDir(), Shell: "/nonexistent"},
		"shell not in PATH":  {Script: "true", Dir: t.TempDir(), Shell: "no-such-shell-xrdtest"},
		"no dir":             {Script: "true"},
		"dir is a file":      {Script: "true", Dir: file},
	} {
		res := Run(context.Background(), s)
		if res.Err == nil || res.ExitCode != -1 || res.OK() {
			t.Errorf("%s: result %+v, want Err", name, res)
		}
		t.Logf("%s: %v", name, res.Err)
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	res := Run(ctx, Spec{Script: "touch ran", Dir: dir})
	if !res.Cancelled || res.Err != nil || res.ExitCode != -1 {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("script ran")
	}
}
