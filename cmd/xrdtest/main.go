// Command xrdtest is the XrdTest successor: the master, hypervisor and
// slave daemons of a distributed test framework, and the client commands
// that talk to them, in one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/xrdtest/xrdtest/internal/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand; run returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists every subcommand explicitly (no init() registration).
func commands() []command {
	return []command{
		{"quickstart", "run suites once on local slaves: a master, a local backend and slaves in one command", runQuickstart},
		{"master", "run the master daemon", runMaster},
		{"slave", "run the slave daemon", runSlave},
		{"hypervisor", "run the hypervisor daemon (starts the suites' clusters)", runHypervisor},
		{"run", "start a session of a suite on a master (--wait: until it ends)", runRun},
		{"status", "show connected daemons and recent sessions, or one session", runStatus},
		{"logs", "print the output of a session's stages (-f: follow)", runLogs},
		{"cancel", "cancel a running session", runCancel},
		{"rerun", "start a new session of a session's suite and test cases", runRerun},
		{"cluster", "cluster stop NAME: stop a cluster no session uses", runCluster},
		{"suite", "suite list|enable NAME|disable NAME: the suites' schedules", runSuite},
		{"image", "build a small bootable slave image (kernel + initramfs) for VMs", runImage},
		{"sync", "in a stage script: barrier, signal or wait with the other slaves", runSync},
		{"config", "config check FILE: validate a master, hypervisor or slave configuration", runConfig},
		{"check", "validate definition repositories and show what they define", runCheck},
		{"version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, "xrdtest", version)
			return 0
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "xrdtest: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: xrdtest COMMAND [ARGS]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'xrdtest COMMAND -h' for the options of a command.")
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
