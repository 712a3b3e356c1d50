package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/console"
)

// runStatus is `xrdtest status [SESSION]`.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("status", "usage: xrdtest status [SESSION]\n\nWithout SESSION: connected daemons and recent sessions; with it: that session.", stdout, stderr)
	limit := cmd.Int("n", 10, "how many recent sessions to list")
	pos, code, ok := cmd.parse(args, 0, 1)
	if !ok {
		return code
	}
	var id int64
	if len(pos) == 1 {
		var err error
		if id, err = parseID(pos[0]); err != nil {
			return cmd.fail(2, err)
		}
	}
	c, err := cmd.client()
	if err != nil {
		return cmd.fail(1, err)
	}
	if id != 0 {
		d, err := c.Session(ctx, id)
		if err != nil {
			return cmd.fail(1, err)
		}
		console.Summary(stdout, d)
		// The faults set on its hosts, as the session recorded them.
		if v, err := c.SessionView(ctx, id); err == nil {
			first := true
			for _, e := range v.Events {
				if e.Kind != "fault" {
					continue
				}
				if first {
					fmt.Fprintln(stdout, "  faults:")
					first = false
				}
				fmt.Fprintf(console.Safe(stdout), "    %s  %s\n", e.Time.Local().Format(time.TimeOnly), e.Message)
			}
		}
		return 0
	}
	daemons, err := c.Daemons(ctx)
	if err != nil {
		return cmd.fail(1, err)
	}
	list, err := c.Sessions(ctx, api.SessionFilter{Limit: *limit})
	if err != nil {
		return cmd.fail(1, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Daemons (%d)\n", len(daemons))
	for _, d := range daemons {
		stage := "idle"
		if d.Stage != "" {
			stage = fmt.Sprintf("%s (session %d)", d.Stage, d.Session)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s since %s\t%s\n", d.Role, d.Name, d.Address, d.State, d.Since.Local().Format(time.DateTime), stage)
	}
	fmt.Fprintf(tw, "\nSessions (%d of %d)\n", len(list.Sessions), list.Total)
	for _, s := range list.Sessions {
		state := string(s.State)
		if s.State == api.SessionHeld {
			state += " until " + s.HoldUntil.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", s.ID, s.Suite, state, s.Created.Local().Format(time.DateTime), s.Reason)
	}
	tw.Flush()
	return 0
}
