package main

import (
	"context"
	"io"
	"os"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/shellclient"
)

// shellFailed is the exit status of a shell that did not run or did not
// end with an exit code of its own (as ssh's 255).
const shellFailed = shellclient.Failed

// runShell is `xrdtest shell SESSION HOST [-- COMMAND...]`: a shell on a
// host of a running or held session, relayed by the master over the
// slave's own connection (no SSH). On a terminal, the terminal is put in
// raw mode, so that Ctrl-C and the window size reach the remote side;
// the remote exit code becomes the command's (package shellclient).
func runShell(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("shell", "usage: xrdtest shell [options] SESSION HOST [-- COMMAND [ARG...]]\n\n"+
		"Opens a shell on a host of a running or held session (HOST: its full or short\n"+
		"name), in the environment of its stage scripts: the session's work folder,\n"+
		"functions.sh, the XRDTEST_ variables. With a COMMAND, runs that instead. The\n"+
		"master relays it over the slave's own connection: no SSH. The exit code is the\n"+
		"remote one (255: the shell could not run, or was ended). Needs the API token.", stdout, stderr)
	noTTY := cmd.Bool("T", false, "no terminal even when stdin is one: stdout and stderr stay apart")
	pos, c, code, ok := cmd.connect(args, 2, -1)
	if !ok {
		return code
	}
	id, err := parseID(pos[0])
	if err != nil {
		return cmd.fail(2, err)
	}
	opts := api.ShellOptions{Command: pos[2:], By: who()}
	exit, err := shellclient.Run(ctx, c, id, pos[1], opts, !*noTTY, os.Stdin, stdout, stderr)
	if err != nil {
		return cmd.fail(shellFailed, err)
	}
	return exit
}
