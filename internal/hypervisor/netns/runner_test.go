package netns

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/proctree"
	"github.com/xrdtest/xrdtest/internal/slave/inhost"
	"github.com/xrdtest/xrdtest/internal/slave/runner"
)

// runnerCase is a stage TestRunnerInHost runs beside a host, and what came of it.
type runnerCase struct {
	Name, Script string
	Timeout      time.Duration
	Exit         int
	TimedOut     bool
	Err, Out     string
}

var runnerCases = []runnerCase{
	{Name: "order and status", Script: "echo one; echo two >&2; hostname; exit 3"},
	{Name: "inside", Script: "readlink /proc/self/ns/net; cat /proc/self/cgroup"},
	{Name: "daemon", Script: "setsid sleep 1001 </dev/null >/dev/null 2>&1 &"},
	{Name: "timeout", Script: "setsid sleep 1002 </dev/null >/dev/null 2>&1 & sleep 1003; echo never", Timeout: time.Second},
}

// runBeside is the helper process of TestRunnerInHost, started as the
// netns backend starts a slave (the host's namespaces but its network):
// it runs runnerCases with the runner as the slave does, through
// package inhost, and prints the results as JSON.
func runBeside(join, work string) error {
	if err := proctree.BecomeSubreaper(); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go proctree.RunReaper(ctx, 0)
	h, err := inhost.Open("/proc/1/ns/net", join)
	if err != nil {
		return err
	}
	defer h.Close()
	results := make([]runnerCase, 0, len(runnerCases))
	for _, c := range runnerCases {
		var out strings.Builder
		res := runner.Run(ctx, runner.Spec{Script: c.Script, Dir: work, Env: h.Env(), Start: h.Start, Timeout: c.Timeout,
			Grace: 500 * time.Millisecond, Output: func(b []byte) { out.Write(b) }})
		c.Exit, c.TimedOut, c.Out = res.ExitCode, res.TimedOut, out.String()
		if res.Err != nil {
			c.Err = res.Err.Error()
		}
		results = append(results, c)
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}

// TestRunnerInHost: the slave's runner, beside its host as the netns
// backend places it, starts each script inside the host (its network
// namespace and cgroup, its name) and keeps its guarantees there: output
// order, exit status, and on timeout the whole tree killed, a child that
// left the process group (setsid) included, while a daemon of an earlier
// stage lives on.
func TestRunnerInHost(t *testing.T) {
	needRoot(t)
	work := t.TempDir()
	_, hosts := runningHosts(t, fourHosts(), work)
	h := hosts[0]
	join := filepath.Join(h.dir, "join.sh")
	if err := os.WriteFile(join, []byte(joinScript(h.name, h.cg)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The test binary's folder is private in the host: a link in work,
	// which the host sees.
	self := filepath.Join(work, "netns.test")
	if err := os.Link(os.Args[0], self); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--target", fmt.Sprint(h.pid), "--mount", "--uts", "--ipc", "--pid", "--",
		self, "__test-runner", join, work)
	cmd.Stderr = os.Stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("the runner beside the host: %v", err)
	}
	var got []runnerCase
	if err := json.Unmarshal(data, &got); err != nil || len(got) != len(runnerCases) {
		t.Fatalf("the runner beside the host printed %q: %v", data, err)
	}
	netns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", h.pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		ok := c.Err == ""
		switch c.Name {
		case "order and status":
			ok = ok && c.Exit == 3 && c.Out == "one\ntwo\nman\n"
		case "inside":
			ok = ok && c.Exit == 0 && strings.HasPrefix(c.Out, netns+"\n")
			for _, dir := range h.cg.dirs {
				ok = ok && strings.Contains(c.Out, "/"+filepath.Base(dir)+"\n")
			}
		case "daemon":
			ok = ok && c.Exit == 0 && c.Out == ""
		case "timeout":
			ok = ok && c.TimedOut && c.Out == ""
		}
		if !ok {
			t.Errorf("%s: exit %d, timed out %v, err %q, output %q", c.Name, c.Exit, c.TimedOut, c.Err, c.Out)
		}
	}
	for pattern, want := range map[string]bool{"sleep 1001": true, "sleep 1002": false, "sleep 1003": false} {
		out, _ := runIn(h, "pgrep", "-f", pattern)
		if (out != "") != want {
			t.Errorf("%s running in the host: %v, want %v", pattern, out != "", want)
		}
	}
}
