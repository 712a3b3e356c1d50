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
	fs := flag.NewFlagSet("rerun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := clientFlags(fs)
	wait := fs.Bool("wait", false, "wait for the new session to end, print what happened and exit non-zero unless it passed")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xrdtest rerun [--wait] SESSION\n\nStarts a new session of the suite and test cases of SESSION, by the current definitions.")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	id, err := parseID(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "xrdtest rerun: %v\n", err)
		return 2
	}
	c := client()
	var s store.Session
	if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/sessions/%d/rerun", id), who(), &s); err != nil {
		fmt.Fprintf(stderr, "xrdtest rerun: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "session %d of suite %s queued (re-run of session %d)\n", s.ID, s.Suite, id)
	if !*wait {
		return 0
	}
	return waitAndPrint(ctx, c, s.ID, stdout, stderr)
}

// runCluster is `xrdtest cluster stop NAME`.
func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := clientFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xrdtest cluster stop NAME\n\nStops a cluster's machines (refused while a session uses the cluster).")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 || pos[0] != "stop" {
		fs.Usage()
		return 2
	}
	name := pos[1]
	if err := client().do(ctx, http.MethodPost, "/api/v1/clusters/"+url.PathEscape(name)+"/stop", who(), nil); err != nil {
		fmt.Fprintf(stderr, "xrdtest cluster stop: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "cluster %s stopped\n", name)
	return 0
}

// runSuite is `xrdtest suite list|enable NAME|disable NAME`.
func runSuite(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := clientFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xrdtest suite list\n       xrdtest suite enable NAME\n       xrdtest suite disable NAME\n\nLists the suites with their schedule, or enables or disables a suite's schedule\n(a disabled suite can still be run by hand).")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	c := client()
	switch {
	case len(pos) == 1 && pos[0] == "list":
		return suiteList(ctx, c, stdout, stderr)
	case len(pos) == 2 && (pos[0] == "enable" || pos[0] == "disable"):
		name, on := pos[1], pos[0] == "enable"
		body := who()
		body["enabled"] = on
		if err := c.do(ctx, http.MethodPost, "/api/v1/suites/"+url.PathEscape(name)+"/enabled", body, nil); err != nil {
			fmt.Fprintf(stderr, "xrdtest suite %s: %v\n", pos[0], err)
			return 1
		}
		fmt.Fprintf(stdout, "suite %s %sd\n", name, pos[0])
		return 0
	}
	fs.Usage()
	return 2
}

func suiteList(ctx context.Context, c *apiClient, stdout, stderr io.Writer) int {
	type suite struct {
		Name  string   `json:"name"`
		Cases []string `json:"cases"`
	}
	var suites []suite
	var runs []scheduler.NextRun
	if err := c.do(ctx, http.MethodGet, "/api/v1/suites", nil, &suites); err != nil {
		fmt.Fprintf(stderr, "xrdtest suite list: %v\n", err)
		return 1
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/schedule", nil, &runs); err != nil {
		fmt.Fprintf(stderr, "xrdtest suite list: %v\n", err)
		return 1
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
