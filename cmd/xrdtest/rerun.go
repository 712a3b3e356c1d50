package main

import (
	"context"
	"fmt"
	"io"
)

// runRerun is `xrdtest rerun SESSION`.
func runRerun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("rerun", "usage: xrdtest rerun [--wait] SESSION\n\nStarts a new session of the suite and test cases of SESSION, by the current\ndefinitions.", stdout, stderr)
	wait := cmd.Bool("wait", false, "wait for the new session to end, print what happened and exit non-zero unless it passed")
	id, c, code, ok := cmd.connectSession(args)
	if !ok {
		return code
	}
	s, err := c.Rerun(ctx, id, who())
	if err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "session %d of suite %s queued (re-run of session %d)\n", s.ID, s.Suite, id)
	if !*wait {
		return 0
	}
	return waitAndPrint(ctx, c, s.ID, stdout, stderr)
}
