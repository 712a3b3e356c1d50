package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// runHoldRelease is `xrdtest hold release SESSION`.
func runHoldRelease(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("hold release", "usage: xrdtest hold release SESSION\n\nEnds the hold of a held session: it goes on as it would have (its finalize\nstages run, its logs are collected, its cluster is stopped).", stdout, stderr)
	id, c, code, ok := cmd.connectSession(args)
	if !ok {
		return code
	}
	if _, err := c.Release(ctx, id, who()); err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "session %d released: its finalize stages run, then its cluster stops\n", id)
	return 0
}

// runHoldExtend is `xrdtest hold extend SESSION DURATION`.
func runHoldExtend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("hold extend", "usage: xrdtest hold extend SESSION DURATION\n\nMoves the deadline of a held session by DURATION (e.g. 30m, 2h); a session\nis held at most [session] max_hold (default 4h) in all.", stdout, stderr)
	pos, c, code, ok := cmd.connect(args, 2, 2)
	if !ok {
		return code
	}
	id, err := parseID(pos[0])
	if err != nil {
		return cmd.fail(2, err)
	}
	d, err := time.ParseDuration(pos[1])
	if err != nil || d <= 0 {
		return cmd.fail(2, fmt.Errorf("%q is not a positive duration such as 30m or 2h", pos[1]))
	}
	r, err := c.Extend(ctx, id, d, who())
	if err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "session %d held until %s\n", id, r.Until.Local().Format("2006-01-02 15:04:05 MST"))
	return 0
}
