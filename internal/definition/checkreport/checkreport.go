// Package checkreport is what `xrdtest check` prints about a set of
// loaded definitions: a text summary (Text: the clusters with their
// hosts, the suites with their next run, every warning and error, the
// totals) or one JSON document (JSON). The moment the next runs are
// computed from is the caller's, so the output can be reproduced.
package checkreport

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// suiteView adds what depends on the moment of the check to a suite.
type suiteView struct {
	*definition.Suite
	NextRun      *string  `json:"next_run"`
	StageTimeout *float64 `json:"stage_timeout"`
}

// nextRun is the suite's next run after now (RFC 3339), nil: never.
func nextRun(s *definition.Suite, now time.Time) *string {
	if s.Cron == nil {
		return nil
	}
	t := s.Cron.Next(now)
	if t.IsZero() {
		return nil
	}
	v := t.Format(time.RFC3339)
	return &v
}

// JSON writes the set as one indented JSON object: clusters, suites (with
// next_run and stage_timeout), warnings and errors.
func JSON(w io.Writer, set *definition.Set, now time.Time) error {
	out := struct {
		Clusters []*definition.Cluster  `json:"clusters"`
		Suites   []suiteView            `json:"suites"`
		Warnings definition.Diagnostics `json:"warnings"`
		Errors   definition.Diagnostics `json:"errors"`
	}{Clusters: set.Clusters, Suites: []suiteView{}, Warnings: set.Diagnostics.Warnings(), Errors: set.Diagnostics.Errors()}
	if out.Clusters == nil {
		out.Clusters = []*definition.Cluster{}
	}
	for _, s := range set.Suites {
		v := suiteView{Suite: s, NextRun: nextRun(s, now)}
		if s.StageTimeout > 0 {
			v.StageTimeout = &s.StageTimeout
		}
		out.Suites = append(out.Suites, v)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// Text writes the set as the summary `xrdtest check` prints.
func Text(w io.Writer, set *definition.Set, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	hosts, cases := 0, 0
	fmt.Fprintf(tw, "Clusters (%d)\n", len(set.Clusters))
	for _, c := range set.Clusters {
		n := c.Network
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, filepath.Join(c.Repo, c.File))
		fmt.Fprintf(tw, "    network %s\tgateway %s/%s, DHCP %s-%s, bridge %s\n", n.Name, n.IP, n.Netmask, n.DHCPRange[0], n.DHCPRange[1], n.BridgeName)
		for _, h := range c.Hosts {
			hosts++
			extra := ""
			if len(h.Aliases) > 0 {
				extra += " aliases " + strings.Join(h.Aliases, ",")
			}
			for _, d := range h.Disks {
				extra += fmt.Sprintf(" disk %s %s %s->%s", d.Name, bytesize(d.Size), d.Device, d.MountPoint)
				if !d.Cache {
					extra += " (fresh)"
				}
			}
			cache := ""
			if !h.CacheBootImage {
				cache = " (fresh copy)"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s%s%s\n", h.Name, h.IP, h.MAC, bytesize(h.RAMKiB*1024), h.Arch, h.BootImage, cache, extra)
		}
	}
	fmt.Fprintf(tw, "\nSuites (%d)\n", len(set.Suites))
	for _, s := range set.Suites {
		cases += len(s.Tests)
		names := make([]string, len(s.Tests))
		for i, t := range s.Tests {
			names[i] = t.Name
		}
		next := "never"
		if n := nextRun(s, now); n != nil {
			next = *n
		}
		fmt.Fprintf(tw, "  %s\t%s\n", s.Name, filepath.Join(s.Repo, s.File))
		fmt.Fprintf(tw, "    clusters\t%s\n", strings.Join(s.Clusters, ", "))
		fmt.Fprintf(tw, "    machines\t%s\n", strings.Join(s.Machines, ", "))
		fmt.Fprintf(tw, "    cases\t%s\n", strings.Join(names, ", "))
		fmt.Fprintf(tw, "    schedule\t%s (next run %s)\n", scheduleText(s.Schedule), next)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	warnings, errors := set.Diagnostics.Warnings(), set.Diagnostics.Errors()
	for _, group := range []struct {
		title string
		ds    definition.Diagnostics
	}{{"Warnings", warnings}, {"Errors", errors}} {
		if len(group.ds) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%d)\n", group.title, len(group.ds))
		for _, d := range group.ds {
			loc := filepath.Join(d.Repo, d.File)
			if d.Line > 0 {
				loc = fmt.Sprintf("%s:%d", loc, d.Line)
			}
			fmt.Fprintf(w, "  %s: %s\n", loc, d.Message)
		}
	}
	failed := ""
	if len(set.Failed) > 0 {
		var names []string
		for _, f := range set.Failed {
			names = append(names, f.Kind+" "+f.Name)
		}
		failed = "; not loaded: " + strings.Join(names, ", ")
	}
	_, err := fmt.Fprintf(w, "\n%s, %s, %s, %s; %s, %s%s\n",
		plural(len(set.Clusters), "cluster"), plural(hosts, "host"), plural(len(set.Suites), "suite"), plural(cases, "case"),
		plural(len(warnings), "warning"), plural(len(errors), "error"), failed)
	return err
}

// scheduleText shows a suite's schedule as the Python dict it was.
func scheduleText(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		if s, ok := m[k].(string); ok {
			parts[i] = fmt.Sprintf("%s=%q", k, s)
		} else {
			parts[i] = fmt.Sprintf("%s=%v", k, m[k])
		}
	}
	return "dict(" + strings.Join(parts, ", ") + ")"
}

// plural is "1 what" or "n whats".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// bytesize is n bytes in the largest unit that divides it.
func bytesize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for n >= 1024 && n%1024 == 0 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return fmt.Sprintf("%d %s", n, units[i])
}
