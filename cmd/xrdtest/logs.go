package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/console"
)

// runLogs is `xrdtest logs`: it prints the output of a session's stages,
// every slave's in turn; with -f it follows a running session until it
// ends.
func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("logs", "usage: xrdtest logs [-f] [--stage NAME] [--slave NAME] SESSION\n\nPrints the output of a session's stages, every slave's in turn.", stdout, stderr)
	follow := cmd.Bool("f", false, "follow the session while it runs")
	stageFilter := cmd.String("stage", "", "only this stage (name)")
	slaveFilter := cmd.String("slave", "", "only this slave")
	id, c, code, ok := cmd.connectSession(args)
	if !ok {
		return code
	}
	// The outputs are the scripts' text: on a terminal, their escape
	// sequences are shown, not obeyed.
	out := console.Safe(stdout)
	printed := map[string]bool{}
	for {
		d, err := c.Session(ctx, id)
		if err != nil {
			return cmd.fail(1, err)
		}
		for _, st := range d.Stages {
			if *stageFilter != "" && st.Name != *stageFilter {
				continue
			}
			for _, r := range st.Results {
				key := fmt.Sprintf("%d %s", st.Index, r.Slave)
				if printed[key] || (*slaveFilter != "" && r.Slave != *slaveFilter) || r.Status == api.StatusSkipped || r.Status == api.StatusPending {
					continue
				}
				if r.Status == api.StatusRunning && !*follow {
					continue
				}
				printed[key] = true
				fmt.Fprintf(stdout, "==> %s on %s <==\n", st.Name, r.Slave)
				if err := copyOutput(ctx, c, id, st.Index, r.Slave, *follow, out); err != nil {
					cmd.fail(1, err) // said; the other outputs are still printed
				}
				fmt.Fprintf(stdout, "<== %s on %s: %s\n\n", st.Name, r.Slave, r.Status)
			}
		}
		if !*follow || d.State.Finished() {
			return 0
		}
		select {
		case <-ctx.Done():
			return 1
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// copyOutput copies one slave's output of a stage to w as it arrives; a
// stage without output (yet) prints nothing.
func copyOutput(ctx context.Context, c *api.Client, id int64, stage int, slave string, follow bool, w io.Writer) error {
	out, err := c.Output(ctx, id, stage, slave, follow)
	if api.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer out.Close()
	_, err = io.Copy(w, out)
	return err
}
