package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/xrdtest/xrdtest/internal/api"
)

// runSuiteList is `xrdtest suite list`.
func runSuiteList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("suite list", "usage: xrdtest suite list\n\nLists the suites with their schedule: enabled or not, and the next run.", stdout, stderr)
	_, c, code, ok := cmd.connect(args, 0, 0)
	if !ok {
		return code
	}
	suites, err := c.Suites(ctx)
	if err != nil {
		return cmd.fail(1, err)
	}
	runs, err := c.Schedule(ctx)
	if err != nil {
		return cmd.fail(1, err)
	}
	byName := map[string]api.NextRun{}
	for _, r := range runs {
		byName[r.Suite] = r
	}
	slices.SortFunc(suites, func(a, b api.Suite) int { return strings.Compare(a.Name, b.Name) })
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

// runSuiteEnable is `xrdtest suite enable NAME`, or with on false
// `xrdtest suite disable NAME`.
func runSuiteEnable(on bool) runFunc {
	verb := map[bool]string{true: "enable", false: "disable"}[on]
	usage := map[bool]string{
		true:  "usage: xrdtest suite enable NAME\n\nEnables a suite's schedule: it runs at its next scheduled time.",
		false: "usage: xrdtest suite disable NAME\n\nDisables a suite's schedule (a disabled suite can still be run by hand).",
	}[on]
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		cmd := newClientCommand("suite "+verb, usage, stdout, stderr)
		pos, c, code, ok := cmd.connect(args, 1, 1)
		if !ok {
			return code
		}
		if _, err := c.SetEnabled(ctx, pos[0], on, who()); err != nil {
			return cmd.fail(1, err)
		}
		fmt.Fprintf(stdout, "suite %s %sd\n", pos[0], verb)
		return 0
	}
}
