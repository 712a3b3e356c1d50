package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/xrdtest/xrdtest/internal/config"
	"github.com/xrdtest/xrdtest/internal/daemonclient"
	"github.com/xrdtest/xrdtest/internal/daemonproc"
)

// daemonCommand is one of the daemons' commands (master, slave,
// hypervisor): its flags, its error output and the start they share.
type daemonCommand struct {
	*flags
	name string
}

// newDaemonCommand makes `xrdtest name`; usage is printed above the
// flags' defaults.
func newDaemonCommand(name, usage string, stdout, stderr io.Writer) *daemonCommand {
	return &daemonCommand{flags: newFlags(name, usage, stdout, stderr), name: name}
}

// fail prints the message as the command's and returns status: 2 for a
// bad configuration, 1 for what failed when it ran.
func (c *daemonCommand) fail(status int, format string, a ...any) int {
	fmt.Fprintf(c.stderr, "xrdtest %s: %s\n", c.name, fmt.Sprintf(format, a...))
	return status
}

// start loads the configuration with load (an error: status 2), then
// starts the process from the [daemon] section d that load filled (pid
// file, log file, logger; an error: status 1). ok false: the command ends
// with code. The caller closes the process and serves SIGHUP
// (HandleHangups): the master reloads its definitions then, once it has
// them.
func (c *daemonCommand) start(load func() error, d *config.Daemon) (p *daemonproc.Proc, code int, ok bool) {
	if err := load(); err != nil {
		return nil, c.fail(2, "configuration: %v", err), false
	}
	p, err := daemonproc.Start(c.name, version, *d, c.stderr)
	if err != nil {
		return nil, c.fail(1, "%v", err), false
	}
	return p, 0, true
}

// daemonConnection is how a slave or hypervisor reaches and trusts the
// master: its [test_master] section, the daemon's name (its section's
// name key; "": this machine's host name) and state folder. An error is
// one of the configuration.
func daemonConnection(tm config.TestMaster, name, stateDir string) (daemonclient.Config, error) {
	if name == "" {
		var err error
		if name, err = os.Hostname(); err != nil {
			return daemonclient.Config{}, fmt.Errorf("no name given and no host name: %v", err)
		}
	}
	c := daemonclient.Config{Master: net.JoinHostPort(tm.IP, strconv.Itoa(tm.Port)), Name: name, StateDir: stateDir,
		Token: tm.ConnectionPasswd.Reveal(), Version: version}
	var err error
	c.Pin, c.HavePin, err = masterPin(tm)
	return c, err
}
