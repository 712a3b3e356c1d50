package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/xrdtest/xrdtest/internal/slave/syncsock"
)

// runSync is `xrdtest sync`, called by stage scripts to synchronise with
// the other slaves of their session, through their slave and the master.
func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int64("count", 1, "for wait: how many signals to wait for")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: xrdtest sync barrier NAME
       xrdtest sync signal NAME
       xrdtest sync wait [--count N] NAME

In a stage script: barrier waits until every slave of the stage reached
the barrier NAME; signal counts a signal of NAME; wait waits for N signals
of NAME. Names are scoped to the session. A call that can never complete
(a slave finished its stage or was lost) fails at once, naming it.`)
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	op := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if (op != "barrier" && op != "signal" && op != "wait") || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cctx, cancel := context.WithTimeout(ctx, *timeout+10*time.Second)
	defer cancel()
	if err := syncsock.Call(cctx, op, fs.Arg(0), *count, *timeout); err != nil {
		fmt.Fprintf(stderr, "xrdtest sync %s %s: %v\n", op, fs.Arg(0), err)
		return 1
	}
	return 0
}
