package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/console"
)

// runCases is `xrdtest cases SUITE [CASE]`: how the suite's cases fared
// over the recent history, or one case with its recent failures.
func runCases(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("cases", "usage: xrdtest cases [--json] SUITE [CASE]\n\n"+
		"Every test case of SUITE over its recent history: runs, failures and\n"+
		"pass rate over the last 30 days and the last 50 sessions; flaky when it\n"+
		"both passed and failed on one definitions revision; the trend (newest\n"+
		"first: + passed, x failed) and its failure fingerprints. With CASE: that\n"+
		"case per host, its fingerprints and its recent failures.", stdout, stderr)
	asJSON := cmd.Bool("json", false, "print the master's answer as JSON")
	pos, c, code, ok := cmd.connect(args, 1, 2)
	if !ok {
		return code
	}
	var v any
	var err error
	if len(pos) == 1 {
		v, err = c.Cases(ctx, pos[0])
	} else {
		v, err = c.Case(ctx, pos[0], pos[1])
	}
	if err != nil {
		return cmd.fail(1, err)
	}
	if *asJSON {
		printJSON(stdout, v)
		return 0
	}
	w := console.Safe(stdout)
	switch v := v.(type) {
	case *api.CasesView:
		printCases(w, v)
	case *api.CaseView:
		printCase(w, v)
	}
	return 0
}

func percent(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", *p*100)
}

// trendText is the trend strip as text, newest first.
func trendText(runs []api.CaseRun) string {
	var b strings.Builder
	for _, r := range runs {
		if r.Status == api.StatusPassed {
			b.WriteByte('+')
		} else {
			b.WriteByte('x')
		}
	}
	return b.String()
}

func flakyText(c api.CaseStats) string {
	var out []string
	if c.Flaky {
		out = append(out, "flaky")
	}
	if c.Quarantine != nil {
		out = append(out, "quarantined")
	}
	return strings.Join(out, ",")
}

func printCases(w io.Writer, v *api.CasesView) {
	fmt.Fprintf(w, "suite %s: %d cases, last %d days and last %d sessions\n", v.Suite, len(v.Cases), v.Days, v.Last)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "CASE\tRUNS\tFAILED\tPASS %dd\tPASS LAST %d\tFLAKY\tFINGERPRINTS\tTREND\n", v.Days, v.Last)
	for _, c := range v.Cases {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%d\t%s\n", c.Name, c.Runs, c.Failures, percent(c.PassRate), percent(c.Recent.PassRate),
			flakyText(c), len(c.Fingerprints), trendText(c.Trend))
	}
	tw.Flush()
}

func printCase(w io.Writer, v *api.CaseView) {
	c := v.CaseStats
	fmt.Fprintf(w, "case %s of suite %s: %d runs, %d failed, pass rate %s (last %d days), %s (last %d sessions)\n",
		c.Name, v.Suite, c.Runs, c.Failures, percent(c.PassRate), v.Days, percent(c.Recent.PassRate), v.Last)
	if q := c.Quarantine; q != nil {
		fmt.Fprintf(w, "quarantined until %s by %s: %s\n", q.Until.Local().Format(time.DateTime), q.By, q.Reason)
	}
	if len(c.FlakyRevisions) > 0 {
		fmt.Fprintf(w, "flaky: passed and failed on revision %s\n", strings.Join(c.FlakyRevisions, ", "))
	}
	if c.PassedOnRetry > 0 {
		fmt.Fprintf(w, "flaky: passed only on a retry in %d runs\n", c.PassedOnRetry)
	}
	fmt.Fprintf(w, "trend: %s\n", trendText(c.Trend))
	if r := v.Regression; r != nil {
		fmt.Fprintf(w, "failing since session %d (%s, revision %s)", r.FirstBad.Session, r.FirstBad.Created.Local().Format(time.DateTime), r.FirstBad.Revision)
		if r.LastGood != nil {
			fmt.Fprintf(w, "; last passed in session %d (%s, revision %s)", r.LastGood.Session, r.LastGood.Created.Local().Format(time.DateTime), r.LastGood.Revision)
		}
		fmt.Fprintln(w)
		if r.ChangesError != "" {
			fmt.Fprintf(w, "  what changed is not known: %s\n", r.ChangesError)
		}
		for _, rc := range r.Changes {
			if rc.Files != nil {
				fmt.Fprintf(w, "  %s %s..%s: %d of the suite's files changed\n", rc.Repo, rc.From, rc.To, len(rc.Files))
				for _, f := range rc.Files {
					fmt.Fprintf(w, "    %-8s %s\n", f.Change, f.Path)
				}
				continue
			}
			fmt.Fprintf(w, "  %s %s..%s: %d commits touching the suite's files\n", rc.Repo, rc.From, rc.To, len(rc.Commits))
			if rc.Note != "" {
				fmt.Fprintf(w, "    %s\n", rc.Note)
			}
			for _, cm := range rc.Commits {
				fmt.Fprintf(w, "    %.12s %s (%s)\n", cm.Hash, cm.Subject, cm.Author)
			}
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "HOST\tRUNS %dd\tFAILED\tPASS\tRUNS LAST %d\tFAILED\tPASS\n", v.Days, v.Last)
	for _, h := range c.Hosts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%s\n", h.Host, h.Days.Runs, h.Days.Failures, percent(h.Days.PassRate),
			h.Recent.Runs, h.Recent.Failures, percent(h.Recent.PassRate))
	}
	tw.Flush()
	for _, f := range c.Fingerprints {
		fmt.Fprintf(w, "\nfingerprint %s: %d failures in %d sessions, sessions %d (%s) to %d (%s), hosts %s\n",
			f.ID, f.Count, f.Sessions, f.First.ID, f.First.Created.Local().Format(time.DateTime),
			f.Last.ID, f.Last.Created.Local().Format(time.DateTime), strings.Join(f.Hosts, ", "))
		for _, l := range strings.Split(f.Text, "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
		fmt.Fprintf(w, "  latest: session %d, stage %d on %s\n", f.Sample.Session, f.Sample.Stage, f.Sample.Slave)
	}
	if len(v.RecentFailures) > 0 {
		fmt.Fprintf(w, "\nrecent failures\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range v.RecentFailures {
			status := string(f.Status)
			if f.ExitCode != nil {
				status = fmt.Sprintf("exit %d", *f.ExitCode)
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", f.Session, f.Created.Local().Format(time.DateTime), f.StageName, f.Slave, status, f.Fingerprint)
		}
		tw.Flush()
	}
}
