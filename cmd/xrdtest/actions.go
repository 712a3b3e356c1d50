package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/store"
)

// parseInterspersed parses flags placed before, between and after the
// positional arguments (`run SUITE --case X`), which flag.Parse alone
// stops at; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// who is the user name actions are recorded with (a hint: the master
// knows only that the API token was given).
func who() map[string]any { return map[string]any{"by": os.Getenv("USER")} }

func runRerun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("rerun", "usage: xrdtest rerun [--wait] SESSION\n\nStarts a new session of the suite and test cases of SESSION, by the current definitions.", stderr)
	wait := cmd.fs.Bool("wait", false, "wait for the new session to end, print what happened and exit non-zero unless it passed")
	id, ok := cmd.sessionArg(args)
	if !ok {
		return 2
	}
	c := cmd.client()
	var s store.Session
	if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/sessions/%d/rerun", id), who(), &s); err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "session %d of suite %s queued (re-run of session %d)\n", s.ID, s.Suite, id)
	if !*wait {
		return 0
	}
	return waitAndPrint(ctx, c, s.ID, stdout, stderr)
}

// runCluster is `xrdtest cluster stop NAME`.
func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("cluster stop", "usage: xrdtest cluster stop NAME\n\nStops a cluster's machines (refused while a session uses the cluster).", stderr)
	pos, ok := cmd.parse(args, 2, 2)
	if !ok {
		return 2
	}
	if pos[0] != "stop" {
		cmd.fs.Usage()
		return 2
	}
	name := pos[1]
	if err := cmd.client().do(ctx, http.MethodPost, "/api/v1/clusters/"+url.PathEscape(name)+"/stop", who(), nil); err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "cluster %s stopped\n", name)
	return 0
}

// runSuite is `xrdtest suite list|enable NAME|disable NAME`.
func runSuite(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("suite", "usage: xrdtest suite list\n       xrdtest suite enable NAME\n       xrdtest suite disable NAME\n\nLists the suites with their schedule, or enables or disables a suite's schedule\n(a disabled suite can still be run by hand).", stderr)
	pos, ok := cmd.parse(args, 1, 2)
	if !ok {
		return 2
	}
	cmd.name = "suite " + pos[0]
	switch {
	case len(pos) == 1 && pos[0] == "list":
		return suiteList(ctx, cmd, stdout)
	case len(pos) == 2 && (pos[0] == "enable" || pos[0] == "disable"):
		name, on := pos[1], pos[0] == "enable"
		body := who()
		body["enabled"] = on
		if err := cmd.client().do(ctx, http.MethodPost, "/api/v1/suites/"+url.PathEscape(name)+"/enabled", body, nil); err != nil {
			return cmd.fail(1, err)
		}
		fmt.Fprintf(stdout, "suite %s %sd\n", name, pos[0])
		return 0
	}
	cmd.fs.Usage()
	return 2
}

func suiteList(ctx context.Context, cmd *clientCommand, stdout io.Writer) int {
	c := cmd.client()
	type suite struct {
		Name  string   `json:"name"`
		Cases []string `json:"cases"`
	}
	var suites []suite
	var runs []scheduler.NextRun
	if err := c.do(ctx, http.MethodGet, "/api/v1/suites", nil, &suites); err != nil {
		return cmd.fail(1, err)
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/schedule", nil, &runs); err != nil {
		return cmd.fail(1, err)
	}
	byName := map[string]scheduler.NextRun{}
	for _, r := range runs {
		byName[r.Suite] = r
	}
	slices.SortFunc(suites, func(a, b suite) int { return strings.Compare(a.Name, b.Name) })
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tENABLED\tNEXT RUN\tCASES")
	for _, s := range suites {
		r, ok := byName[s.Name]
		enabled, next := "no", "-"
		switch {
		case !ok:
			enabled = "?"
		case !r.SuiteEnabled:
		case !r.Enabled:
			enabled, next = "yes", "- (the scheduler is off)"
		case r.Next.IsZero():
			enabled, next = "yes", "never"
		default:
			enabled, next = "yes", r.Next.Local().Format("2006-01-02 15:04 MST")
			if r.Pending {
				next += " (a run is queued)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, enabled, next, strings.Join(s.Cases, " "))
	}
	tw.Flush()
	return 0
}
