package catalog

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/xrdtest/xrdtest/internal/api"
)

// ParseRevision splits a session's definitions revision
// ("suites@3e44039a...,clusters@sha256:...") by repository name. A
// repository named twice (an old suite kept on a newer cluster) keeps its
// first revision: the suite's.
func ParseRevision(rev string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(rev, ",") {
		if name, r, ok := strings.Cut(part, "@"); ok && name != "" {
			if _, seen := out[name]; !seen {
				out[name] = r
			}
		}
	}
	return out
}

// Changes tells what changed in a suite's files (its folder, its clusters'
// files) between two definitions revisions of sessions, per repository
// whose revision differs: for a git repository the commits and their diff,
// for a localfs one the files added, removed or modified (from the
// manifests the catalog kept).
func (c *Catalog) Changes(ctx context.Context, suite, from, to string) ([]api.RepoChanges, error) {
	s := c.Definitions().Suite(suite)
	if s == nil {
		return nil, fmt.Errorf("suite %s is not loaded: its files are not known", suite)
	}
	paths := map[string][]string{s.RepoName: {s.Dir}}
	for _, name := range s.Clusters {
		if cl := c.Definitions().Cluster(name); cl != nil {
			paths[cl.RepoName] = append(paths[cl.RepoName], cl.File)
		}
	}
	configured := map[string]bool{}
	for _, r := range c.cfg.Repos {
		configured[r.Name] = true
	}
	before, after := ParseRevision(from), ParseRevision(to)
	var out []api.RepoChanges
	for _, name := range sortedKeys(after) {
		old, now := before[name], after[name]
		if old == now || (paths[name] == nil && configured[name]) {
			continue
		}
		rc := api.RepoChanges{Repo: name, From: old, To: now, Commits: []api.Commit{}}
		c.mu.Lock()
		g := c.git[name]
		c.mu.Unlock()
		switch {
		case !configured[name]:
			rc.Note = "the repository is no longer configured"
		case old == "":
			rc.Note = "the repository was not in the earlier revision"
		case g == nil:
			files, err := c.localChanges(name, old, now, cleanPaths(paths[name]))
			if err != nil {
				return nil, fmt.Errorf("repository %s: %w", name, err)
			}
			if files == nil {
				rc.Note = "the file lists of these localfs revisions were not both kept: which files changed is not known"
			} else {
				rc.Files = files
			}
		default:
			ch, err := g.Git.Changes(ctx, old, now, cleanPaths(paths[name]))
			if err != nil {
				return nil, fmt.Errorf("repository %s: %w", name, err)
			}
			for _, cm := range ch.Commits {
				rc.Commits = append(rc.Commits, api.Commit{Hash: cm.Hash, Author: cm.Author, Date: cm.Date, Subject: cm.Subject})
			}
			rc.Diff, rc.Truncated = ch.Diff, ch.Truncated
		}
		out = append(out, rc)
	}
	return out, nil
}

// localChanges compares the manifests of two revisions of a localfs
// repository over paths; nil when one of them was not kept.
func (c *Catalog) localChanges(repo, from, to string, paths []string) ([]api.FileChange, error) {
	before, err := c.readManifest(repo, from)
	if err != nil || before == nil {
		return nil, err
	}
	after, err := c.readManifest(repo, to)
	if err != nil || after == nil {
		return nil, err
	}
	return append([]api.FileChange{}, fileChanges(before, after, paths)...), nil
}

func cleanPaths(ps []string) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, path.Clean(strings.ReplaceAll(p, "\\", "/")))
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
