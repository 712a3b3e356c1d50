package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/xrdtest/xrdtest/internal/api"
)

// usageWidth is the width usage texts are wrapped to.
const usageWidth = 80

// flags is the flag set of one command or subcommand with its usage:
// `--help` prints the usage on stdout and ends the command with status 0,
// a bad flag prints the error and the usage on stderr, status 2.
type flags struct {
	*flag.FlagSet
	usage  string // printed above the flags' defaults
	stdout io.Writer
	stderr io.Writer
}

// newFlags makes the flags of `xrdtest name`.
func newFlags(name, usage string, stdout, stderr io.Writer) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), usage: usage, stdout: stdout, stderr: stderr}
	f.SetOutput(stderr)
	f.Usage = func() { f.printUsage(f.Output()) }
	return f
}

// printUsage prints the usage and the flags' defaults, their help
// wrapped to usageWidth.
func (f *flags) printUsage(w io.Writer) {
	fmt.Fprintln(w, f.usage)
	var defaults bytes.Buffer
	out := f.Output()
	f.SetOutput(&defaults)
	f.PrintDefaults()
	f.SetOutput(out)
	for line := range strings.Lines(defaults.String()) {
		// The flag package indents a flag's help with "    \t" and does
		// not wrap it: the same indentation in spaces, wrapped.
		if help, ok := strings.CutPrefix(line, "    \t"); ok {
			io.WriteString(w, wrap(help, "        ", usageWidth))
			continue
		}
		io.WriteString(w, line)
	}
}

// usageError prints the usage on stderr, for arguments the command does
// not take, and returns the exit status 2.
func (f *flags) usageError() int {
	f.printUsage(f.stderr)
	return 2
}

// parse parses args, which end at the first positional argument; ok
// false: the command ends with status code (see flags).
func (f *flags) parse(args []string) (code int, ok bool) {
	return f.outcome(func() error { return f.Parse(args) })
}

// parseInterspersed parses flags placed before, between and after the
// positional arguments and returns these; see parse.
func (f *flags) parseInterspersed(args []string) (pos []string, code int, ok bool) {
	code, ok = f.outcome(func() (err error) {
		pos, err = parseInterspersed(f.FlagSet, args)
		return err
	})
	return pos, code, ok
}

// outcome runs parse with the flag package's output held back: after
// -h or --help the usage goes to stdout instead.
func (f *flags) outcome(parse func() error) (code int, ok bool) {
	var said bytes.Buffer
	f.SetOutput(&said)
	err := parse()
	f.SetOutput(f.stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.printUsage(f.stdout)
		return 0, false
	case err != nil:
		f.stderr.Write(said.Bytes())
		return 2, false
	}
	return 0, true
}

// parseInterspersed parses flags placed before, between and after the
// positional arguments (`run SUITE --case X`), which flag.Parse alone
// stops at; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// wrap breaks text into lines of at most width columns, each starting
// with indent; a word longer than a line gets a line of its own.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	for para := range strings.Lines(text) {
		words := strings.Fields(para)
		if len(words) == 0 {
			b.WriteString("\n")
			continue
		}
		line := indent
		for _, word := range words {
			if line != indent && len(line)+1+len(word) > width {
				b.WriteString(line + "\n")
				line = indent
			}
			if line != indent {
				line += " "
			}
			line += word
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// printJSON is the --json output of the commands: v, indented by two
// spaces, on a line of its own.
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// clientCommand is a command that talks to the master's API: its flags
// (--master, --token and --ca among them) and its error output.
type clientCommand struct {
	*flags
	name   string // as in messages: "cancel", "suite enable"
	client func() (*api.Client, error)
}

// newClientCommand makes `xrdtest name`; usage is printed above the
// flags' defaults.
func newClientCommand(name, usage string, stdout, stderr io.Writer) *clientCommand {
	f := newFlags(name, usage, stdout, stderr)
	return &clientCommand{flags: f, name: name, client: clientFlags(f.FlagSet)}
}

// parse parses args, flags before, between or after the positional
// arguments, and returns the positional ones when there are from min to
// max of them (max < 0: no limit). ok false: the command ends with code,
// 0 after --help, 2 for bad arguments (the usage was printed).
func (c *clientCommand) parse(args []string, min, max int) (pos []string, code int, ok bool) {
	pos, code, ok = c.parseInterspersed(args)
	if !ok {
		return nil, code, false
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, c.usageError(), false
	}
	return pos, 0, true
}

// connect is parse, then the client of --master, --token and --ca (a
// bad --ca: status 1).
func (c *clientCommand) connect(args []string, min, max int) (pos []string, cl *api.Client, code int, ok bool) {
	if pos, code, ok = c.parse(args, min, max); !ok {
		return nil, nil, code, false
	}
	cl, err := c.client()
	if err != nil {
		return nil, nil, c.fail(1, err), false
	}
	return pos, cl, 0, true
}

// connectSession is connect for a command whose one positional argument
// is a session id.
func (c *clientCommand) connectSession(args []string) (id int64, cl *api.Client, code int, ok bool) {
	pos, cl, code, ok := c.connect(args, 1, 1)
	if !ok {
		return 0, nil, code, false
	}
	id, err := parseID(pos[0])
	if err != nil {
		return 0, nil, c.fail(2, err), false
	}
	return id, cl, 0, true
}

// fail prints err as the command's and returns status: 2 for bad
// arguments, 1 when the master refused or could not be reached.
func (c *clientCommand) fail(status int, err error) int {
	fmt.Fprintf(c.stderr, "xrdtest %s: %v\n", c.name, err)
	return status
}
