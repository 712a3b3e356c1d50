package repo

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Commit is one commit of a Changes.
type Commit struct {
	Hash    string
	Author  string
	Date    time.Time
	Subject string
}

// Changes is what changed in some paths between two revisions.
type Changes struct {
	Commits []Commit // newest first
	Diff    string
	// Truncated: the diff was longer than MaxDiff and was cut.
	Truncated bool
}

// MaxDiff caps the diff a Changes holds: what a page shows.
const MaxDiff = 256 << 10

var hexRev = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// Changes returns the commits from from (excluded) to to (included) that
// touch paths (relative to the checkout; none: everything), newest first,
// and the diff of paths between the two. Both must be commit ids: they
// come from the history, and are never taken as options or ranges.
func (g *Git) Changes(ctx context.Context, from, to string, paths []string) (*Changes, error) {
	if !hexRev.MatchString(from) || !hexRev.MatchString(to) {
		return nil, fmt.Errorf("not commit ids: %q, %q", from, to)
	}
	tail := append([]string{"--"}, paths...)
	out, err := g.run(ctx, g.Dir, append([]string{"log", "--format=%H%x1f%an%x1f%aI%x1f%s", from + ".." + to}, tail...)...)
	if err != nil {
		return nil, err
	}
	c := &Changes{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\x1f")
		if len(f) != 4 {
			continue
		}
		d, _ := time.Parse(time.RFC3339, f[2])
		c.Commits = append(c.Commits, Commit{Hash: f[0], Author: f[1], Date: d, Subject: f[3]})
	}
	diff, err := g.run(ctx, g.Dir, append([]string{"diff", "--no-color", "--no-ext-diff", from, to}, tail...)...)
	if err != nil {
		return nil, err
	}
	if len(diff) > MaxDiff {
		diff, c.Truncated = diff[:MaxDiff], true
	}
	c.Diff = diff
	return c, nil
}
