package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
)

// runReload asks the master to fetch its git repositories and load the
// definitions again, and prints what it found. It exits 1 when a
// repository could not be fetched or a definition has errors (the master
// keeps the last good ones).
func runReload(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("reload", "usage: xrdtest reload [--json]\n\nFetches the master's git repositories now and loads the definitions again.\nRunning sessions keep the definitions they started with. Exits 1 when a\nrepository could not be fetched or a definition has errors.", stdout, stderr)
	asJSON := cmd.Bool("json", false, "print the master's report as JSON")
	_, c, code, ok := cmd.connect(args, 0, 0)
	if !ok {
		return code
	}
	rep, err := c.Reload(ctx, who())
	if err != nil {
		return cmd.fail(1, err)
	}
	if *asJSON {
		printJSON(stdout, rep)
	} else {
		printReload(stdout, rep)
	}
	if len(rep.Errors) > 0 {
		return 1
	}
	return 0
}

func printReload(w io.Writer, rep *api.ReloadReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rep.Repos {
		from := r.Path
		if r.Type == "git" {
			from = r.Branch + " of " + r.Remote
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Type, r.Revision, from)
		if r.Error != "" {
			fmt.Fprintf(tw, "  not updated: %s\n", r.Error)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "%d clusters, %d suites loaded at %s; %d errors, %d warnings\n",
		rep.Clusters, rep.Suites, rep.Loaded.Local().Format(time.DateTime), len(rep.Errors), len(rep.Warnings))
	for _, list := range []struct {
		kind string
		ps   []api.Problem
	}{{"error", rep.Errors}, {"warning", rep.Warnings}} {
		for _, p := range list.ps {
			where := p.Repo + ":" + p.File
			if p.Line > 0 {
				where += fmt.Sprintf(":%d", p.Line)
			}
			fmt.Fprintf(w, "  %s: %s: %s\n", where, list.kind, p.Message)
		}
	}
}
