package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/slave/syncsock"
)

// faultCommands are `xrdtest fault KIND`, called by stage scripts to break
// hosts of their session's cluster on purpose, through their slave and
// the master, which asks the backend running the cluster.
func faultCommands() []command {
	words := hypervisor.FaultWords // what ParseFault takes
	cmds := []command{
		{name: "partition", args: words["partition"], summary: "no traffic between two groups of hosts (HOST,HOST,...), both ways"},
		{name: "isolate", args: words["isolate"], summary: "the host reaches no other host"},
		{name: "loss", args: words["loss"], summary: "the host's packets dropped at random"},
		{name: "rate", args: words["rate"], summary: "the host's bandwidth capped (e.g. 1mbit)"},
		{name: "delay", args: words["delay"], summary: "latency added to the host's packets (needs the kernel's netem)"},
		{name: "pause", args: words["pause"], summary: "every process of the host frozen (netns: its slave stays up; a VM is suspended whole)"},
		{name: "resume", args: words["pause"], summary: "the host's processes thawed"},
		{name: "kill", args: words["kill"], summary: "SIGKILL to the host's processes named PROCESS (netns; refused on VMs)"},
		{name: "fill", args: words["fill"], summary: "the host's disk holding PATH filled until writes fail (ENOSPC; netns, refused on VMs)"},
		{name: "heal", args: "[ID...|all]", summary: "heal faults of the session (default: all)"},
		{name: "list", summary: "list the session's faults that are on"},
	}
	for i, c := range cmds {
		usage := fmt.Sprintf("usage: xrdtest fault %s %s\n\n", c.name, c.args) +
			strings.TrimSuffix(wrap("In a stage script: "+c.summary+".", "", usageWidth), "\n")
		cmds[i].run = runFault(c.name, usage)
	}
	return cmds
}

// runFault is `xrdtest fault KIND ARGS...`: it prints the fault's id
// (heal: the ids healed; list: the faults on, one a line).
func runFault(kind, usage string) runFunc {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := newFlags("fault "+kind, usage+"\n\nHosts are short names or FQDNs of the calling slave's cluster. A fault is\nhealed when its case ends (after its finalize; faults set in suite stages\nwhen the session ends), when healed by hand, or when the cluster stops.\nPrints the fault's id.", stdout, stderr)
		timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
		if code, ok := fs.parse(args); !ok {
			return code
		}
		cctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		res, err := syncsock.Fault(cctx, append([]string{kind}, fs.Args()...))
		if err != nil {
			fmt.Fprintf(stderr, "xrdtest fault %s: %v\n", kind, err)
			return 1
		}
		if res != "" {
			fmt.Fprintln(stdout, res)
		}
		return 0
	}
}
