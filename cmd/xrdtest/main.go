// Command xrdtest is the XrdTest successor: the master, hypervisor and
// slave daemons of a distributed test framework, and the client commands
// that talk to them, in one binary.
//
// Each command is in a file of its name (status.go: `xrdtest status`),
// sub-commands included (suite.go: `xrdtest suite list|enable|disable`);
// commands lists them all.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/xrdtest/xrdtest/internal/hypervisor/netns/holder"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// runFunc runs a command with its arguments and returns the exit code.
type runFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// command is one command, or one subcommand of a command.
type command struct {
	name string
	// args is the synopsis of a subcommand's arguments, for the usage of
	// its group.
	args    string
	summary string
	// run runs the command; nil when it is only a group of subcommands.
	run runFunc
	// subs are its subcommands, chosen by the first argument.
	subs []command
}

// commands lists every command explicitly (no init() registration).
func commands() []command {
	return []command{
		{name: "quickstart", summary: "run suites once on local slaves: a master, a local backend and slaves in one command", run: runQuickstart},
		{name: "master", summary: "run the master daemon", run: runMaster},
		{name: "slave", summary: "run the slave daemon", run: runSlave},
		{name: "hypervisor", summary: "run the hypervisor daemon (starts the suites' clusters)", run: runHypervisor, subs: []command{
			{name: "purge", args: "[-c FILE]", summary: "remove the cached volumes xrdtest created", run: runHypervisorPurge},
			{name: "install-image", args: "[-c FILE] --image DIR [--name VOLUME]", summary: "put an image made by `xrdtest image build` into the storage pool", run: runHypervisorInstallImage},
		}},
		{name: "run", summary: "start a session of a suite on a master (--wait: until it ends)", run: runRun},
		{name: "status", summary: "show connected daemons and recent sessions, or one session", run: runStatus},
		{name: "cases", summary: "a suite's test cases over its history: pass rates, flakiness, failure fingerprints", run: runCases},
		{name: "quarantine", summary: "set a test case aside until a date: its failures fail nothing, send no mail", run: runQuarantine},
		{name: "unquarantine", summary: "end a test case's quarantine", run: runUnquarantine},
		{name: "logs", summary: "print the output of a session's stages (-f: follow)", run: runLogs},
		{name: "cancel", summary: "cancel a running session", run: runCancel},
		{name: "shell", summary: "a shell, or one command, on a host of a running or held session", run: runShell},
		{name: "hold", summary: "hold release|extend SESSION: a failed session held with its cluster up (run --hold)", subs: []command{
			{name: "release", args: "SESSION", summary: "let a held session go on: finalizes, logs, cluster stopped", run: runHoldRelease},
			{name: "extend", args: "SESSION DURATION", summary: "move a held session's deadline (up to [session] max_hold in all)", run: runHoldExtend},
		}},
		{name: "reload", summary: "fetch the master's git repositories and reload the definitions now", run: runReload},
		{name: "rerun", summary: "start a new session of a session's suite and test cases", run: runRerun},
		{name: "cluster", summary: "cluster stop NAME: stop a cluster no session uses", subs: []command{
			{name: "stop", args: "NAME", summary: "stop a cluster's machines, unless a session uses it", run: runClusterStop},
		}},
		{name: "suite", summary: "suite list|enable NAME|disable NAME: the suites' schedules", subs: []command{
			{name: "list", summary: "list the suites with their schedule", run: runSuiteList},
			{name: "enable", args: "NAME", summary: "enable a suite's schedule", run: runSuiteEnable(true)},
			{name: "disable", args: "NAME", summary: "disable a suite's schedule (it can still be run by hand)", run: runSuiteEnable(false)},
		}},
		{name: "image", summary: "build a small bootable slave image (kernel + initramfs) for VMs", subs: []command{
			{name: "build", args: "[--out DIR] [options]", summary: "build the slave image", run: runImageBuild},
		}},
		{name: "sync", summary: "in a stage script: barrier, signal or wait with the other slaves", subs: []command{
			{name: "barrier", args: "NAME", summary: "wait until every slave of the stage reached the barrier", run: runSync("barrier")},
			{name: "signal", args: "NAME", summary: "count a signal", run: runSync("signal")},
			{name: "wait", args: "[--count N] NAME", summary: "wait for signals", run: runSync("wait")},
		}},
		{name: "fault", summary: "in a stage script: break hosts of the cluster on purpose (partition, pause, kill, ...), heal them", subs: faultCommands()},
		{name: "config", summary: "config check FILE: validate a master, hypervisor or slave configuration", subs: []command{
			{name: "check", args: "[--kind master|hypervisor|slave] [--json] FILE", summary: "validate a configuration and show every key with its origin", run: runConfigCheck},
		}},
		{name: "check", summary: "validate definition repositories and show what they define", run: runCheck},
		{name: "version", summary: "print the version", run: runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command args name: `xrdtest help [COMMAND...]` and
// `xrdtest COMMAND help` are COMMAND's --help.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Hidden: the netns backend's host holder, started by the backend
	// itself, never by a user.
	if len(args) > 0 && args[0] == holder.Command {
		if err := holder.Run(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(stderr, "xrdtest "+holder.Command+":", err)
			return 1
		}
		return 0
	}
	top := command{name: "", subs: commands()}
	if len(args) > 0 && args[0] == "help" {
		return dispatch(ctx, top, "xrdtest", append(args[1:], "--help"), stdout, stderr)
	}
	return dispatch(ctx, top, "xrdtest", args, stdout, stderr)
}

// dispatch runs c, named path, with args: its subcommand when args name
// one, else c itself.
func dispatch(ctx context.Context, c command, path string, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "help" {
		args = []string{"--help"}
	}
	if i := c.subIndex(args); i >= 0 {
		sub := c.subs[slices.IndexFunc(c.subs, func(s command) bool { return s.name == args[i] })]
		return dispatch(ctx, sub, path+" "+sub.name, append(args[:i:i], args[i+1:]...), stdout, stderr)
	}
	if c.run != nil {
		return c.run(ctx, args, stdout, stderr)
	}
	switch {
	case slices.ContainsFunc(args, isHelp):
		groupUsage(stdout, path, c.subs)
		return 0
	case len(args) > 0:
		what := "command"
		if path != "xrdtest" {
			what = "subcommand"
		}
		fmt.Fprintf(stderr, "%s: unknown %s %q\n\n", path, what, args[0])
	}
	groupUsage(stderr, path, c.subs)
	return 2
}

// subIndex is the index in args of the subcommand they name, -1 if none:
// the first argument, or for a group of subcommands the first argument
// that names one after flags (`xrdtest suite --master URL list`; the
// subcommand takes them).
func (c command) subIndex(args []string) int {
	for i, a := range args {
		if slices.ContainsFunc(c.subs, func(s command) bool { return s.name == a }) {
			return i
		}
		if i == 0 && (c.run != nil || !strings.HasPrefix(a, "-")) {
			break
		}
	}
	return -1
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// groupUsage is the usage of a command that is a group of subcommands,
// or of xrdtest itself.
func groupUsage(w io.Writer, path string, subs []command) {
	what := "subcommand"
	if path == "xrdtest" {
		what = "command"
		fmt.Fprintln(w, "usage: xrdtest COMMAND [ARGS]")
	} else {
		for i, c := range subs {
			prefix := "usage: "
			if i > 0 {
				prefix = "       "
			}
			fmt.Fprintln(w, strings.TrimRight(prefix+path+" "+c.name+" "+c.args, " "))
		}
	}
	fmt.Fprintf(w, "\n%ss:\n", what)
	width := 0
	for _, c := range subs {
		width = max(width, len(c.name))
	}
	for _, c := range subs {
		name := fmt.Sprintf("  %-*s ", width, c.name)
		indent := strings.Repeat(" ", len(name))
		io.WriteString(w, name+strings.TrimPrefix(wrap(c.summary, indent, usageWidth), indent))
	}
	fmt.Fprintf(w, "\nRun '%s %s -h' for the options of a %s.\n", path, strings.ToUpper(what), what)
}

// runVersion is `xrdtest version`.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "usage: xrdtest version\n\nPrints the version of this xrdtest.", stdout, stderr)
	// Arguments are ignored, as they always were.
	if code, ok := fs.parse(args); !ok {
		return code
	}
	fmt.Fprintln(stdout, "xrdtest", version)
	return 0
}
