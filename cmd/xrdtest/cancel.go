package main

import (
	"context"
	"fmt"
	"io"
)

// runCancel is `xrdtest cancel SESSION`.
func runCancel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("cancel", "usage: xrdtest cancel SESSION\n\nCancels a session: its running stage is stopped, its finalize stages still run.", stdout, stderr)
	id, c, code, ok := cmd.connectSession(args)
	if !ok {
		return code
	}
	if _, err := c.Cancel(ctx, id, who()); err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "session %d: cancelling (finalize stages still run)\n", id)
	return 0
}
