package console

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
)

// Summary prints a session as a matrix: one row per stage, one
// column per slave, each cell the status (and exit code when it failed).
func Summary(w io.Writer, d *api.SessionDetail) {
	s := d.Session
	dur := ""
	if !s.Started.IsZero() && !s.Ended.IsZero() {
		dur = " in " + s.Ended.Sub(s.Started).Round(10*time.Millisecond).String()
	}
	if s.State == api.SessionHeld && !s.HoldUntil.IsZero() {
		dur = " until " + s.HoldUntil.Local().Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(w, "session %d  suite %s  %s%s\n", s.ID, s.Suite, strings.ToUpper(string(s.State)), dur)
	if s.Reason != "" {
		fmt.Fprintf(w, "  %s\n", s.Reason)
	}
	if len(d.Stages) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "  stage")
	for _, m := range s.Machines {
		fmt.Fprintf(tw, "\t%s", m)
	}
	fmt.Fprintln(tw)
	for _, st := range d.Stages {
		fmt.Fprintf(tw, "  %s", st.Name)
		for _, m := range s.Machines {
			fmt.Fprintf(tw, "\t%s", cell(st.Results, m))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// cell is the cell of slave in a stage of results: its status, exit code
// and duration, "-" when the stage did not run there.
func cell(results []*api.Result, slave string) string {
	for _, r := range results {
		if r.Slave != slave {
			continue
		}
		c := string(r.Status)
		if r.ExitCode != nil && *r.ExitCode != 0 {
			c += fmt.Sprintf(" (exit %d)", *r.ExitCode)
		}
		if !r.Start.IsZero() && !r.End.IsZero() && r.Status != api.StatusSkipped {
			c += " " + r.End.Sub(r.Start).Round(time.Millisecond).String()
		}
		return c
	}
	return "-"
}
