package main

import (
	"flag"
	"fmt"
	"io"
)

// clientCommand is a command that talks to the master's API: its flags
// (--master and --token among them), its usage and its error output.
type clientCommand struct {
	name   string // as in messages: "cancel", "suite enable"
	fs     *flag.FlagSet
	client func() *apiClient
	stderr io.Writer
}

// newClientCommand makes `xrdtest name`; usage is printed above the
// flags' defaults.
func newClientCommand(name, usage string, stderr io.Writer) *clientCommand {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &clientCommand{name: name, fs: fs, client: clientFlags(fs), stderr: stderr}
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	return c
}

// parse parses args, flags before, between or after the positional
// arguments, and returns the positional ones when there are from min to
// max of them (max < 0: no limit). Otherwise it prints the usage (the
// flag package has for a bad flag) and ok is false: exit status 2.
func (c *clientCommand) parse(args []string, min, max int) (pos []string, ok bool) {
	pos, err := parseInterspersed(c.fs, args)
	if err != nil {
		return nil, false
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		c.fs.Usage()
		return nil, false
	}
	return pos, true
}

// sessionArg parses args whose one positional argument is a session id;
// ok false: the usage or the error was printed, exit status 2.
func (c *clientCommand) sessionArg(args []string) (id int64, ok bool) {
	pos, ok := c.parse(args, 1, 1)
	if !ok {
		return 0, false
	}
	id, err := parseID(pos[0])
	if err != nil {
		c.fail(2, err)
		return 0, false
	}
	return id, true
}

// fail prints err as the command's and returns status: 2 for bad
// arguments, 1 when the master refused or could not be reached.
func (c *clientCommand) fail(status int, err error) int {
	fmt.Fprintf(c.stderr, "xrdtest %s: %v\n", c.name, err)
	return status
}
