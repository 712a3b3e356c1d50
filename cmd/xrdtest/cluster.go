package main

import (
	"context"
	"fmt"
	"io"
)

// runClusterStop is `xrdtest cluster stop NAME`.
func runClusterStop(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("cluster stop", "usage: xrdtest cluster stop NAME\n\nStops a cluster's machines (refused while a session uses the cluster).", stdout, stderr)
	pos, code, ok := cmd.parse(args, 1, 1)
	if !ok {
		return code
	}
	c, err := cmd.client()
	if err != nil {
		return cmd.fail(1, err)
	}
	if _, err := c.StopCluster(ctx, pos[0], who()); err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "cluster %s stopped\n", pos[0])
	return 0
}
