package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/console"
)

// runRun is `xrdtest run`: it starts a session of a suite.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("run", "usage: xrdtest run [--wait] [--retries N] [--seed N] [--hold DURATION]\n                   SUITE [--case NAME]...\n\nStarts a session of SUITE on the master, all its test cases or those given.", stdout, stderr)
	wait := cmd.Bool("wait", false, "wait for the session to end, print what happened and exit non-zero unless it passed")
	retries := cmd.Int("retries", -1, "run a failed case again up to `N` times (init, run, finalize); a case passing only on a retry is flaky (default: the suite's ts.retries)")
	seed := cmd.Int64("seed", 0, "seed the suite's fault schedule (ts.faults) with `N`: the same seed, the same faults (default: its own seed)")
	hold := cmd.Duration("hold", 0, "at the first failed stage, hold the session before any finalize, its cluster up, for `DURATION` (e.g. 30m): look with `xrdtest shell`, then `xrdtest hold release` (default: the suite's ts.hold_on_failure)")
	var cases listFlag
	cmd.Var(&cases, "case", "run only this test case (repeatable)")
	pos, c, code, ok := cmd.connect(args, 1, 1)
	if !ok {
		return code
	}
	req := api.StartRequest{Suite: pos[0], Cases: cases, By: who()}
	if *retries >= 0 {
		req.Retries = retries
	}
	req.Seed = *seed
	if *hold < 0 {
		return cmd.fail(2, fmt.Errorf("--hold %s: a hold cannot be negative", *hold))
	}
	if *hold > 0 {
		req.Hold = hold.String()
	}
	s, err := c.StartWith(ctx, req)
	if err != nil {
		return cmd.fail(1, err)
	}
	only := ""
	if len(cases) > 0 {
		only = " (cases " + strings.Join(s.Cases, ", ") + ")"
	}
	fmt.Fprintf(stdout, "session %d of suite %s queued%s\n", s.ID, s.Suite, only)
	if !*wait {
		return 0
	}
	return waitAndPrint(ctx, c, s.ID, stdout, stderr)
}

// waitAndPrint follows session id's state until it ends, prints its
// summary and returns 0 if it passed, else 1.
func waitAndPrint(ctx context.Context, c *api.Client, id int64, stdout, stderr io.Writer) int {
	state := api.SessionState("")
	for {
		d, err := c.Session(ctx, id)
		if err != nil {
			fmt.Fprintf(stderr, "xrdtest: %v\n", err)
			return 1
		}
		if d.State != state && !d.State.Finished() {
			if d.State == api.SessionHeld {
				fmt.Fprintf(stdout, "session %d held until %s: its cluster is up as the failure left it (xrdtest shell %d HOST; xrdtest hold release %d)\n",
					id, d.HoldUntil.Local().Format("2006-01-02 15:04:05 MST"), id, id)
			} else {
				fmt.Fprintf(stdout, "session %d %s\n", id, d.State)
			}
			state = d.State
		}
		if d.State.Finished() {
			console.Summary(stdout, d)
			if d.State != api.SessionPassed {
				return 1
			}
			return 0
		}
		select {
		case <-ctx.Done():
			return 1
		case <-time.After(500 * time.Millisecond):
		}
	}
}
