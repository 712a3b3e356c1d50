package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/xrdtest/xrdtest/internal/slave/syncsock"
)

// syncUsages are the usages of `xrdtest sync barrier|signal|wait`.
var syncUsages = map[string]string{
	"barrier": "usage: xrdtest sync barrier [--timeout D] NAME\n\nIn a stage script: waits until every slave of the stage reached the barrier\nNAME.",
	"signal":  "usage: xrdtest sync signal NAME\n\nIn a stage script: counts a signal of NAME.",
	"wait":    "usage: xrdtest sync wait [--count N] [--timeout D] NAME\n\nIn a stage script: waits for N signals of NAME.",
}

// runSync is `xrdtest sync op`, called by stage scripts to synchronise
// with the other slaves of their session, through their slave and the
// master.
func runSync(op string) runFunc {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := newFlags("sync "+op, syncUsages[op]+"\n\nNames are scoped to the session. A call that can never complete (a slave\nfinished its stage or was lost) fails at once, naming it.", stdout, stderr)
		// --count is taken by every operation, as it always was.
		count := fs.Int64("count", 1, "for wait: how many signals to wait for")
		timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
		if code, ok := fs.parse(args); !ok {
			return code
		}
		if fs.NArg() != 1 {
			return fs.usageError()
		}
		cctx, cancel := context.WithTimeout(ctx, *timeout+10*time.Second)
		defer cancel()
		if err := syncsock.Call(cctx, op, fs.Arg(0), *count, *timeout); err != nil {
			fmt.Fprintf(stderr, "xrdtest sync %s %s: %v\n", op, fs.Arg(0), err)
			return 1
		}
		return 0
	}
}
