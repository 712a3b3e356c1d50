package main

import (
	"context"
	"fmt"
	"io"
)

// runClusterStop is `xrdtest cluster stop NAME`.
func runClusterStop(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("cluster stop", "usage: xrdtest cluster stop NAME\n\nStops a cluster's machines (refused while a session uses the cluster).", stdout, stderr)
	pos, c, code, ok := cmd.connect(args, 1, 1)
	if !ok {
		return code
	}
	if _, err := c.StopCluster(ctx, pos[0], who()); err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "cluster %s stopped\n", pos[0])
	return 0
}
